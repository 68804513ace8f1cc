"""What ``lrjax compare`` prints and writes: a ranked table and two CSV files
(the figure is :mod:`lrjax.compare.figure`'s)."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Sequence

import numpy as np

from lrjax.compare.strategies import Strategy
from lrjax.compare.training import RETIME_BELOW_SECONDS, Curves

__all__ = [
    "CURVE_COLUMNS",
    "SUMMARY_COLUMNS",
    "TABLE_NOTE",
    "StrategyResult",
    "format_table",
    "ranked",
    "write_csv",
]


@dataclasses.dataclass(frozen=True)
class StrategyResult:
    """One strategy's outcome over all seeds.

    Attributes:
      strategy: the row of the strategy table.
      curves: :class:`Curves` as NumPy arrays with a leading seed axis.
      compile_seconds: time to build, trace and compile its run (including a
        range test, if it used one).
      run_seconds: time of the timed training call (every seed), after
        compiling: :attr:`steps_per_second` comes from it alone.
      warmup_seconds: time of an untimed first call before it (0 when the
        training call was timed on its first run; see
        :func:`lrjax.compare.train_seeds`).
    """

    strategy: Strategy
    curves: Curves
    compile_seconds: float
    run_seconds: float
    warmup_seconds: float = 0.0

    @property
    def seeds(self) -> int:
        return self.curves.train_loss.shape[0]

    @property
    def final_accuracy(self) -> np.ndarray:
        return self.curves.test_accuracy[:, -1]

    @property
    def mean_accuracy_curve(self) -> np.ndarray:
        return self.curves.test_accuracy.mean(axis=0)

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the best mean test accuracy (the first, on ties)."""
        return int(np.argmax(self.mean_accuracy_curve)) + 1

    @property
    def steps_per_second(self) -> float:
        """Training steps (seeds x steps) per second of the timed call only:
        compilation and warm-up left out, so rows compare like for like."""
        steps = self.seeds * self.curves.learning_rate.shape[1]
        return steps / self.run_seconds if self.run_seconds > 0 else math.inf

    @property
    def wall_seconds(self) -> float:
        """All the strategy's time: build, compile, warm-up and timed run."""
        return self.compile_seconds + self.warmup_seconds + self.run_seconds


def _sort_key(result: StrategyResult) -> tuple[float, str]:
    accuracy = float(result.final_accuracy.mean())
    return (-accuracy if math.isfinite(accuracy) else math.inf, result.strategy.name)


def ranked(results: Sequence[StrategyResult]) -> list[StrategyResult]:
    """Results by decreasing mean final test accuracy (ties by name)."""
    return sorted(results, key=_sort_key)


TABLE_NOTE = (
    "steps/s: seeds x steps per second of the timed training call alone, after "
    "compiling\n         (and after an untimed warm-up call when training takes "
    f"under {RETIME_BELOW_SECONDS:g} s)\nwall s:  the strategy's whole time: "
    "optimizer (range test included), compiling, warm-up, training"
)


def format_table(results: Sequence[StrategyResult]) -> str:
    """A fixed-width table, best mean test accuracy first (:data:`TABLE_NOTE`
    says what its two timing columns measure)."""
    head = (
        f"{'#':>3}  {'strategy':22}{'family':11}{'train loss':>11}"
        f"{'test accuracy (%)':>20}{'best epoch':>12}{'steps/s':>10}{'wall s':>8}"
    )
    lines = [head, "-" * len(head)]
    for rank, r in enumerate(ranked(results), 1):
        acc = 100 * r.final_accuracy
        loss = float(r.curves.train_loss[:, -1].mean())
        lines.append(
            f"{rank:3d}  {r.strategy.name:22}{r.strategy.family:11}{loss:11.4g}"
            f"{f'{acc.mean():.2f} ± {acc.std():.2f}':>20}{r.best_epoch:12d}"
            f"{r.steps_per_second:10.0f}{r.wall_seconds:8.1f}"
        )
    return "\n".join(lines)


SUMMARY_COLUMNS = (
    "strategy",
    "family",
    "seed",
    "final_train_loss",
    "final_test_loss",
    "test_accuracy",
    "best_epoch",
    "best_test_accuracy",
    "final_learning_rate",
    "compile_seconds",
    "run_seconds",
    "steps_per_second",
)
CURVE_COLUMNS = (
    "strategy",
    "family",
    "seed",
    "epoch",
    "train_loss",
    "test_loss",
    "test_accuracy",
    "learning_rate",
)


def write_csv(results: Sequence[StrategyResult], out_dir: str) -> tuple[str, str]:
    """Writes ``strategies.csv`` (one row per strategy and seed) and
    ``strategies_curves.csv`` (one row per strategy, seed and epoch; the rate
    is the one the epoch's last step applied). Returns both paths."""
    os.makedirs(out_dir, exist_ok=True)
    summary_path = os.path.join(out_dir, "strategies.csv")
    curves_path = os.path.join(out_dir, "strategies_curves.csv")
    with open(summary_path, "w", newline="") as summary_file:
        writer = csv.writer(summary_file)
        writer.writerow(SUMMARY_COLUMNS)
        for r in ranked(results):
            c, name, family = r.curves, r.strategy.name, r.strategy.family
            for seed in range(r.seeds):
                writer.writerow([
                    name,
                    family,
                    seed,
                    f"{c.train_loss[seed, -1]:.6g}",
                    f"{c.test_loss[seed, -1]:.6g}",
                    f"{c.test_accuracy[seed, -1]:.6g}",
                    int(np.argmax(c.test_accuracy[seed])) + 1,
                    f"{c.test_accuracy[seed].max():.6g}",
                    f"{c.learning_rate[seed, -1]:.6g}",
                    f"{r.compile_seconds:.3f}",
                    f"{r.run_seconds:.3f}",
                    f"{r.steps_per_second:.1f}",
                ])  # fmt: skip
    with open(curves_path, "w", newline="") as curves_file:
        writer = csv.writer(curves_file)
        writer.writerow(CURVE_COLUMNS)
        for r in ranked(results):
            c = r.curves
            epochs = c.train_loss.shape[1]
            steps = c.learning_rate.shape[1] // epochs
            for seed in range(r.seeds):
                for e in range(epochs):
                    writer.writerow([
                        r.strategy.name,
                        r.strategy.family,
                        seed,
                        e + 1,
                        f"{c.train_loss[seed, e]:.6g}",
                        f"{c.test_loss[seed, e]:.6g}",
                        f"{c.test_accuracy[seed, e]:.6g}",
                        f"{c.learning_rate[seed, (e + 1) * steps - 1]:.6g}",
                    ])  # fmt: skip
    return summary_path, curves_path
