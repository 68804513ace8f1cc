"""The figure of ``lrjax compare``: training loss, learning rate, test accuracy
and, when rates were tuned, rate sensitivity (validation metric against rate).

Every strategy has its own colour (:data:`PALETTE`, pairwise distinguishable)
and every family its own dash pattern; strategies whose curves coincide with
an earlier one's are named so in the legend and drawn in alternating dashes
over it, so that neither hides the other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from lrjax.compare.report import StrategyResult, ranked
from lrjax.tune.catalogue import FAMILIES, STRATEGIES, Strategy

__all__ = [
    "FAMILY_DASHES",
    "LineStyle",
    "PALETTE",
    "PANELS",
    "accuracy_limits",
    "coinciding",
    "draw_rate_sensitivity",
    "draw_results",
    "drawing_order",
    "legend_label",
    "plot_results",
    "strategy_styles",
]


# Line colours, one per strategy: a greedy max-min selection in CIELAB from an
# 18-level sRGB grid, of lightness 28..72 (thin lines stay visible on white)
# and chroma >= 20 (no greys, which look alike), each colour the farthest by
# CIEDE2000 from white and from all earlier ones. The first 31 differ pairwise
# by CIE76 Delta-E >= 19.9 (CIEDE2000 >= 15.6), all 40 by >= 14.5, where
# about 2.3 is just noticeable.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#5a5a00", "#d2003c", "#00c300", "#f08700", "#e169ff", "#6900a5",
    "#00c3c3", "#d29696", "#004b4b", "#964b00", "#b4a500", "#00875a", "#875a78",
    "#96a5ff", "#ff3c00", "#00b4ff", "#ff3c96", "#96b496", "#785af0", "#3c4b78",
    "#a58769", "#c30fb4", "#87004b", "#5a8700", "#005a0f", "#008796", "#c3a5d2",
    "#870f00", "#7878a5", "#693c3c", "#96780f", "#b4695a", "#5a3c1e", "#00c387",
    "#ff5a69", "#87875a", "#ff87d2", "#1e3cd2", "#b47896",
)  # fmt: skip

# One dash pattern per family (in FAMILIES order; in units of the line width).
FAMILY_DASHES: tuple[Any, ...] = (
    "-",
    (0, (6, 2)),
    (0, (6, 2, 1.5, 2)),
    (0, (2, 1.2)),
    (0, (6, 2, 1.5, 2, 1.5, 2)),
    (0, (12, 3)),
    (0, (10, 2, 3, 2)),
)

# The panels, what each plots, and how close two strategies' values (every
# seed, every point) must be to count as one curve: within 1% on the log axes
# (0.004 decades, under a pixel: the EMA and heavy-ball forms of momentum
# differ by float rounding, up to 0.14% in the default run) and the same
# accuracy to 1e-4 (the same count of correct test images).
PANELS = ("loss", "rate", "accuracy")
_RTOL = {"loss": 1e-2, "rate": 1e-2, "accuracy": 0.0}
_ATOL = {"loss": 0.0, "rate": 0.0, "accuracy": 1e-4}
# Coinciding lines alternate in dashes of this length (x line width).
_DASH = 4.0


class LineStyle(NamedTuple):
    """How one strategy is drawn: its colour and its family's dash pattern."""

    color: str
    dashes: Any


def strategy_styles(strategies: Sequence[Strategy]) -> dict[str, LineStyle]:
    """Colour and dash pattern of each strategy, by name.

    Colours are :data:`PALETTE`'s in the order given (its first colours are
    the farthest apart, so small selections get the most distinct; past its
    length they repeat). Dash patterns follow the family's position in
    :data:`FAMILIES` (other families after them).
    """
    names = list(dict.fromkeys(s.name for s in strategies))
    families = list(dict.fromkeys([*FAMILIES, *(s.family for s in strategies)]))
    return {
        s.name: LineStyle(
            PALETTE[names.index(s.name) % len(PALETTE)],
            FAMILY_DASHES[families.index(s.family) % len(FAMILY_DASHES)],
        )
        for s in strategies
    }


def drawing_order(results: Sequence[StrategyResult]) -> list[StrategyResult]:
    """By family (:data:`FAMILIES` order), then by :data:`STRATEGIES` order, so
    the legend and the pairs :func:`coinciding` names do not depend on the
    order the results come in (strategies outside the table last)."""
    families, names = list(FAMILIES), [s.name for s in STRATEGIES]

    def key(result: StrategyResult) -> tuple[int, int]:
        family, name = result.strategy.family, result.strategy.name
        return (
            families.index(family) if family in families else len(families),
            names.index(name) if name in names else len(names),
        )

    return sorted(results, key=key)


def _plotted(result: StrategyResult) -> dict[str, np.ndarray]:
    """Each panel's values, every seed; log panels without non-positive values."""
    c = result.curves
    return {
        "loss": np.where(c.train_loss > 0, c.train_loss, np.nan),
        "rate": np.where(c.learning_rate > 0, c.learning_rate, np.nan),
        "accuracy": np.asarray(c.test_accuracy),
    }


