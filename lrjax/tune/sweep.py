""":func:`sweep`: which strategy, and which rate, for a model.

Trains populations of rates x seeds per strategy, each population in one
compiled ``lax.scan`` under ``jax.vmap`` (:mod:`lrjax.tune.population`), spent
as a grid, by successive halving or by population based training
(:mod:`lrjax.tune.search`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _validation as val
from lrjax._progress import progress_bar
from lrjax.tune import inputs
from lrjax.tune.named import named_strategies
from lrjax.tune.population import Engine, Seeds, Task, seed_states, tree_take
from lrjax.tune.result import SweepResult
from lrjax.tune.search import (
    eval_points,
    run_grid,
    run_halving,
    run_pbt,
    rung_steps,
)
from lrjax.tune.selection import strategy_runs

__all__ = ["sweep"]


def sweep(
    init_fn: Callable[[jax.Array], Any],
    loss_fn: Callable[[Any, Any], Any],
    data: Any = None,
    *,
    strategies: Mapping[str, Any] | Sequence[str],
    steps: int,
    batch_size: int | None = None,
    batch_fn: Callable[[jax.Array, jax.Array], Any] | None = None,
    has_aux: bool = False,
    eval_fn: Callable[[Any, Any], Mapping[str, jax.typing.ArrayLike]] | None = None,
    eval_data: Any = None,
    metric: str | None = None,
    higher_is_better: bool = False,
    eval_every: int | None = None,
    rates: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    seeds: int | Sequence[int] = 3,
    method: str = "grid",
    eta: int | None = None,
    min_steps: int | None = None,
    pbt_interval: int | None = None,
    final_seeds: int | Sequence[int] | None = None,
    max_members: int | None = None,
    max_bytes: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    progress: bool = True,
) -> SweepResult:
    """Trains every strategy at many rates and seeds at once; picks each one's rate.

    A strategy's members (every rate x every seed) train as one population:
    one ``lax.scan`` over the steps whose body is the training step under
    ``jax.vmap``, compiled once per strategy, so a sweep of 64 members costs
    one compilation instead of 64. Seed ``s`` initialises every member with
    the same weights and batch order (``PRNGKey(s)`` split into the init key
    and the data key), whatever its rate or strategy.

    Methods:

    * ``"grid"``: every member trains ``steps`` steps.
    * ``"halving"``: synchronous successive halving (Li et al., 2020). With
      ``K`` the smallest integer such that ``eta**K >= len(rates)``, lowered
      until ``steps // eta**K >= min_steps``, rungs sit at
      ``steps // eta**(K - i)`` for ``i = 0..K``; at each rung the ``ceil(n / eta)`` rates with the best mean
      metric over seeds continue from their saved parameters and optimizer
      states, all seeds together. One compilation per rung.
    * ``"pbt"``: population based training (Jaderberg et al., 2017): every
      ``pbt_interval`` steps the worst quarter of all members copies the
      parameters and optimizer state of a random member of the best quarter
      and multiplies its rate by 0.8 or 1.25 (draws from a fixed key), inside
      the compiled scan. ``learning_rate`` then records the schedules found,
      and the chosen rate is the initial rate of the best final member's
      lineage.

    Each strategy's chosen rate is the best mean over seeds of the metric at
    the end of the budget; with ``final_seeds`` it is re-run, at that fixed
    rate, on fresh seeds, and those metrics are the ones to report. Rates
    whose mean is NaN or infinite (a seed diverged) are never chosen; when no
    rate is left (under PBT: no member's final metric is finite) a
    ``RuntimeWarning`` names the strategy, ``chosen`` is ``None``
    (``chosen_rate`` NaN, the table's rate ``none``) and ``final_seeds`` are
    not run for it.

    Compilations: one per strategy for the grid and PBT, one per rung for
    halving, one more for the re-run on ``final_seeds``; the seeds' initial
    weights come from one shared compiled call per sweep (timed with the first
    strategy). Populations above ``max_members`` (or ``max_bytes``) run in
    equal chunks, the last padded, all through the same compilation; with
    several devices the population axis is sharded over them.

    Evaluation runs every ``eval_every`` steps and at the end (and at the
    strategy's own halving rungs or PBT points: a strategy is never evaluated
    at another's rungs, so its results do not depend on what shares the
    sweep): ``eval_fn(params, eval_data) -> {name: scalar}``,
    or without ``eval_fn`` the metric ``"loss"``, ``loss_fn(params,
    eval_data)``, on the whole training data when ``eval_data`` is ``None``.
    Strategies with an ``eval_params(opt_state, params)`` hook (schedule-free,
    averaging) are evaluated on the weights it returns. The metric is also
    reported to the lrjax plateau and loss-driven controllers in the optimizer
    state (:func:`lrjax.report_metric`, negated when ``higher_is_better`` so
    that lower is always better for them: build them with their default
    ``mode="min"``): they decide once per evaluation. ``update`` receives no
    ``value=``.

    Args:
      init_fn: ``key -> params``.
      loss_fn: ``(params, batch) -> loss`` (``(loss, aux)`` with ``has_aux``).
      data: a tree of arrays with a leading example axis, ``n`` examples.
        Step ``t`` (0-based, counted over the whole budget) of epoch ``e = t
        // (n // batch_size)`` takes the examples ``order[p * batch_size : (p
        + 1) * batch_size]``, ``p = t % (n // batch_size)``, of ``order =
        jax.random.permutation(jax.random.fold_in(data_key, e), n)``, with
        ``_, data_key = jax.random.split(jax.random.PRNGKey(seed))``; the last
        ``n % batch_size`` examples of each epoch's order are not used.
      strategies: name -> ``factory(learning_rate) -> GradientTransformation``
        (called with a traced scalar; or a ``(factory, eval_params)`` pair), or
        names of rows of :data:`lrjax.compare.STRATEGIES` (all but
        ``range-test``), tuned at their peak/initial rate.
      steps: the step budget per member, ``>= 1``.
      batch_size: examples per step with ``data``, in ``[1, len(data)]``.
      batch_fn: instead of ``data``: ``(key, step) -> batch`` with ``key =
        fold_in(seed's data key, step)`` and ``step`` a traced int32.
      has_aux: whether ``loss_fn`` returns ``(loss, aux)`` (aux is ignored).
      eval_fn: ``(params, eval_data) -> {name: scalar}``.
      eval_data: evaluation data; default the training data. Required with
        ``batch_fn`` unless ``eval_fn`` is given.
      metric: the name selected on; default the first key of ``eval_fn``'s
        result, or ``"loss"``.
      higher_is_better: whether the metric is maximised. Default False.
      eval_every: steps between evaluations; default ``max(1, steps // 10)``.
      rates: the (initial, peak) rates, one sequence for every strategy or
        name -> sequence; default ten log-spaced rates over ``1e-4..1`` for
        factories, ``rate * 10**linspace(-2, 1, 10)`` around a named row's
        hand-set rate.
      seeds: a count (seeds ``0..n-1``) or a sequence of seeds. Default 3.
      method: ``"grid"`` (default), ``"halving"`` or ``"pbt"``.
      eta: halving's reduction factor, an int ``>= 2``; ``None`` (default)
        means 3. Only with ``method="halving"``: another value with another
        method is a ``ValueError`` (3 itself is let through, as it changes
        nothing).
      min_steps: halving's first rung: the fewest steps a rate trains before
        it can be stopped (Ray Tune's ``grace_period``, Optuna's
        ``min_resource``), in ``[1, steps]``. Default ``max(1, steps //
        eta**2)``: at most two rungs before the end. Only with
        ``method="halving"``; a ``min_steps`` above ``steps // eta`` leaves a
        single rung (every rate trains the whole budget, as a grid: a
        ``UserWarning`` and a table footer say so). Short first rungs favour
        rates that learn fast early and lose later (the short-horizon bias of
        early stopping): on MNIST-1D, 16 Adam rates selected on the test
        accuracy, a first rung at ``steps // 27`` kept a rate 1.7x above the
        grid's best, one at ``steps // 9`` found it with 28% of the grid's
        member-steps (``benchmarks/sweep_population.py``).
      pbt_interval: steps between PBT's exploit steps, in ``[1, steps)``;
        ``None`` (default) means ``max(1, steps // 10)``. Only with
        ``method="pbt"``.
      final_seeds: re-run each chosen rate on fresh seeds (a count: the seeds
        after the largest of ``seeds``; or a sequence) for the whole budget,
        at a fixed rate, and report those metrics (not the ones selected on).
      max_members: members per compiled call at most; larger populations run
        in equal chunks reusing one compilation (not with ``"pbt"``).
      max_bytes: bound on a call's estimated memory: per member, the
        parameters three times (weights, gradients, updates) plus the
        optimizer state (``jax.eval_shape``); activations are not counted.
      devices: devices the population axis is sharded over (padded to a
        multiple of their number); default ``jax.devices()``.
      progress: show a tqdm bar (when tqdm is installed).

    Returns:
      A :class:`SweepResult` (see :class:`StrategyRuns` for the arrays).

    Raises:
      ValueError, TypeError: for bad arguments, before anything compiles: an
        argument the method does not read (``eta`` or ``min_steps`` without
        halving, ``pbt_interval`` without PBT) is a ``ValueError``; a factory
        that cannot take a traced rate (Python ``if`` on it, ``float(rate)``)
        a ``TypeError`` naming the strategy.

    Examples:
        Fit the one weight ``w`` of ``y = 3 x`` by least squares: SGD at two
        rates, two seeds each, 20 steps of batch 4:

        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> x = jnp.linspace(-1.0, 1.0, 16)
        >>> data = (x, 3.0 * x)  # (inputs, targets)
        >>> init = lambda key: jnp.zeros(())  # w = 0 for every seed
        >>> loss = lambda w, batch: jnp.mean((w * batch[0] - batch[1]) ** 2)
        >>> result = lrjax.sweep(
        ...     init, loss, data, strategies={"sgd": lrjax.sgd}, steps=20,
        ...     batch_size=4, rates=[0.01, 0.5], seeds=2, progress=False)
        >>> result.strategies["sgd"].chosen_rate  # 0.01 is too slow for 20 steps
        0.5
    """
    val.check_one_of("method", method, inputs.METHODS)
    inputs.check_method_arguments(
        method, eta=eta, min_steps=min_steps, pbt_interval=pbt_interval
    )
    tuned, names = inputs.check_strategies(strategies)
    val.check_positive_int("steps", steps)
    val.check_type("has_aux", has_aux, bool)
    val.check_type("higher_is_better", higher_is_better, bool)
    if method == "halving":
        eta = inputs.DEFAULT_ETA if eta is None else eta
        val.check_positive_int("eta", eta)
        val.check_in_range("eta", eta, 2)
    eval_every = max(1, steps // 10) if eval_every is None else eval_every
    val.check_positive_int("eval_every", eval_every)
    for name, value in (("max_members", max_members), ("max_bytes", max_bytes)):
        if value is not None:
            val.check_positive_int(name, value)
    seeds, final_seeds = inputs.check_seeds(seeds, final_seeds)
    n, batch = inputs.check_data(data, batch_size, batch_fn)
    if eval_data is None and batch_fn is None:
        eval_data = data
    if eval_data is None and eval_fn is None:
        raise ValueError(
            "eval_data is required with batch_fn unless eval_fn is given "
            "(the metric is loss_fn(params, eval_data)); got eval_data=None."
        )
    if names:
        spe = n // batch_size if batch_fn is None else eval_every
        found, defaults = named_strategies(
            names, steps=steps, steps_per_epoch=spe, batch_size=batch_size or 0
        )
        tuned = {**found, **tuned}
    else:
        defaults = {}
    order = names or list(tuned)
    rates = inputs.check_rates(rates, order, defaults)
    extra: dict[str, list[int]] = {name: [] for name in order}
    rungs: dict[str, list[int] | None] = dict.fromkeys(order)
    if min_steps is not None:
        val.check_positive_int("min_steps", min_steps)
        if min_steps > steps:
            raise ValueError(
                f"min_steps must be in [1, steps={steps}] (halving's first rung); "
                f"got min_steps={min_steps}."
            )
    if method == "halving":
        for name in order:
            rungs[name] = extra[name] = rung_steps(
                steps, eta, len(rates[name]), min_steps
            )
            if len(rungs[name]) == 1 and len(rates[name]) > 1:
                warnings.warn(
                    f"sweep: method='halving' has a single rung {rungs[name]} for "
                    f"{name!r} ({len(rates[name])} rates, steps={steps}, eta={eta}, "
                    f"min_steps={min_steps}): every rate trains the whole budget, "
                    f"as a grid. For a first stop, lower min_steps to at most "
                    f"steps // eta = {steps // eta}, or raise steps.",
                    UserWarning,
                    stacklevel=2,
                )
    if method == "pbt":
        pbt_interval = max(1, steps // 10) if pbt_interval is None else pbt_interval
        val.check_positive_int("pbt_interval", pbt_interval)
        if pbt_interval >= steps:
            raise ValueError(
                f"pbt_interval must be in [1, {steps - 1}] (below steps={steps}), "
                f"got {pbt_interval}."
            )
        for name in order:
            extra[name] = list(range(pbt_interval, steps, pbt_interval))

    params = jax.eval_shape(init_fn, jax.random.PRNGKey(0))
    inputs.check_loss(loss_fn, has_aux, params, batch)
    metric, metric_names = inputs.check_metric(
        eval_fn, metric, params, eval_data, loss_fn, has_aux
    )
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError(f"devices must not be empty, got {devices!r}.")
    caps, records = {}, {}
    for name in order:
        state = inputs.check_factory(name, tuned[name], rates[name][0], params)
        records[name] = inputs.records_rate(state)
        cap = max_members or len(rates[name]) * len(seeds)
        if max_bytes is not None:
            member = 3 * inputs.state_bytes(params) + inputs.state_bytes(state) + 4 * n
            cap = min(cap, max(1, max_bytes // member))
        population = len(rates[name]) * len(seeds)
        if method == "pbt" and cap < population:
            raise ValueError(
                f"method='pbt' ranks the whole population in one call: max_members/"
                f"max_bytes allow {cap} members, {name!r} has {population} "
                f"({len(rates[name])} rates x {len(seeds)} seeds)."
            )
        caps[name] = cap

    task = Task(
        init_fn,
        loss_fn,
        has_aux,
        batch_size,
        n,
        batch_fn,
        eval_fn,
        metric,
        higher_is_better,
    )
    data = None if batch_fn is not None else jax.tree_util.tree_map(jnp.asarray, data)
    eval_data = jax.tree_util.tree_map(jnp.asarray, eval_data)
    # Each strategy's own evaluations (its rungs, PBT's points): a strategy's
    # controllers decide at those only, whatever else shares the sweep.
    points = {name: eval_points(steps, eval_every, extra[name]) for name in order}
    everyone = seeds if final_seeds is None else np.concatenate([seeds, final_seeds])
    states, init_compile, init_run = seed_states(init_fn, everyone)
    chosen_seeds = Seeds(*tree_take(states, np.arange(len(seeds))))
    fresh_seeds = None
    if final_seeds is not None:
        fresh_seeds = Seeds(*tree_take(states, np.arange(len(seeds), len(everyone))))
    bar = progress_bar(order, progress)
    results = {}
    for name in bar if bar is not None else order:
        engine = Engine(
            task, tuned[name], data, eval_data, max_members=caps[name], devices=devices
        )
        r = rates[name]
        if bar is not None:
            bar.set_description_str(f"{name:>20}")
        if method == "grid":
            outcome = run_grid(engine, r, chosen_seeds, steps, points[name])
        elif method == "halving":

            def on_rung(k: int, active: int, name: str = name) -> None:
                if bar is not None:
                    bar.set_postfix_str(f"{name}: rung {k}, {active} rates")

            outcome = run_halving(
                engine, r, chosen_seeds, steps, points[name], eta,
                higher_is_better=higher_is_better, metric=metric,
                min_steps=min_steps, on_rung=on_rung,
            )  # fmt: skip
        else:
            outcome = run_pbt(
                engine, r, chosen_seeds, steps, points[name], pbt_interval,
                higher_is_better=higher_is_better,
            )  # fmt: skip
        if not results:  # the shared initialisation, timed with the first
            engine.compile_seconds += init_compile
            engine.run_seconds += init_run
        results[name] = strategy_runs(
            name, engine, outcome, r, seeds, final_seeds, fresh_seeds, steps,
            points[name], metric_names, metric, higher_is_better,
            rungs=rungs[name], records_rate=records[name],
        )  # fmt: skip
        if bar is not None:
            best = results[name]
            bar.set_postfix_str(f"{name}: rate {best.chosen_rate:.3g}")
    return SweepResult(results, metric, higher_is_better, method, steps)
