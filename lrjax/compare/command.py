"""``lrjax compare``: train one network under many strategies and compare them.

By default each strategy's rate is tuned first (:func:`lrjax.compare.compare`:
successive halving with :func:`lrjax.sweep` over a log grid around the row's
hand-set rate, on the validation split), then the chosen rate is trained on
fresh seeds and reported on the test split, with mean ± std, a 95% interval
and Welch's test against the best. ``--no-tune`` runs the rows at their
hand-set rates instead (:func:`run_comparison`: all seeds of a strategy at
once, ``jax.vmap`` in one compiled function, the test split evaluated after
each epoch, rate controllers fed the epoch's mean training loss as
``value=`` rather than the validation metric). Prints a table ranked by mean test accuracy and writes
``strategies.csv``, ``strategies_curves.csv``, ``sweep.csv`` (when tuned) and
``strategies.png`` to the output folder.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from lrjax._progress import progress_bar
from lrjax.compare.data import TASKS, Dataset
from lrjax.compare.figure import plot_results
from lrjax.compare.models import MODELS, Model, build_model
from lrjax.compare.report import TABLE_NOTE, StrategyResult, format_table, write_csv
from lrjax.compare.training import cross_entropy, train_seeds
from lrjax.compare.tuning import (
    DEFAULT_STRATEGIES,
    RATE_POINTS,
    check_count,
    compare,
    make_range_test,
    min_tuning_steps,
    resolve_strategies,
)
from lrjax.tune.catalogue import FAMILIES, STRATEGIES, Context, Plan, Strategy

__all__ = ["UsageError", "add_arguments", "run", "run_comparison"]

# Per task: (epochs, batch size). MNIST-1D: 54 epochs of 35 batches of 100
# (1,890 steps, near the 2,000 at which the paper's MLP reaches ~68%); 54 is
# 2 x 3**3, so the halving rungs (1/9 and 1/3 of the run) end epochs.
TASK_DEFAULTS = {"mnist1d": (54, 100), "digits": (18, 32)}
DEFAULT_SEEDS = 3
DEFAULT_FINAL_SEEDS = 3
DEFAULT_ETA = 3
# --quick: 9 epochs, 2 + 2 seeds, 3 rates (one halving rung at a third).
QUICK_EPOCHS = 9
QUICK_SEEDS = 2
QUICK_RATES = 3
DEFAULT_EPOCHS = TASK_DEFAULTS["digits"][0]
DEFAULT_BATCH_SIZE = TASK_DEFAULTS["digits"][1]


class UsageError(ValueError):
    """An option of ``lrjax compare`` out of range (the command exits with 2)."""


def run_comparison(
    strategies: Sequence[Strategy],
    model: Model,
    epochs: int = DEFAULT_EPOCHS,
    seeds: int = DEFAULT_SEEDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    data: Dataset | None = None,
    progress: bool = True,
    notes: list[str] | None = None,
) -> list[StrategyResult]:
    """Trains every strategy at its hand-set rate (all seeds at once each) and
    returns the results in the order given (``lrjax compare --no-tune``).

    Args:
      strategies: rows of the strategy table.
      model: the network.
      epochs: passes over the training set, ``>= 1``.
      seeds: seeds per strategy, ``>= 1``; seed ``i`` initialises and orders
        the data from ``PRNGKey(i)`` for every strategy.
      batch_size: examples per step, in ``[1, training examples]``.
      data: the split; default the digits (:func:`load_digits`).
      progress: show a tqdm progress bar (if tqdm is installed).
      notes: a list that receives remarks made during the run (the rate a
        range test chose).
    """
    for name, value in (
        ("epochs", epochs),
        ("seeds", seeds),
        ("batch_size", batch_size),
    ):
        check_count(name, value)
    epochs, seeds, batch_size = int(epochs), int(seeds), int(batch_size)
    data = TASKS["digits"]() if data is None else data
    n = data.train_x.shape[0]
    if batch_size > n:
        raise ValueError(
            f"batch_size must be at most the {n} training examples, got {batch_size}."
        )
    notes = [] if notes is None else notes
    plan = Plan(epochs, batch_size, n // batch_size)

    def loss_fn(params: Any, batch: Any) -> jax.Array:
        return cross_entropy(model.apply(params, batch[0]), batch[1])

    picked: list[float] = []
    train = (data.train_x, data.train_y)
    context = Context(plan, make_range_test(model.init, loss_fn, train, plan, notes, picked))  # fmt: skip
    bar = progress_bar(strategies, progress)
    results = []
    for strategy in strategies if bar is None else bar:
        if bar is not None:
            bar.set_description_str(f"{strategy.name:>22}")
        start = time.perf_counter()
        before = len(picked)
        optimizer = strategy.build(context)
        built = time.perf_counter() - start
        trained = train_seeds(model, optimizer, plan, data, seeds, strategy.eval_params)
        rate = picked[-1] if len(picked) > before else strategy.rate
        result = StrategyResult(
            strategy,
            trained.curves,
            built + trained.compile_seconds,
            trained.run_seconds,
            trained.warmup_seconds,
            rate=rate,
        )
        results.append(result)
        if bar is not None:
            loss = float(result.curves.train_loss[:, -1].mean())
            acc = 100 * float(result.final_accuracy.mean())
            bar.set_postfix_str(f"{strategy.name}: loss {loss:.3g}, acc {acc:.1f}%")
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``lrjax compare``."""
    add = parser.add_argument
    add("--task", choices=sorted(TASKS), default="mnist1d",
        help="data: MNIST-1D (generated once, then cached) or scikit-learn's digits (default mnist1d)")  # fmt: skip
    add("--model", choices=sorted(MODELS["mnist1d"]), default="mlp",
        help="network: mlp (MNIST-1D: 40-100-100-10) or cnn (MNIST-1D: three 1-D convolutions) (default mlp)")  # fmt: skip
    add("--strategies", nargs="+", metavar="NAME",
        help=f"strategies or families to run, or 'all' (default: {len(DEFAULT_STRATEGIES)} "
        "strategies covering every family; see --list); space- or comma-separated")  # fmt: skip
    epochs = ", ".join(f"{t} {e}" for t, (e, _) in TASK_DEFAULTS.items())
    batches = ", ".join(f"{t} {b}" for t, (_, b) in TASK_DEFAULTS.items())
    add("--epochs", type=int, help=f"epochs per run (default {epochs}; {QUICK_EPOCHS} with --quick)")  # fmt: skip
    add("--batch-size", type=int, help=f"examples per step (default {batches})")
    add("--seeds", type=int,
        help=f"seeds the rate is tuned on; with --no-tune the seeds reported (default {DEFAULT_SEEDS}; {QUICK_SEEDS} with --quick)")  # fmt: skip
    add("--final-seeds", type=int,
        help=f"fresh seeds the tuned rate is reported on (default {DEFAULT_FINAL_SEEDS}; {QUICK_SEEDS} with --quick); an error with --no-tune")  # fmt: skip
    add("--rates", type=int,
        help=f"rates in each strategy's tuning grid, log-spaced over 1.5 decades either side of its hand-set rate (default {RATE_POINTS}; {QUICK_RATES} with --quick)")  # fmt: skip
    add("--method", choices=("halving", "grid", "pbt"), default="halving",
        help="how lrjax.sweep spends the tuning budget (default halving)")  # fmt: skip
    add("--eta", type=int, default=DEFAULT_ETA, help=f"successive halving's reduction factor (default {DEFAULT_ETA})")  # fmt: skip
    add("--no-tune", action="store_true", help="run every strategy at its hand-set rate on --seeds seeds (no tuning, no validation split: reduce-on-plateau and loss-driven react to the epoch's mean training loss)")  # fmt: skip
    add("--out", default="results", help="output folder (default ./results)")
    add("--list", action="store_true", help="list the strategies and exit")
    add("--quick", action="store_true",
        help="smoke-sized run: few epochs, seeds and rates; one strategy per family unless --strategies is given")  # fmt: skip
    add("--no-plot", action="store_true", help="skip the figure")
    add("--no-progress", action="store_true", help="no progress bars")