def coinciding(results: Sequence[StrategyResult]) -> dict[str, dict[str, str]]:
    """For each strategy, the panels where its curves equal an earlier one's.

    ``{name: {panel: earlier name}}`` over ``results`` in the order given
    (:func:`draw_results` passes :func:`drawing_order`), naming the first
    earlier strategy whose values in that panel (:data:`PANELS`) match at
    every seed and point.
    """
    plotted = [(r.strategy.name, _plotted(r)) for r in results]
    found: dict[str, dict[str, str]] = {}
    for i, (name, mine) in enumerate(plotted):
        found[name] = {}
        for panel in PANELS:
            for other, theirs in plotted[:i]:
                a, b = mine[panel], theirs[panel]
                if a.shape == b.shape and np.allclose(
                    a, b, rtol=_RTOL[panel], atol=_ATOL[panel], equal_nan=True
                ):
                    found[name][panel] = other
                    break
    return found


def legend_label(name: str, partners: dict[str, str]) -> str:
    """``"b (= a)"`` when b's curves equal a's in every panel, else the panels
    that do, e.g. ``"b (loss, accuracy = a)"`` or ``"b (rate = a)"``."""
    if not partners:
        return name
    if set(partners) == set(PANELS) and len(set(partners.values())) == 1:
        return f"{name} (= {partners[PANELS[0]]})"
    by_partner: dict[str, list[str]] = {}
    for panel in PANELS:
        if panel in partners:
            by_partner.setdefault(partners[panel], []).append(panel)
    same = "; ".join(f"{', '.join(p)} = {o}" for o, p in by_partner.items())
    return f"{name} ({same})"


def accuracy_limits(results: Sequence[StrategyResult]) -> tuple[float, float]:
    """Limits of the accuracy axis holding every plotted value (every seed,
    so the bands too, every epoch), with a small margin, within [0, 1]."""
    values = np.concatenate([np.ravel(r.curves.test_accuracy) for r in results])
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    margin = max(0.02 * (high - low), 0.005)
    if results[0].metric != "accuracy":  # a metric of the user's: no bounds
        return low - margin, high + margin
    return max(0.0, low - margin), min(1.0, high + margin)


