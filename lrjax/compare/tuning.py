"""Comparing strategies at tuned rates, on any model: :func:`compare`.

Each strategy's rate is tuned with :func:`lrjax.sweep` (successive halving
over a log grid around the row's hand-set rate, selecting on the validation
metric), then the chosen rate is re-run on fresh seeds, and those runs are
evaluated on the test split: the numbers the table reports. Both phases train
populations (rates x seeds) as one compiled, ``jax.vmap``-batched scan.

The model, the loss and the metric are the caller's, so this works for
classification and regression alike; ``lrjax compare`` calls it with a
network of :mod:`lrjax.compare.models` and the cross-entropy and accuracy.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax._validation import check_one_of
from lrjax.compare.report import StrategyResult
from lrjax.compare.training import Curves
from lrjax.control.range_test import find_learning_rate
from lrjax.tune import StrategyRuns, sweep
from lrjax.tune.catalogue import STRATEGIES, Context, Plan, Strategy, select
from lrjax.tune.search import rung_steps

__all__ = [
    "DEFAULT_STRATEGIES",
    "check_count",
    "RANGE_TEST_STEPS",
    "RATE_DECADES",
    "RATE_POINTS",
    "compare",
    "min_tuning_steps",
    "rate_grid",
    "resolve_strategies",
]

# The default selection: every family, 13 rows (``lrjax compare`` without
# --strategies); "all" selects every row.
DEFAULT_STRATEGIES = (
    "constant", "nesterov", "step", "cosine", "warmup-stable-decay", "one-cycle",
    "cosine-restarts", "adam", "adamw", "reduce-on-plateau",
    "schedule-free-adamw", "prodigy", "ema-weights",
)  # fmt: skip
# The tuning grid: RATE_POINTS rates log-spaced over RATE_DECADES decades
# around each row's hand-set rate (1.5 decades either side: the hand-set
# rates are good guesses, and 9 points are 3**2, two halving rungs at eta 3).
RATE_POINTS = 9
RATE_DECADES = (-1.5, 1.5)
RANGE_TEST_STEPS = 100

# A pytree of arrays with a leading example axis (or one such array).
Tree = Any


def rate_grid(rate: float, points: int = RATE_POINTS) -> np.ndarray:
    """``points`` rates log-spaced over :data:`RATE_DECADES` around ``rate``
    (just ``[rate]`` for one point).

    Examples:
        >>> import lrjax.compare
        >>> lrjax.compare.rate_grid(0.1, 3)  # 0.1 * 10**-1.5, 0.1, 0.1 * 10**1.5
        array([0.00316228, 0.1       , 3.16227766])
        >>> lrjax.compare.rate_grid(0.1, 1)
        array([0.1])
    """
    if points == 1:
        return np.array([float(rate)])
    low, high = RATE_DECADES
    return float(rate) * 10.0 ** np.linspace(low, high, points)


def resolve_strategies(strategies: Sequence[str | Strategy] | None) -> list[Strategy]:
    """Rows of the comparison: ``None`` for :data:`DEFAULT_STRATEGIES`,
    ``["all"]`` for every row, else names, family names or :class:`Strategy`
    rows of your own (kept as given, after the named ones in table order)."""
    if strategies is None:
        return select(list(DEFAULT_STRATEGIES))
    given = strategies
    if isinstance(strategies, str):
        strategies = [strategies]
    if not strategies:
        raise ValueError(
            f"strategies must name at least one row (or be None for the "
            f"default selection), got {given!r}."
        )
    own = [s for s in strategies if isinstance(s, Strategy)]
    names = [s for s in strategies if not isinstance(s, Strategy)]
    rows = [*STRATEGIES, *own] if "all" in names else [*(select(names) if names else []), *own]  # fmt: skip
    seen: set[str] = set()
    for row in rows:
        if row.name in seen:
            shown = ", ".join(
                f"Strategy({s.name!r}, ...)" if isinstance(s, Strategy) else repr(s)
                for s in strategies
            )
            raise ValueError(
                f"strategies must have distinct names: {row.name!r} names two "
                f"selected rows (strategies=[{shown}]); rename your Strategy row."
            )
        seen.add(row.name)
    return rows


def check_count(name: str, value: Any, least: int = 1) -> None:
    """Requires a Python or NumPy integer ``>= least`` (``TypeError`` for
    another type, ``ValueError`` below ``least``), naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):  # fmt: skip
        raise TypeError(
            f"{name} must be an integer >= {least}, got {value!r} of type "
            f"{type(value).__name__}."
        )
    if value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}.")