def _list_strategies() -> str:
    width = max(len(s.name) for s in STRATEGIES)
    lines = []
    for family in FAMILIES:
        lines.append(f"{family}:")
        for s in STRATEGIES:
            if s.family == family:
                default = "*" if s.name in DEFAULT_STRATEGIES else " "
                lines.append(f"  {s.name:{width}} {default} {s.summary}")
    lines.append("(* in the default selection)")
    lines.append(
        "reduce-on-plateau and loss-driven decide once per epoch: on the validation "
        "metric\n(accuracy) by default, on the epoch's mean training loss with --no-tune"
    )
    return "\n".join(lines)


def _accuracy(model: Model) -> Callable[[Any, Any], jax.Array]:
    def accuracy(params: Any, data: Any) -> jax.Array:
        return jnp.mean(jnp.argmax(model.apply(params, data[0]), axis=-1) == data[1])

    return accuracy


def run(opts: argparse.Namespace) -> int:
    """Runs ``lrjax compare`` with parsed options; returns the exit status.

    Raises:
      UsageError: for an unknown strategy or an option out of range.
    """
    if opts.list:
        print(_list_strategies())
        return 0
    names = [
        n.strip() for arg in opts.strategies or [] for n in arg.split(",") if n.strip()
    ]
    try:
        strategies = resolve_strategies(names or None)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for flag, value in (
        ("--epochs", opts.epochs), ("--seeds", opts.seeds),
        ("--final-seeds", opts.final_seeds), ("--batch-size", opts.batch_size),
        ("--rates", opts.rates),
    ):  # fmt: skip
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be >= 1, got {value}")
    if opts.eta < 2:
        raise UsageError(f"--eta must be >= 2, got {opts.eta}")
    if opts.no_tune and opts.final_seeds is not None:
        raise UsageError(
            f"--final-seeds {opts.final_seeds} has no effect with --no-tune, which "
            "reports --seeds seeds (0 .. N-1) at the hand-set rates; drop it"
        )
    if opts.quick and not names:
        firsts: dict[str, Strategy] = {}
        for s in strategies:
            firsts.setdefault(s.family, s)
        strategies = list(firsts.values())
    quick = opts.quick
    task_epochs, task_batch = TASK_DEFAULTS[opts.task]
    epochs = opts.epochs or (QUICK_EPOCHS if quick else task_epochs)
    batch_size = opts.batch_size or task_batch
    seeds = opts.seeds or (QUICK_SEEDS if quick else DEFAULT_SEEDS)
    final_seeds = opts.final_seeds or (QUICK_SEEDS if quick else DEFAULT_FINAL_SEEDS)
    rates = opts.rates or (QUICK_RATES if quick else RATE_POINTS)
    start = time.perf_counter()
    model = build_model(opts.task, opts.model)
    data = TASKS[opts.task]()
    n = data.train_x.shape[0]
    if batch_size > n:
        raise UsageError(f"--batch-size must be at most {n}, got {batch_size}")
    tunable = [s for s in strategies if s.tune is not None and s.rate is not None]
    steps, least = epochs * (n // batch_size), min_tuning_steps(opts.method, rates, opts.eta)  # fmt: skip
    if tunable and not opts.no_tune and steps < least:
        eta = f" at --eta {opts.eta}" if opts.method == "halving" else ""
        raise UsageError(
            f"--epochs {epochs} x ({n} training examples // --batch-size "
            f"{batch_size}) = {steps} step{'s' if steps != 1 else ''}, too few for "
            f"--method {opts.method} with --rates {rates}{eta}: it needs at least "
            f"{least} steps; raise --epochs or lower --batch-size"
        )
    if opts.no_tune:
        what = f"{seeds} seeds at each hand-set rate"
    elif tunable:
        what = (
            f"rates tuned ({opts.method}, {rates} rates x {seeds} seeds on the "
            f"validation split), then {final_seeds} fresh seeds"
        )
    else:  # only rows that pick their own rate: nothing to tune
        what = (
            f"no rate tuned (each row picks its own), {final_seeds} seeds "
            f"from seed {seeds}"
        )
    print(
        f"lrjax compare: {len(strategies)} strategies, {what}; {model.name} on "
        f"{opts.task} ({n} train / {data.val_x.shape[0]} validation / "
        f"{data.test_x.shape[0]} test), {epochs} epochs of batch {batch_size}, "
        f"{jax.default_backend()}",
        flush=True,
    )
    notes: list[str] = []
    if opts.no_tune:
        results = run_comparison(
            strategies, model, epochs, seeds, batch_size, data,
            progress=not opts.no_progress, notes=notes,
        )  # fmt: skip
    else:
        results = compare(
            model.init,
            lambda p, b: cross_entropy(model.apply(p, b[0]), b[1]),
            (data.train_x, data.train_y), (data.val_x, data.val_y),
            (data.test_x, data.test_y), _accuracy(model),
            strategies=strategies, epochs=epochs, batch_size=batch_size,
            seeds=seeds, final_seeds=final_seeds, rate_points=rates,
            method=opts.method, eta=opts.eta, progress=not opts.no_progress,
            notes=notes,
        )  # fmt: skip
    print()
    print(format_table(results))
    print(TABLE_NOTE)
    for note in notes:
        print(f"note: {note}")
    paths = write_csv(results, opts.out, opts.task, model.name)
    if not opts.no_plot:
        how = (
            "hand-set rates" if opts.no_tune else
            f"{'tuned' if tunable else 'own'} rates, {final_seeds} fresh seeds"
        )  # fmt: skip
        title = f"{model.name} on {opts.task}: {epochs} epochs of batch {batch_size}, {how}"  # fmt: skip
        paths += (plot_results(results, os.path.join(opts.out, "strategies.png"), title),)  # fmt: skip
    print("wrote " + ", ".join(paths))
    print(f"wall time {time.perf_counter() - start:.1f} s")
    return 0
