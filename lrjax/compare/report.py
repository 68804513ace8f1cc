"""What ``lrjax compare`` shows: a ranked table, two CSV files and a figure."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Sequence

import numpy as np

from lrjax.compare.strategies import FAMILIES, Strategy
from lrjax.compare.training import Curves

__all__ = ["StrategyResult", "format_table", "write_csv", "plot_results"]


@dataclasses.dataclass(frozen=True)
class StrategyResult:
    """One strategy's outcome over all seeds.

    Attributes:
      strategy: the row of the strategy table.
      curves: :class:`Curves` as NumPy arrays with a leading seed axis.
      compile_seconds: time to build, trace and compile its run (including a
        range test, if it used one).
      run_seconds: time to train every seed.
    """

    strategy: Strategy
    curves: Curves
    compile_seconds: float
    run_seconds: float

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
        steps = self.seeds * self.curves.learning_rate.shape[1]
        return steps / self.run_seconds if self.run_seconds > 0 else math.inf

    @property
    def wall_seconds(self) -> float:
        return self.compile_seconds + self.run_seconds


def _sort_key(result: StrategyResult) -> tuple[float, str]:
    accuracy = float(result.final_accuracy.mean())
    return (-accuracy if math.isfinite(accuracy) else math.inf, result.strategy.name)


def ranked(results: Sequence[StrategyResult]) -> list[StrategyResult]:
    """Results by decreasing mean final test accuracy (ties by name)."""
    return sorted(results, key=_sort_key)


def format_table(results: Sequence[StrategyResult]) -> str:
    """A fixed-width table, best mean test accuracy first."""
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


def _colours(results: Sequence[StrategyResult]) -> dict[str, tuple]:
    """Each family its colour map; members spread over its darker part."""
    from matplotlib import colormaps

    colours = {}
    for family, cmap_name in FAMILIES.items():
        members = [r.strategy.name for r in results if r.strategy.family == family]
        cmap = colormaps[cmap_name]
        for i, name in enumerate(members):
            shade = 0.9 if len(members) == 1 else 0.45 + 0.5 * i / (len(members) - 1)
            colours[name] = cmap(shade)
    return colours


_STYLES = ("-", "--", "-.", ":")


def plot_results(results: Sequence[StrategyResult], path: str, title: str = "") -> str:
    """Draws the three panels and saves them to ``path``.

    Training loss per epoch, the learning rate per step (on an epoch axis, so
    the panels line up) and test accuracy per epoch, each the mean over seeds
    with a band from the lowest to the highest seed. Families share a colour
    map; the best strategy of each family (by mean final test accuracy) is
    drawn thicker. The legend sits outside the axes.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    families = list(FAMILIES)
    order = sorted(results, key=lambda r: families.index(r.strategy.family))
    colours = _colours(order)
    best = {}
    for r in ranked(results):
        best.setdefault(r.strategy.family, r.strategy.name)
    figure = Figure(figsize=(17, 6.2), layout="constrained")
    loss_ax, rate_ax, acc_ax = figure.subplots(1, 3)
    handles = []
    family_seen: dict[str, int] = {}
    for r in order:
        c, name, family = r.curves, r.strategy.name, r.strategy.family
        index = family_seen.get(family, 0)
        family_seen[family] = index + 1
        leading = best[family] == name
        style = {
            "color": colours[name],
            "linestyle": _STYLES[index % len(_STYLES)],
            "lw": 2.2 if leading else 1.1,
            "alpha": 1.0 if leading else 0.8,
        }
        epochs = np.arange(1, c.train_loss.shape[1] + 1)
        steps_per_epoch = c.learning_rate.shape[1] // c.train_loss.shape[1]
        step_epochs = np.arange(1, c.learning_rate.shape[1] + 1) / steps_per_epoch
        for ax, x, values in (
            (loss_ax, epochs, c.train_loss),
            (rate_ax, step_epochs, c.learning_rate),
            (acc_ax, epochs, c.test_accuracy),
        ):
            if ax is not acc_ax:  # log axes: leave non-positive values out
                values = np.where(values > 0, values, np.nan)
            ax.plot(x, values.mean(axis=0), **style)
            low, high = values.min(axis=0), values.max(axis=0)
            if r.seeds > 1 and np.any(high > low):
                ax.fill_between(x, low, high, color=style["color"], alpha=0.1, lw=0)
        if index == 0:
            handles.append(Line2D([], [], ls="none", label=family.upper()))
        handles.append(Line2D([], [], label=name, **style))

    loss_ax.set(yscale="log", xlabel="epoch", title="training loss (epoch mean)")
    rate_ax.set(
        yscale="log", xlabel="epoch", title="learning rate per step (get_learning_rate)"
    )
    acc_ax.set(xlabel="epoch", title="test accuracy")
    finals = np.array([r.final_accuracy.mean() for r in results])
    finals = finals[np.isfinite(finals)]
    bottom, _ = rate_ax.get_ylim()
    rate_ax.set_ylim(bottom=max(bottom, 1e-5))  # schedules ending at ~0
    if finals.size:
        acc_ax.set_ylim(max(0.0, np.floor(20 * finals.min() - 1) / 20), 1.0)
    for ax in (loss_ax, rate_ax, acc_ax):
        ax.grid(alpha=0.3, which="both", lw=0.5)
    legend = figure.legend(
        handles=handles,
        loc="outside right center",
        fontsize=7.5,
        frameon=False,
        handlelength=2.6,
    )
    for text, handle in zip(legend.get_texts(), handles, strict=True):
        if handle.get_linestyle() in ("None", "none", ""):
            text.set_fontweight("bold")
        elif best.get(_family_of(results, text.get_text())) == text.get_text():
            text.set_fontweight("bold")
    figure.suptitle(
        (title + "\n" if title else "")
        + "lines: mean over seeds; bands: lowest to highest seed; "
        "thick: best of its family",
        fontsize=10,
    )
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def _family_of(results: Sequence[StrategyResult], name: str) -> str | None:
    for r in results:
        if r.strategy.name == name:
            return r.strategy.family
    return None