def min_tuning_steps(method: str, rate_points: int, eta: int = 3) -> int:
    """The fewest training steps (``epochs x steps per epoch``) :func:`compare`
    tunes with: 2 for ``"pbt"`` (an exploit step before the end), for
    ``"halving"`` ``eta**K`` with ``K`` halving's rungs before the last
    (the smallest ``K`` with ``eta**K >= rate_points``, at most 2: rungs at
    ``steps // eta**2`` and ``steps // eta``; fewer steps would drop a rung),
    1 for ``"grid"``.

    Examples:
        >>> import lrjax.compare.tuning as t
        >>> t.min_tuning_steps("halving", 9, 3), t.min_tuning_steps("halving", 3, 3)
        (9, 3)
        >>> t.min_tuning_steps("pbt", 9), t.min_tuning_steps("grid", 9)
        (2, 1)
    """
    if method == "pbt":
        return 2
    if method != "halving":
        return 1
    k = 0
    while eta**k < rate_points and k < 2:
        k += 1
    return eta**k


def _size(tree: Tree) -> int:
    return int(np.shape(jax.tree_util.tree_leaves(tree)[0])[0])


def make_range_test(
    init_fn: Callable[[jax.Array], Any],
    loss_fn: Callable[[Any, Tree], jax.Array],
    train: Tree,
    plan: Plan,
    notes: list[str],
    picked: list[float],
) -> Callable[[Callable[[Any], Any]], float]:
    """``find_rate`` for :class:`Context`: a range test (1e-4 to 10) on seed 0's
    initial weights and its first :data:`RANGE_TEST_STEPS` batches; appends
    the rate it picks to ``picked`` and a line to ``notes``."""

    def find_rate(make_optimizer: Callable[[Any], Any]) -> float:
        init_key, order_key = jax.random.split(jax.random.PRNGKey(0))
        n = _size(train)
        usable = plan.steps_per_epoch * plan.batch_size
        epochs = -(-RANGE_TEST_STEPS // plan.steps_per_epoch)
        order = np.concatenate([
            np.asarray(jax.random.permutation(jax.random.fold_in(order_key, e), n))[:usable]
            for e in range(epochs)
        ])  # fmt: skip
        index = order[: RANGE_TEST_STEPS * plan.batch_size].reshape(
            RANGE_TEST_STEPS, plan.batch_size
        )
        batches = jax.tree_util.tree_map(
            lambda x: jnp.asarray(np.asarray(x)[index]), train
        )
        result = find_learning_rate(
            loss_fn, init_fn(init_key), batches, make_optimizer, 1e-4, 10.0,
            RANGE_TEST_STEPS,
        )  # fmt: skip
        notes.append(
            f"range test: {result.rule} pick {result.suggestion:.4g} (steepest "
            f"{result.steepest:.4g}, valley {result.valley:.4g}, diverged: "
            f"{result.diverged})"
        )
        picked.append(float(result.suggestion))
        return result.suggestion

    return find_rate


def compare(
    init_fn: Callable[[jax.Array], Any],
    loss_fn: Callable[[Any, Tree], jax.Array],
    train: Tree,
    val: Tree,
    test: Tree,
    metric_fn: Callable[[Any, Tree], jax.Array],
    *,
    strategies: Sequence[str | Strategy] | None = None,
    epochs: int = 54,
    batch_size: int = 100,
    seeds: int = 3,
    final_seeds: int = 3,
    tune: bool = True,
    rate_points: int = RATE_POINTS,
    method: str = "halving",
    eta: int = 3,
    metric: str = "accuracy",
    higher_is_better: bool = True,
    progress: bool = True,
    notes: list[str] | None = None,
) -> list[StrategyResult]:
    """Compares learning-rate strategies on your model, each at a tuned rate.

    For each strategy, :func:`lrjax.sweep` tries ``rate_points`` rates
    (:func:`rate_grid` around the row's hand-set rate) on ``seeds`` seeds by
    ``method`` (successive halving by default), selecting the best mean
    ``metric_fn`` on ``val``; the chosen rate is then trained again on
    ``final_seeds`` fresh seeds (seeds ``seeds .. seeds + final_seeds - 1``),
    evaluated on ``val`` and ``test`` after every epoch. Rows that pick their
    own rate (``range-test``) run only that last phase, at their own rate, on
    the same fresh seeds, whatever else is selected, so every row of a table
    is evaluated on the same seeds. With ``tune=False`` every row runs only
    that phase, at its hand-set rate, on seeds ``0 .. final_seeds - 1``.
    Seed ``s`` draws the initial weights and the batch order (the rule is in
    :func:`lrjax.sweep`'s ``data`` argument) for every row alike.

    Both phases evaluate once per epoch; rate controllers (reduce on plateau,
    the loss-driven rate) receive the validation metric at each evaluation
    (:func:`lrjax.sweep`'s convention; successive halving also evaluates at
    its rungs, which fall on epoch ends when ``epochs`` is a multiple of
    ``eta**k``).

    Args:
      init_fn: ``key -> params``.
      loss_fn: ``(params, batch) -> scalar`` training loss; ``batch`` is
        ``train`` indexed along its leading (example) axis.
      train, val, test: trees of arrays with a leading example axis.
      metric_fn: ``(params, data) -> scalar``, evaluated on all of ``val``
        or ``test`` (accuracy, R^2, a loss, ...).
      strategies: names or families of :data:`lrjax.compare.STRATEGIES`,
        ``["all"]``, or :class:`Strategy` rows of your own; default
        :data:`DEFAULT_STRATEGIES`.
      epochs: passes over ``train`` per run (the budget, also of tuning).
      batch_size: examples per step; each epoch drops the last partial batch.
      seeds: seeds the rates are selected on.
      final_seeds: fresh seeds the chosen rate is reported on (>= 2 for the
        interval and the test against the best; 1 warns).
      tune: ``False`` runs every row at its hand-set rate.
      rate_points: rates in the tuning grid.
      method, eta: :func:`lrjax.sweep`'s search (``"halving"``, ``"grid"``
        or ``"pbt"``) and halving's reduction factor.
      metric: the metric's name, used in the table and the CSV columns.
      higher_is_better: whether ``metric_fn`` is maximised.
      progress: show tqdm bars (when tqdm is installed).
      notes: a list that receives remarks (the rate a range test picked).

    Raises:
      ValueError, TypeError: before anything trains: a count that is not an
        integer >= 1 (Python or NumPy), an empty ``strategies`` or two rows
        of one name (a :class:`Strategy` of yours named like a selected
        row), a budget ``epochs x (len(train) // batch_size)`` under
        :func:`min_tuning_steps` when a row is tuned, a ``metric_fn`` that
        does not return a scalar.

    Returns:
      One :class:`StrategyResult` per row, in the order given: per-epoch
      curves of the final seeds, the rate run, and the tuning population
      (``sweep``) for the rate-sensitivity panel and ``sweep.csv``.

    Examples:
        Fit ``w`` in ``y = 3 x`` by least squares with the ``constant`` row
        (SGD, momentum 0.9, hand-set rate 0.05), tuning its rate over three
        rates on seeds 0 and 1, the mean squared error as the metric; one
        split serves as train, validation and test here:

        >>> import jax.numpy as jnp
        >>> import lrjax.compare
        >>> x = jnp.linspace(-1.0, 1.0, 16)[:, None]
        >>> data = (x, 3.0 * x[:, 0])  # (inputs, targets)
        >>> init = lambda key: jnp.zeros(1)
        >>> mse = lambda w, batch: jnp.mean((batch[0] @ w - batch[1]) ** 2)
        >>> (result,) = lrjax.compare.compare(
        ...     init, mse, data, data, data, mse, strategies=["constant"],
        ...     epochs=10, batch_size=4, seeds=2, final_seeds=2, rate_points=3,
        ...     method="grid", metric="mse", higher_is_better=False,
        ...     progress=False)
        >>> result.sweep.rates  # rate_grid(0.05, 3)
        array([0.00158114, 0.05      , 1.58113883])
        >>> result.rate, result.seed_list  # the chosen rate, on fresh seeds
        (0.05, (2, 3))
        >>> print(f"{result.final_accuracy.mean():.4f}")  # their final test mse
        0.0057
    """
    rows = resolve_strategies(strategies)
    counts = {"epochs": epochs, "seeds": seeds, "final_seeds": final_seeds,
              "batch_size": batch_size, "rate_points": rate_points}  # fmt: skip
    for name, value in counts.items():
        check_count(name, value)
    epochs, seeds, final_seeds, batch_size, rate_points = (int(v) for v in counts.values())  # fmt: skip
    check_one_of("method", method, ("halving", "grid", "pbt"))
    if method == "halving":
        check_count("eta", eta, 2)
    n = _size(train)
    if batch_size > n:
        raise ValueError(
            f"batch_size must be at most the {n} training examples, got {batch_size}."
        )
    notes = [] if notes is None else notes
    spe = n // batch_size
    steps = epochs * spe
    tuned = [r for r in rows if tune and r.tune is not None and r.rate is not None]
    least = min_tuning_steps(method, rate_points, eta)
    if tuned and steps < least:
        raise ValueError(
            f"epochs x (training examples // batch_size) = {epochs} x ({n} // "
            f"{batch_size}) = {steps} step{'s' if steps != 1 else ''} is too few to tune with "
            f"method={method!r} (rate_points={rate_points}"
            f"{f', eta={eta}' if method == 'halving' else ''}): it needs at least "
            f"{least} steps; raise epochs or lower batch_size."
        )
    _check_metric_fn(metric_fn, init_fn, val)
    if final_seeds == 1:
        warnings.warn(
            "compare: final_seeds=1 reports one seed per row, which has no "
            "spread: the std and 95% interval are NaN and the test against "
            "the best is untestable ('?'); use final_seeds >= 2.",
            UserWarning,
            stacklevel=2,
        )
    plan = Plan(epochs, batch_size, spe)
    picked: list[float] = []
    find_rate = make_range_test(init_fn, loss_fn, train, plan, notes, picked)
    # lrjax.sweep's context for named rows: the same schedules and controllers.
    context = Context(plan, find_rate, budget=steps, reports_per_epoch=1)
    common = dict(steps=steps, batch_size=batch_size, metric=metric,
                  higher_is_better=higher_is_better, eval_every=spe, progress=progress)  # fmt: skip

    selection = None
    if tuned:
        selection = sweep(
            init_fn, loss_fn, train,
            strategies={r.name: _factory(r, context) for r in tuned},
            eval_fn=lambda p, d: {metric: metric_fn(p, d), "val_loss": loss_fn(p, d)},
            eval_data=val, rates={r.name: rate_grid(r.rate, rate_points) for r in tuned},
            seeds=seeds, method=method, eta=eta, **common,
        )  # fmt: skip
        odd = [s for s in rung_steps(steps, eta, rate_points) if s % spe]
        if method == "halving" and odd:
            notes.append(
                f"halving rungs at steps {odd} are not epoch ends: rate "
                "controllers also decide there while tuning"
            )

    rates, factories, built = {}, {}, {}
    for r in rows:
        if selection is not None and r.name in selection.strategies:
            rates[r.name] = selection.strategies[r.name].chosen_rate
            factories[r.name] = _factory(r, context)
        elif r.tune is not None and r.rate is not None:
            rates[r.name] = float(r.rate)
            factories[r.name] = _factory(r, context)
        else:  # picks its own rate: built once (a range test runs here)
            before, began = len(picked), time.perf_counter()
            tx = r.build(context)
            built[r.name] = time.perf_counter() - began
            rates[r.name] = picked[-1] if len(picked) > before else math.nan
            factories[r.name] = (lambda rate, tx=tx: tx, r.eval_params)
    # Every row of the table on the same seeds: the fresh ones after the
    # tuning seeds whenever tuning is on (rows that pick their own rate too,
    # whatever else is selected), else seeds 0 .. final_seeds - 1.
    first = seeds if tune else 0
    final = sweep(
        init_fn, loss_fn, train, strategies=factories,
        eval_fn=lambda p, d: {
            metric: metric_fn(p, d["val"]), "val_loss": loss_fn(p, d["val"]),
            f"test_{metric}": metric_fn(p, d["test"]), "test_loss": loss_fn(p, d["test"]),
        },
        eval_data={"val": val, "test": test},
        rates={k: [v if math.isfinite(v) else 1.0] for k, v in rates.items()},
        seeds=list(range(first, first + final_seeds)), method="grid", **common,
    )  # fmt: skip

    results = []
    for r in rows:
        runs = final.strategies[r.name]
        tuning = None if selection is None else selection.strategies.get(r.name)
        f = len(runs.seeds)
        curves = Curves(
            train_loss=runs.train_loss[0].reshape(f, epochs, spe).mean(-1),
            test_loss=_per_epoch(runs, "test_loss", spe),
            test_accuracy=_per_epoch(runs, f"test_{metric}", spe),
            learning_rate=runs.learning_rate[0],
        )
        parts = [runs] if tuning is None else [tuning, runs]
        results.append(StrategyResult(
            r, curves,
            compile_seconds=sum(p.compile_seconds for p in parts) + built.get(r.name, 0.0),
            run_seconds=sum(p.run_seconds for p in parts),
            rate=rates[r.name], tuned=tuning is not None,
            seed_ids=tuple(int(s) for s in runs.seeds), sweep=tuning,
            metric=metric, higher_is_better=higher_is_better,
            member_steps=sum(int(p.member_steps) for p in parts),
        ))  # fmt: skip
    return results


def _check_metric_fn(metric_fn: Callable, init_fn: Callable, val: Tree) -> None:
    """``metric_fn(params, val)`` must be a scalar (checked by shape, nothing runs)."""
    params = jax.eval_shape(init_fn, jax.random.PRNGKey(0))
    shape = jax.eval_shape(metric_fn, params, val).shape
    if shape != ():
        raise ValueError(
            f"metric_fn must return a scalar (one number for the whole split), "
            f"got an array of shape {shape}: reduce it, e.g. with jnp.mean."
        )


def _factory(row: Strategy, context: Context) -> tuple[Callable, Any]:
    """A row as :func:`lrjax.sweep` takes it: ``(rate -> tx, eval_params)``."""
    tune = row.tune
    assert tune is not None, row.name
    return (lambda rate: tune(context, rate), row.eval_params)


def _per_epoch(runs: StrategyRuns, key: str, spe: int) -> np.ndarray:
    """``(seeds, epochs)``: the metric at each epoch's end (evaluations at
    other steps dropped)."""
    at = np.flatnonzero(np.asarray(runs.eval_steps) % spe == 0)
    return np.asarray(runs.eval_metrics[key][0][:, at], np.float32)
