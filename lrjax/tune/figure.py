"""The four-panel figure of a sweep (:meth:`SweepResult.plot`, re-exported by
:mod:`lrjax.tune.report`).

Only the fields of :class:`~lrjax.tune.result.SweepResult` and
:class:`~lrjax.tune.result.StrategyRuns` are read, so synthetic results with
the same fields work too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lrjax.tune.result import SweepResult

__all__ = ["plot", "strategy_colours"]


def _over_seeds(x: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """Mean, min and max over ``axis`` of the finite values (NaN where there
    are none: stopped or diverged members leave gaps, not warnings)."""
    x = np.asarray(x, np.float64)
    finite = np.isfinite(x)
    count = finite.sum(axis)
    mean = np.where(finite, x, 0.0).sum(axis) / np.maximum(count, 1)
    low = np.where(finite, x, np.inf).min(axis)
    high = np.where(finite, x, -np.inf).max(axis)
    none = count == 0
    return tuple(np.where(none, np.nan, v) for v in (mean, low, high))


def _positive(x: np.ndarray) -> np.ndarray:
    """NaN for values a log axis cannot show."""
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, np.nan)


def strategy_colours(names: list[str]) -> dict[str, Any]:
    """One qualitative colour per strategy: tab10's for up to 10, else tab20's
    (repeating past 20)."""
    import matplotlib

    palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"].colors
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def _band(ax: Any, x: np.ndarray, low: np.ndarray, high: np.ndarray, colour) -> None:
    where = np.isfinite(low) & np.isfinite(high)
    if np.any(where & (high > low)):
        ax.fill_between(x, low, high, where=where, color=colour, alpha=0.15, lw=0)


def plot(result: SweepResult, path: str | None = None) -> Figure:
    """Draws the sweep in four panels and saves it to ``path`` when given.

    (a) rate sensitivity: each rate's final metric, the mean over seeds (line
    and markers) and the seeds' min..max (band), on a log rate axis, with the
    chosen rate starred, rates stopped early (halving) hollow and rates where
    a seed's metric is not finite (it diverged) crossed at the top: how wide
    each strategy's good range is;
    (b) the chosen rate's training loss per step (log axis; mean over seeds
    and band); (c) the learning rate the chosen members applied per step,
    every seed (schedules, and the schedules PBT discovers; dotted, and said
    in the legend, for a strategy whose state records no rate: its curve is
    the base rate, not a schedule it may apply); (d) the
    selection metric at each evaluation of the chosen rate (mean and band).
    Means and bands use the finite values only, so stopped members (NaN) leave
    gaps. A strategy with no chosen rate (every rate diverged) appears in (a)
    and the legend only. The metric's axes are logarithmic when lower is better and every
    value is positive. Needs matplotlib (the ``examples`` extra).

    Returns:
      The :class:`matplotlib.figure.Figure` (not registered with pyplot).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = list(result.strategies)
    colours = strategy_colours(names)
    metric = result.metric
    seen = np.concatenate([
        np.ravel(np.asarray(a, np.float64))
        for runs in result.strategies.values()
        for a in (runs.final_metric, runs.eval_metrics[metric])
    ])  # fmt: skip
    seen = seen[np.isfinite(seen)]
    log_metric = (
        not result.higher_is_better and seen.size > 0 and bool(np.all(seen > 0))
    )
    shown = _positive if log_metric else (lambda x: np.asarray(x, np.float64))

    figure = Figure(figsize=(13, 9.5), layout="constrained")
    (sens, loss_ax), (rate_ax, eval_ax) = figure.subplots(2, 2)
    handles = []
    for name, runs in result.strategies.items():
        c, chosen = colours[name], runs.chosen
        rates = np.asarray(runs.rates, np.float64)
        order = np.argsort(rates)
        final = np.asarray(runs.final_metric, np.float64)[order]
        mean, low, high = (shown(v) for v in _over_seeds(final, axis=1))
        # Rates stopped early (successive halving) get hollow markers: their
        # metric is from an earlier evaluation than the survivors'.
        trained = np.asarray(runs.steps_trained)[order]
        early = np.any(trained < trained.max(), axis=1)
        sens.plot(rates[order], mean, "o-", color=c, ms=5, lw=1.5,
                  markevery=list(np.flatnonzero(~early)))  # fmt: skip
        if np.any(early):
            sens.plot(rates[order][early], mean[early], "o", ls="none", color=c,
                      ms=5, mfc="white")  # fmt: skip
        _band(sens, rates[order], low, high, c)
        at = None if chosen is None else int(np.flatnonzero(order == chosen)[0])
        if at is not None and np.isfinite(mean[at]):
            sens.plot(rates[chosen], mean[at], "*", color=c, ms=15, mec="black",
                      mew=0.8, zorder=4)  # fmt: skip
        diverged = ~np.all(np.isfinite(final), axis=1)
        if np.any(diverged):  # at the top of the axes: their values are not finite
            sens.plot(rates[order][diverged], np.ones(diverged.sum()), "x",
                      color=c, ms=8, mew=2, transform=sens.get_xaxis_transform(),
                      clip_on=False)  # fmt: skip
        if chosen is None:  # every rate diverged: no chosen members to draw
            handles.append(
                Line2D([], [], color=c, lw=2, label=f"{name} (no rate chosen)")
            )
            continue

        loss = np.asarray(runs.train_loss, np.float64)[chosen]
        steps = np.arange(1, loss.shape[-1] + 1)
        mean, low, high = (_positive(v) for v in _over_seeds(loss, axis=0))
        loss_ax.plot(steps, mean, color=c, lw=1.2)
        _band(loss_ax, steps, low, high, c)

        recorded = getattr(runs, "records_rate", True)
        for seed_rates in np.asarray(runs.learning_rate, np.float64)[chosen]:
            rate_ax.plot(steps, _positive(seed_rates), color=c, lw=1.0, alpha=0.8,
                         ls="-" if recorded else ":")  # fmt: skip

        evals = np.asarray(runs.eval_metrics[metric], np.float64)[chosen]
        eval_steps = np.asarray(runs.eval_steps)
        mean, low, high = (shown(v) for v in _over_seeds(evals, axis=0))
        eval_ax.plot(eval_steps, mean, "o-", color=c, ms=3, lw=1.5)
        _band(eval_ax, eval_steps, low, high, c)
        label = f"{name} (rate {rates[chosen]:.3g})"
        if not recorded:
            label += "; (c): base rate, the state records no schedule"
        handles.append(
            Line2D([], [], color=c, lw=2, ls="-" if recorded else ":", label=label)
        )
    handles += [
        Line2D([], [], ls="none", marker="*", ms=12, color="grey", mec="black",
               label="chosen rate"),
        Line2D([], [], ls="none", marker="x", ms=8, mew=2, color="grey",
               label="a seed diverged (not finite)"),
        Line2D([], [], ls="none", marker="o", ms=5, color="grey", mfc="white",
               label="stopped early (halving)"),
        Patch(color="grey", alpha=0.3, label="seeds' min..max"),
    ]  # fmt: skip

    yscale = "log" if log_metric else "linear"
    sens.set(xscale="log", yscale=yscale, xlabel="initial (peak) learning rate",
             ylabel=metric, title="(a) rate sensitivity: final metric per rate")  # fmt: skip
    loss_ax.set(yscale="log", xlabel="step", ylabel="training loss",
                title="(b) training loss of the chosen rate")  # fmt: skip
    rate_ax.set(yscale="log", xlabel="step", ylabel="learning rate",
                title="(c) learning rate applied by the chosen members")  # fmt: skip
    eval_ax.set(yscale=yscale, xlabel="step", ylabel=metric,
                title=f"(d) {metric} of the chosen rate at each evaluation")  # fmt: skip
    for ax in (sens, loss_ax, rate_ax, eval_ax):
        ax.grid(alpha=0.3, which="both", lw=0.5)
    figure.legend(handles=handles, loc="outside lower center", frameon=False,
                  ncol=min(len(handles), 4))  # fmt: skip
    better = "higher" if result.higher_is_better else "lower"
    figure.suptitle(
        f"{result.method} sweep, {metric} ({better} is better); lines: mean over "
        "seeds, bands: lowest to highest seed"
    )
    if path is not None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure
