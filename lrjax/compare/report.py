"""What ``lrjax compare`` prints and writes: a ranked table and three CSV files
(the figure is :mod:`lrjax.compare.figure`'s).

The statistics are :mod:`lrjax.tune.stats`': mean, sample standard deviation
and a 95% Student-t interval over the seeds, and Welch's t-test against the
best strategy (5%) for the ``≈best`` mark.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrjax.compare.training import RETIME_BELOW_SECONDS, Curves
from lrjax.tune.catalogue import Strategy
from lrjax.tune.report import EDGE_MARKS
from lrjax.tune.result import StrategyRuns
from lrjax.tune.stats import mean_std_ci, rate_at_edge, welch_t_test

__all__ = [
    "ALPHA",
    "CURVE_COLUMNS",
    "SUMMARY_COLUMNS",
    "SWEEP_COLUMNS",
    "TABLE_NOTE",
    "StrategyResult",
    "format_table",
    "marks",
    "ranked",
    "write_csv",
]

ALPHA = 0.05


@dataclasses.dataclass(frozen=True)
class StrategyResult:
    """One strategy's outcome over all seeds.

    Attributes:
      strategy: the row of the strategy table.
      curves: :class:`Curves` as NumPy arrays with a leading seed axis; its
        ``test_accuracy`` holds the test metric (``metric``) per epoch.
      compile_seconds: time to build, trace and compile its runs (tuning
        included; a range test, if it used one).
      run_seconds: time of the timed training calls (every seed and, when
        tuned, every tuning member), after compiling.
      warmup_seconds: time of an untimed first call before it (0 when the
        training call was timed on its first run; see
        :func:`lrjax.compare.train_seeds`).
      rate: the rate the reported seeds ran at (tuned, hand-set, or picked by
        a range test); ``None`` when unknown.
      tuned: whether ``rate`` was chosen by :func:`lrjax.sweep`.
      seed_ids: the seeds of ``curves``; default ``0 .. n-1``.
      sweep: the tuning population (:class:`lrjax.tune.StrategyRuns`), or
        ``None``.
      metric: the test metric's name. Default ``"accuracy"``.
      higher_is_better: whether the metric is maximised.
      member_steps: training steps of the timed calls (seeds x steps, plus
        the tuning members'); default from ``curves``.

    Examples:
        Made-up curves of two seeds over two epochs of 5 steps:

        >>> import numpy as np
        >>> import lrjax.compare
        >>> (row,) = lrjax.compare.select(["cosine"])
        >>> curves = lrjax.compare.Curves(
        ...     train_loss=np.array([[0.5, 0.3], [0.6, 0.3]]),
        ...     test_loss=np.array([[0.4, 0.3], [0.5, 0.3]]),
        ...     test_accuracy=np.array([[0.85, 0.90], [0.88, 0.92]]),
        ...     learning_rate=np.full((2, 10), 0.1))
        >>> result = lrjax.compare.StrategyResult(
        ...     row, curves, compile_seconds=1.0, run_seconds=0.5, rate=0.1)
        >>> result.final_accuracy  # the last epoch's, per seed
        array([0.9 , 0.92])
        >>> result.best_epoch  # of the best mean test accuracy
        2
        >>> result.steps_per_second, result.wall_seconds  # 2 x 10 / 0.5; 1 + 0.5
        (40.0, 1.5)
    """

    strategy: Strategy
    curves: Curves
    compile_seconds: float
    run_seconds: float
    warmup_seconds: float = 0.0
    rate: float | None = None
    tuned: bool = False
    seed_ids: tuple[int, ...] | None = None
    sweep: StrategyRuns | None = None
    metric: str = "accuracy"
    higher_is_better: bool = True
    member_steps: int | None = None

    @property
    def seeds(self) -> int:
        return self.curves.train_loss.shape[0]

    @property
    def seed_list(self) -> tuple[int, ...]:
        return self.seed_ids if self.seed_ids is not None else tuple(range(self.seeds))

    @property
    def final_accuracy(self) -> np.ndarray:
        """The test metric after the last epoch, per seed."""
        return self.curves.test_accuracy[:, -1]

    @property
    def mean_accuracy_curve(self) -> np.ndarray:
        return self.curves.test_accuracy.mean(axis=0)

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the best mean test metric (the first, on ties)."""
        curve = self.mean_accuracy_curve
        return int(np.argmax(curve if self.higher_is_better else -curve)) + 1

    @property
    def steps_per_second(self) -> float:
        """Training steps (members x steps) per second of the timed calls only:
        compilation and warm-up left out, so rows compare like for like."""
        steps = self.member_steps
        if steps is None:
            steps = self.seeds * self.curves.learning_rate.shape[1]
        return steps / self.run_seconds if self.run_seconds > 0 else math.inf

    @property
    def wall_seconds(self) -> float:
        """All the strategy's time: build, compile, warm-up and timed runs."""
        return self.compile_seconds + self.warmup_seconds + self.run_seconds


def _sort_key(result: StrategyResult) -> tuple[float, str]:
    mean = float(np.mean(result.final_accuracy))
    sign = -1.0 if result.higher_is_better else 1.0
    return (sign * mean if math.isfinite(mean) else math.inf, result.strategy.name)


def ranked(results: Sequence[StrategyResult]) -> list[StrategyResult]:
    """Results by mean final test metric, best first (ties by name; NaN last)."""
    return sorted(results, key=_sort_key)


def marks(results: Sequence[StrategyResult], alpha: float = ALPHA) -> dict[str, str]:
    """``best`` for the best mean, ``≈best`` where Welch's t-test against the
    best finds no difference (two-sided p >= ``alpha``), ``?`` where it cannot
    run (under two seeds, or not finite), else empty; by strategy name."""
    order = ranked(results)
    if not order or not math.isfinite(float(np.mean(order[0].final_accuracy))):
        return {r.strategy.name: "?" for r in results}
    best = order[0]
    out = {best.strategy.name: "best"}
    for r in order[1:]:
        p = welch_t_test(r.final_accuracy, best.final_accuracy)[2]
        out[r.strategy.name] = "?" if math.isnan(p) else ("≈best" if p >= alpha else "")
    return out


TABLE_NOTE = (
    "test: the mean ± sample std over the reported seeds and its 95% Student-t "
    "interval;\n         ≈best: Welch's t-test against the best finds no "
    f"difference at {100 * ALPHA:g}% (?: untestable)\n"
    "rate:    the rate the seeds ran at (* tuned by lrjax.sweep on the "
    "validation split;\n         ↑/↓: the highest/lowest rate tuned, the best "
    "may lie beyond it)\nsteps/s: members x steps per second of the timed "
    "training calls alone, after compiling\n         (with --no-tune, also "
    f"after an untimed warm-up call when training takes under "
    f"{RETIME_BELOW_SECONDS:g} s)\n"
    "wall s:  the strategy's whole time: optimizer (range test included), "
    "tuning, compiling, training"
)


def _percent(metric: str) -> bool:
    return metric == "accuracy"


def format_table(results: Sequence[StrategyResult]) -> str:
    """A fixed-width table, best mean test metric first (:data:`TABLE_NOTE`
    says what its columns measure).

    Examples:
        Two rows with made-up results: two seeds each, one epoch of 10 steps,
        0.5 s to train and 1 s to compile. Cosine's 91 ± 1.41 is the mean and
        sample std of 90% and 92%, its interval 91 ± t(0.975, 1) x 1.41 /
        sqrt(2) = 91 ± 12.71; steps/s is 2 x 10 / 0.5:

        >>> import numpy as np
        >>> import lrjax.compare
        >>> def result(row, accuracy):  # accuracy: each seed's, at the end
        ...     curves = lrjax.compare.Curves(
        ...         train_loss=np.full((2, 1), 0.3), test_loss=np.full((2, 1), 0.4),
        ...         test_accuracy=np.array(accuracy)[:, None],
        ...         learning_rate=np.full((2, 10), row.rate))
        ...     return lrjax.compare.StrategyResult(
        ...         row, curves, compile_seconds=1.0, run_seconds=0.5, rate=row.rate)
        >>> cosine, adam = lrjax.compare.select(["cosine", "adam"])
        >>> print(lrjax.compare.format_table(
        ...     [result(adam, [0.80, 0.84]), result(cosine, [0.90, 0.92])]))
          #  strategy              family           rate   test accuracy (%)            95% CI        train loss   steps/s  wall s
        --------------------------------------------------------------------------------------------------------------------------
          1  cosine                decay             0.1        91.00 ± 1.41   [78.29, 103.71]  best         0.3        40     1.5
          2  adam                  adaptive        0.001        82.00 ± 2.83   [56.59, 107.41]  ≈best        0.3        40     1.5
    """
    metric = results[0].metric if results else "accuracy"
    scale = 100.0 if _percent(metric) else 1.0
    title = f"test {metric}{' (%)' if _percent(metric) else ''}"
    mark = marks(results)
    order = ranked(results)
    stats = [[scale * v for v in mean_std_ci(r.final_accuracy)] for r in order]
    places = 2 if _percent(metric) else _decimals([s[0] for s in stats])
    cells = [
        (f"{m:.{places}f} ± {s:.{places}f}", f"[{lo:.{places}f}, {hi:.{places}f}]")
        for m, s, lo, hi in stats
    ]
    spread = max([20, *(len(c[0]) + 2 for c in cells)])
    interval = max([18, *(len(c[1]) + 2 for c in cells)])
    head = (
        f"{'#':>3}  {'strategy':22}{'family':11}{'rate':>10}{title:>{spread}}"
        f"{'95% CI':>{interval}}{'':7}{'train loss':>11}{'steps/s':>10}{'wall s':>8}"
    )
    lines = [head, "-" * len(head)]
    for rank, (r, (middle, ci)) in enumerate(zip(order, cells, strict=True), 1):
        loss = float(r.curves.train_loss[:, -1].mean())
        edge = "" if r.sweep is None else EDGE_MARKS[rate_at_edge(r.sweep)]
        rate = "" if r.rate is None else f"{r.rate:.3g}{'*' if r.tuned else ''}{edge}"
        lines.append(
            f"{rank:3d}  {r.strategy.name:22}{r.strategy.family:11}{rate:>10}"
            f"{middle:>{spread}}{ci:>{interval}}"
            f"  {mark[r.strategy.name]:5}{loss:11.4g}"
            f"{r.steps_per_second:10.0f}{r.wall_seconds:8.1f}"
        )
    return "\n".join(lines)


def _decimals(means: Sequence[float]) -> int:
    """Decimal places giving the smallest nonzero finite ``|mean|`` 3
    significant digits (so every row has at least 3), in ``[0, 8]``: one
    count for the whole column."""
    sizes = [abs(m) for m in means if math.isfinite(m) and m != 0]
    if not sizes:
        return 2
    return min(8, max(0, 2 - math.floor(math.log10(min(sizes)))))


SUMMARY_COLUMNS = (
    "task", "model", "strategy", "family", "tuned", "learning_rate", "seed",
    "test_accuracy", "test_loss", "train_loss", "best_epoch",
    "best_test_accuracy", "final_learning_rate", "compile_seconds",
    "run_seconds", "steps_per_second",
)  # fmt: skip
CURVE_COLUMNS = (
    "task", "model", "strategy", "family", "seed", "epoch", "train_loss",
    "test_loss", "test_accuracy", "learning_rate",
)  # fmt: skip
SWEEP_COLUMNS = (
    "task", "model", "strategy", "family", "learning_rate", "seed", "chosen",
    "steps_trained", "val_accuracy", "val_loss",
)  # fmt: skip


def _named(columns: Sequence[str], metric: str) -> list[str]:
    """The columns with ``accuracy`` read as the metric's name."""
    return [c.replace("accuracy", metric) for c in columns]


def _g(x: Any) -> str:
    return f"{float(x):.6g}"


def _rate(x: Any) -> str:
    """A learning rate at full precision: the shortest text that reads back
    as the same float (float32 for a recorded rate, else float64)."""
    text = str(x) if isinstance(x, np.float32) else repr(float(x))
    return text[:-2] if text.endswith(".0") else text  # "1", as %g writes it


def write_csv(
    results: Sequence[StrategyResult], out_dir: str, task: str = "", model: str = ""
) -> tuple[str, ...]:
    """Writes ``strategies.csv`` (one row per strategy and seed),
    ``strategies_curves.csv`` (one row per strategy, seed and epoch; the rate
    is the one the epoch's last step applied) and, when any strategy was
    tuned, ``sweep.csv`` (one row per strategy, rate and seed of the tuning
    population: its validation metric at its last evaluation, halving's
    stopped rates included). Columns named ``accuracy`` take the metric's
    name. Returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    metric = results[0].metric if results else "accuracy"
    paths = [os.path.join(out_dir, f) for f in ("strategies.csv", "strategies_curves.csv")]  # fmt: skip
    with open(paths[0], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(_named(SUMMARY_COLUMNS, metric))
        for r in ranked(results):
            c, name, family = r.curves, r.strategy.name, r.strategy.family
            rate = "" if r.rate is None else _rate(r.rate)
            for i, seed in enumerate(r.seed_list):
                acc = c.test_accuracy[i]
                best = int(np.argmax(acc if r.higher_is_better else -acc))
                writer.writerow([
                    task, model, name, family, int(r.tuned), rate, seed,
                    _g(acc[-1]), _g(c.test_loss[i, -1]), _g(c.train_loss[i, -1]),
                    best + 1, _g(acc[best]), _rate(c.learning_rate[i, -1]),
                    f"{r.compile_seconds:.3f}", f"{r.run_seconds:.3f}",
                    f"{r.steps_per_second:.1f}",
                ])  # fmt: skip
    with open(paths[1], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(_named(CURVE_COLUMNS, metric))
        for r in ranked(results):
            c = r.curves
            epochs = c.train_loss.shape[1]
            steps = c.learning_rate.shape[1] // epochs
            for i, seed in enumerate(r.seed_list):
                for e in range(epochs):
                    writer.writerow([
                        task, model, r.strategy.name, r.strategy.family, seed, e + 1,
                        _g(c.train_loss[i, e]), _g(c.test_loss[i, e]),
                        _g(c.test_accuracy[i, e]),
                        _rate(c.learning_rate[i, (e + 1) * steps - 1]),
                    ])  # fmt: skip
    tuned = [r for r in ranked(results) if r.sweep is not None]
    if tuned:
        paths.append(os.path.join(out_dir, "sweep.csv"))
        with open(paths[-1], "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(_named(SWEEP_COLUMNS, metric))
            for r in tuned:
                runs = r.sweep
                loss = _last_evaluation(runs, "val_loss")
                for i, rate in enumerate(runs.rates):
                    for j, seed in enumerate(runs.seeds):
                        writer.writerow([
                            task, model, r.strategy.name, r.strategy.family,
                            _rate(rate), int(seed), int(i == runs.chosen),
                            int(runs.steps_trained[i, j]),
                            _g(runs.final_metric[i, j]), _g(loss[i, j]),
                        ])  # fmt: skip
    return tuple(paths)


def _last_evaluation(runs: StrategyRuns, key: str) -> np.ndarray:
    """``(rates, seeds)``: ``key`` at each member's last evaluation (NaN if
    it has none)."""
    values = np.asarray(runs.eval_metrics.get(key, np.full((1, 1, 1), np.nan)))
    if values.shape[:2] != np.shape(runs.final_metric):
        return np.full(np.shape(runs.final_metric), np.nan)
    done = np.asarray(runs.eval_steps)[None, None, :] <= np.asarray(runs.steps_trained)[..., None]  # fmt: skip
    last = np.where(
        done.any(-1), done.shape[-1] - 1 - np.argmax(done[..., ::-1], -1), 0
    )
    picked = np.take_along_axis(values, last[..., None], -1)[..., 0]
    return np.where(done.any(-1), picked, np.nan)