def draw_results(results: Sequence[StrategyResult], title: str = "") -> Any:
    """The figure of :func:`plot_results`, not saved (a matplotlib Figure)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    order = drawing_order(results)
    styles = strategy_styles([r.strategy for r in order])
    partners = coinciding(order)
    best = {}
    for r in ranked(results):
        best.setdefault(r.strategy.family, r.strategy.name)
    widths = {r.strategy.name: 1.2 for r in order} | {n: 2.4 for n in best.values()}
    tuned = [r for r in order if r.sweep is not None]
    figure = Figure(figsize=(22 if tuned else 17, 6.2), layout="constrained")
    all_axes = figure.subplots(1, 4 if tuned else 3)
    axes = dict(zip(PANELS, all_axes[:3], strict=True))
    if tuned:
        draw_rate_sensitivity(all_axes[3], tuned, styles, widths)
    # Coinciding curves form groups (by the first member) in each panel; the
    # k-th of n members draws every n-th dash, so all n colours show in turn.
    groups: dict[str, dict[str, list[str]]] = {p: {} for p in PANELS}
    for r in order:
        name = r.strategy.name
        for panel in PANELS:
            # Follow the partners back to the group's first member; a name
            # seen twice (two results of one name) ends the walk, never cycles.
            first, seen = partners[name].get(panel, name), {name}
            while first not in seen and panel in partners.get(first, {}):
                seen.add(first)
                first = partners[first][panel]
            groups[panel].setdefault(first, []).append(name)
    handles, bold, family_seen = [], [], set()
    for r in order:
        c, name, family = r.curves, r.strategy.name, r.strategy.family
        epochs = np.arange(1, c.train_loss.shape[1] + 1)
        steps_per_epoch = c.learning_rate.shape[1] // c.train_loss.shape[1]
        step_epochs = np.arange(1, c.learning_rate.shape[1] + 1) / steps_per_epoch
        x_of = {"loss": epochs, "rate": step_epochs, "accuracy": epochs}
        for panel, values in _plotted(r).items():
            ax, x = axes[panel], x_of[panel]
            members = next(g for g in groups[panel].values() if name in g)
            k, n = members.index(name), len(members)
            style = {"color": styles[name].color, "lw": widths[name]}
            if k == 0:
                style["linestyle"] = styles[name].dashes
            else:  # over the group's first line, at its width so dashes align
                style["lw"] = widths[members[0]]
                style["linestyle"] = ((n - k) * _DASH, (_DASH, (n - 1) * _DASH))
                style["zorder"] = 2 + k / n
            ax.plot(x, values.mean(axis=0), **style)
            low, high = values.min(axis=0), values.max(axis=0)
            if k == 0 and r.seeds > 1 and np.any(high > low):
                ax.fill_between(x, low, high, color=style["color"], alpha=0.1, lw=0)
        if family not in family_seen:
            family_seen.add(family)
            bold.append(len(handles))
            handles.append(Line2D([], [], ls="none", label=family.upper()))
        if best[family] == name:
            bold.append(len(handles))
        handles.append(
            Line2D(
                [], [], color=styles[name].color, ls=styles[name].dashes,
                lw=widths[name], label=legend_label(name, partners[name]),
            )
        )  # fmt: skip

    axes["loss"].set(yscale="log", xlabel="epoch", title="training loss (epoch mean)")
    axes["rate"].set(
        yscale="log", xlabel="epoch", title="learning rate per step (get_learning_rate)"
    )
    metric = results[0].metric if results else "accuracy"
    axes["accuracy"].set(xlabel="epoch", title=f"test {metric}")
    bottom, _ = axes["rate"].get_ylim()
    axes["rate"].set_ylim(bottom=max(bottom, 1e-5))  # schedules ending at ~0
    axes["accuracy"].set_ylim(*accuracy_limits(results))
    for ax in axes.values():
        ax.grid(alpha=0.3, which="both", lw=0.5)
    legend = figure.legend(
        handles=handles,
        loc="outside right center",
        fontsize=7.5,
        frameon=False,
        handlelength=3.2,
    )
    for i in bold:
        legend.get_texts()[i].set_fontweight("bold")
    figure.suptitle(
        (title + "\n" if title else "")
        + "lines: mean over seeds; bands: lowest to highest seed; line style: "
        "family; thick: best of its family\n(= a) in the legend: the same curves "
        "as a, drawn in alternating dashes over them",
        fontsize=10,
    )
    return figure


def draw_rate_sensitivity(
    ax: Any,
    results: Sequence[StrategyResult],
    styles: dict[str, LineStyle],
    widths: dict[str, float],
) -> None:
    """Each tuned strategy's validation metric at the end of tuning against
    its rate (log axis): the mean over the tuning seeds (line), their lowest to
    highest (band), rates halving stopped early hollow (their value is from an
    earlier evaluation), and the chosen rate starred."""
    for r in results:
        runs, style = r.sweep, styles[r.strategy.name]
        rates = np.asarray(runs.rates, np.float64)
        order = np.argsort(rates)
        values = np.asarray(runs.final_metric, np.float64)[order]
        finite = np.isfinite(values)
        count = finite.sum(axis=1)
        mean = np.where(finite, values, 0.0).sum(axis=1) / np.maximum(count, 1)
        mean = np.where(count > 0, mean, np.nan)
        low = np.where(count > 0, np.where(finite, values, np.inf).min(axis=1), np.nan)
        high = np.where(
            count > 0, np.where(finite, values, -np.inf).max(axis=1), np.nan
        )
        trained = np.asarray(runs.steps_trained)[order]
        early = np.any(trained < trained.max(), axis=1)
        x = rates[order]
        ax.plot(x, mean, color=style.color, ls=style.dashes, lw=widths[r.strategy.name])
        ax.plot(x[~early], mean[~early], "o", color=style.color, ms=4)
        ax.plot(x[early], mean[early], "o", color=style.color, ms=4, mfc="white")
        ok = np.isfinite(low) & np.isfinite(high)
        if r.sweep.seeds.size > 1 and np.any(ok & (high > low)):
            ax.fill_between(x, low, high, where=ok, color=style.color, alpha=0.1, lw=0)
        if runs.chosen is None:  # every rate diverged: nothing to star
            continue
        chosen = int(np.flatnonzero(order == runs.chosen)[0])
        if np.isfinite(mean[chosen]):
            ax.plot(x[chosen], mean[chosen], "*", color=style.color, ms=13,
                    mec="black", mew=0.7, zorder=4)  # fmt: skip
    metric = results[0].metric
    ax.set(xscale="log", xlabel="initial (peak) learning rate",
           title=f"rate sensitivity: validation {metric} after tuning\n"
           "(* chosen; hollow: stopped early by halving)")  # fmt: skip
    ax.grid(alpha=0.3, which="both", lw=0.5)


def plot_results(results: Sequence[StrategyResult], path: str, title: str = "") -> str:
    """Draws the three panels and saves them to ``path``.

    Training loss per epoch, the learning rate per step (on an epoch axis, so
    the panels line up) and test accuracy per epoch (its axis holds the whole
    curves, bands included), each the mean over seeds with a band from the
    lowest to the highest seed. Each strategy has its own colour, each family
    its own dash pattern (:func:`strategy_styles`); the best strategy of each
    family (by mean final test accuracy) is drawn thicker. Curves equal to an
    earlier strategy's (:func:`coinciding`) are named in the legend, e.g.
    ``"ema-momentum (= constant)"``, and drawn in alternating dashes over it.
    The legend sits outside the axes. When strategies were tuned a fourth
    panel shows rate sensitivity (:func:`draw_rate_sensitivity`).
    """
    figure = draw_results(results, title)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
