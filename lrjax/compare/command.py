"""``lrjax compare``: train one network under every strategy and compare them.

Runs each selected strategy of :data:`lrjax.compare.STRATEGIES` on the same
network, data, epochs, batch size, initialisations and data orders, all seeds
of a strategy at once (``jax.vmap`` in one compiled function), then prints a
table ranked by mean test accuracy and writes ``strategies.csv``,
``strategies_curves.csv`` and ``strategies.png`` to the output folder.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax.compare.data import Digits, load_digits
from lrjax.compare.figure import plot_results
from lrjax.compare.models import MODELS, Model
from lrjax.compare.report import TABLE_NOTE, StrategyResult, format_table, write_csv
from lrjax.compare.strategies import FAMILIES, STRATEGIES, Context, Strategy, select
from lrjax.compare.training import Plan, cross_entropy, train_seeds
from lrjax.control.range_test import find_learning_rate

__all__ = ["UsageError", "add_arguments", "run", "run_comparison"]

DEFAULT_EPOCHS = 20
DEFAULT_SEEDS = 3
DEFAULT_BATCH_SIZE = 32
QUICK_EPOCHS = 3
QUICK_SEEDS = 2
RANGE_TEST_STEPS = 100


class UsageError(ValueError):
    """An option of ``lrjax compare`` out of range (the command exits with 2)."""


def _range_test(
    model: Model, data: Digits, plan: Plan, notes: list[str]
) -> Callable[[Callable[[Any], optax.GradientTransformation]], float]:
    """``find_rate`` for :class:`Context`: a range test on seed 0's network and
    its first ``RANGE_TEST_STEPS`` batches, from 1e-4 to 10."""

    def find_rate(make_optimizer):
        init_key, order_key = jax.random.split(jax.random.PRNGKey(0))
        params = model.init(init_key)
        n = data.x_train.shape[0]
        orders = [
            np.asarray(jax.random.permutation(jax.random.fold_in(order_key, e), n))
            for e in range(-(-RANGE_TEST_STEPS // plan.steps_per_epoch))
        ]
        usable = plan.steps_per_epoch * plan.batch_size
        order = np.concatenate([o[:usable] for o in orders])
        indices = order[: RANGE_TEST_STEPS * plan.batch_size].reshape(
            RANGE_TEST_STEPS, plan.batch_size
        )
        batches = (
            jnp.asarray(data.x_train[indices]),
            jnp.asarray(data.y_train[indices]),
        )

        def loss_fn(params, batch):
            images, labels = batch
            return cross_entropy(model.apply(params, images), labels)

        result = find_learning_rate(
            loss_fn, params, batches, make_optimizer, 1e-4, 10.0, RANGE_TEST_STEPS
        )
        notes.append(
            f"range test: {result.rule} pick {result.suggestion:.4g} (steepest "
            f"{result.steepest:.4g}, valley {result.valley:.4g}, diverged: "
            f"{result.diverged})"
        )
        return result.suggestion

    return find_rate


def run_comparison(
    strategies: Sequence[Strategy],
    model: Model,
    epochs: int = DEFAULT_EPOCHS,
    seeds: int = DEFAULT_SEEDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    data: Digits | None = None,
    progress: bool = True,
    notes: list[str] | None = None,
) -> list[StrategyResult]:
    """Trains every strategy (all seeds at once each) and returns the results
    in the order given.

    Args:
      strategies: rows of the strategy table.
      model: the network.
      epochs: passes over the training set, ``>= 1``.
      seeds: seeds per strategy, ``>= 1``; seed ``i`` initialises and orders
        the data from ``PRNGKey(i)`` for every strategy.
      batch_size: examples per step, in ``[1, training examples]``.
      data: the digits split; default :func:`load_digits`.
      progress: show a tqdm progress bar (if tqdm is installed).
      notes: a list that receives remarks made during the run (the rate a
        range test chose).
    """
    for name, value in (
        ("epochs", epochs),
        ("seeds", seeds),
        ("batch_size", batch_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    data = load_digits() if data is None else data
    if batch_size > data.x_train.shape[0]:
        raise ValueError(
            f"batch_size must be at most the {data.x_train.shape[0]} training "
            f"examples, got {batch_size}."
        )
    notes = [] if notes is None else notes
    plan = Plan(epochs, batch_size, data.x_train.shape[0] // batch_size)
    context = Context(plan, _range_test(model, data, plan, notes))
    bar = _progress(strategies, progress)
    results = []
    for strategy in bar:
        if hasattr(bar, "set_description_str"):
            bar.set_description_str(f"{strategy.name:>22}")
        start = time.perf_counter()
        optimizer = strategy.build(context)
        built = time.perf_counter() - start
        trained = train_seeds(model, optimizer, plan, data, seeds, strategy.eval_params)
        result = StrategyResult(
            strategy,
            trained.curves,
            built + trained.compile_seconds,
            trained.run_seconds,
            trained.warmup_seconds,
        )
        results.append(result)
        if hasattr(bar, "set_postfix_str"):
            loss = float(result.curves.train_loss[:, -1].mean())
            acc = 100 * float(result.final_accuracy.mean())
            bar.set_postfix_str(f"{strategy.name}: loss {loss:.3g}, acc {acc:.1f}%")
    return results


def _progress(items: Sequence[Strategy], enabled: bool) -> Any:
    if not enabled:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return items
    return tqdm(items, unit="strategy", dynamic_ncols=True, leave=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``lrjax compare``."""
    parser.add_argument(
        "--strategies",
        nargs="+",
        metavar="NAME",
        help="strategies or families to run (default: all; see --list); "
        "space- or comma-separated",
    )
    parser.add_argument(
        "--model", choices=sorted(MODELS), default="mlp", help="network (default mlp)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"epochs (default {DEFAULT_EPOCHS}; {QUICK_EPOCHS} with --quick)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        help=f"seeds per strategy, trained at once (default {DEFAULT_SEEDS}; {QUICK_SEEDS} with --quick)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"examples per step (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--out", default="results", help="output folder (default ./results)"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the strategies and exit"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-sized run: few epochs and seeds, one strategy per family unless --strategies is given",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")  # fmt: skip


def _list_strategies() -> str:
    width = max(len(s.name) for s in STRATEGIES)
    lines = []
    for family in FAMILIES:
        lines.append(f"{family}:")
        for s in STRATEGIES:
            if s.family == family:
                lines.append(f"  {s.name:{width}}  {s.summary}")
    return "\n".join(lines)


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
        strategies = select(names)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for flag, value in (
        ("--epochs", opts.epochs),
        ("--seeds", opts.seeds),
        ("--batch-size", opts.batch_size),
    ):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be >= 1, got {value}")  # fmt: skip
    if opts.quick and not names:
        firsts = {}
        for s in strategies:
            firsts.setdefault(s.family, s)
        strategies = list(firsts.values())
    epochs = (
        opts.epochs
        if opts.epochs is not None
        else (QUICK_EPOCHS if opts.quick else DEFAULT_EPOCHS)
    )
    seeds = opts.seeds if opts.seeds is not None else (QUICK_SEEDS if opts.quick else DEFAULT_SEEDS)  # fmt: skip
    model = MODELS[opts.model]()
    data = load_digits()
    if opts.batch_size > data.x_train.shape[0]:
        raise UsageError(
            f"--batch-size must be at most {data.x_train.shape[0]}, got {opts.batch_size}"
        )
    start = time.perf_counter()
    print(
        f"lrjax compare: {len(strategies)} strategies x {seeds} seeds, {model.name} on "
        f"digits ({data.x_train.shape[0]} train / {data.x_test.shape[0]} test), "
        f"{epochs} epochs of batch {opts.batch_size}, {jax.default_backend()}",
        flush=True,
    )
    notes: list[str] = []
    results = run_comparison(
        strategies, model, epochs, seeds, opts.batch_size, data,
        progress=not opts.no_progress, notes=notes,
    )  # fmt: skip
    print()
    print(format_table(results))
    print(TABLE_NOTE)
    for note in notes:
        print(f"note: {note}")
    paths = write_csv(results, opts.out)
    if not opts.no_plot:
        title = f"{model.name} on digits: {epochs} epochs of batch {opts.batch_size}, {seeds} seeds"
        paths += (
            plot_results(results, os.path.join(opts.out, "strategies.png"), title),
        )
    print("wrote " + ", ".join(paths))
    print(f"wall time {time.perf_counter() - start:.1f} s")
    return 0
