"""Reading a range test's curve: the rules that pick a rate, their median
over seeds, and the plot.

``steepest``: the rate where the smoothed loss falls fastest against
``log(rate)`` (Smith, 2017, "Cyclical Learning Rates for Training Neural
Networks": where the loss starts falling fast). ``valley``: two thirds of the
way down the longest (not necessarily contiguous) falling run of the
smoothed loss, after fast.ai's default ``valley`` (described as about two
thirds down; fast.ai's code takes about the middle of the run).
``min_loss_div_10``: the rate at the lowest smoothed loss, divided by 10.

Every rule reads the curve from :func:`settling_points` on, where the
bias-corrected average has settled (before, each batch moves it by
``1 / (t + 1)`` of its deviation, and that noise made the sweep's second point
the steepest), to the point before the last (the one that diverged, or
``max_lr``).

``benchmarks/range_test_rules.py`` chose the default and the skip: 6 problems
(least squares, logistic regression, MLPs on two moons and on 20-d 5-class
blobs, softmax regression on the blobs, a CNN on 8x8 bars) x SGD with momentum
0.9 and Adam x 5 seeds x 3 sweeps (1e-7..10 in 100 and 200 steps, 1e-4..10 in
100); 300 training steps at each pick against the best of 13 rates 1e-5..10.
Score ``(loss(pick) - loss(best)) / (loss(untrained) - loss(best))`` (0: as
good as the best rate, 1: no better than not training): mean / the worst
(problem, optimizer, sweep) cell's mean / the worst run:

========================  ==================  ==================  ==================
skip                      steepest            valley              min_loss_div_10
========================  ==================  ==================  ==================
none (steepest: 1)        0.61 / 1.00 / 1.00  0.11 / 0.82 / 0.92  0.05 / 0.46 / 1.00
10 (Lightning's)          0.18 / 1.20 / 4.88  0.08 / 0.73 / 0.89  0.02 / 0.15 / 0.23
EMA settled (34 at 0.98)  0.09 / 1.20 / 4.88  0.03 / 0.37 / 0.59  0.02 / 0.15 / 0.23
========================  ==================  ==================  ==================

``min_loss_div_10`` is the default: the best worst case, 94% of runs within
0.1, and once the first points are skipped it does not move with ``min_lr`` or
the skip's length. The EMA-settled skip is the best of these for the other
two rules; ``valley`` starts its falling run where the skip ends, so it moves
with both (skipping a third of the sweep brings it to 0.02 / 0.10 / 0.25, a
skip tuned to these sweeps).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from jax.typing import ArrayLike

__all__ = [
    "DEFAULT_RULE",
    "RULES",
    "all_picks",
    "median_rate",
    "min_loss_div_10",
    "pick",
    "plot_result",
    "settling_points",
    "steepest",
    "valley",
]


def settling_points(num_steps: int, smoothing: float) -> int:
    """Points skipped at the start of the sweep.

    The bias-corrected average weighs the newest loss by
    ``(1 - smoothing) / (1 - smoothing**(t + 1))``; the rules start once that
    is at most twice its limit ``1 - smoothing``, from the first ``t`` with
    ``smoothing**(t + 1) <= 1/2``: they skip
    ``ceil(log(1/2) / log(smoothing)) - 1`` points (34 for 0.98, 6 for 0.9),
    at least the first (one batch's loss) and at most half the sweep (a short
    sweep keeps points to read).
    """
    settle = math.ceil(math.log(0.5) / math.log(smoothing)) - 1 if smoothing > 0 else 1
    return max(1, min(settle, num_steps // 2))


def _window(smoothed: ArrayLike, skip: int) -> tuple[int, int]:
    """Indices ``[first, end)`` of the points a rule reads: from ``skip`` to
    the one before the last. Like :func:`settling_points`' cap on a short
    sweep, a curve that stopped early skips at most half its points (at least
    one point is read)."""
    n = len(np.asarray(smoothed))
    end = max(n - 1, 1)
    return max(min(skip, n // 2, end - 1), 0), end


def steepest(rates: ArrayLike, smoothed: ArrayLike, skip: int) -> float:
    """Rate at the most negative slope ``d smoothed / d log(rate)``.

    Slopes are central differences over the whole curve, so the point before
    the last sees the jump into a diverged last point (measured: one-sided
    differences inside the window, blind to it, picked rates at the edge of
    divergence and did worse, mean score 0.12 against 0.09).
    """
    r = np.asarray(rates, np.float64)
    s = np.asarray(smoothed, np.float64)
    first, end = _window(s, skip)
    if len(s) < 3:
        return float(r[first])
    slope = np.gradient(s, np.log(r))[first:end]
    slope = np.where(np.isfinite(slope), slope, np.inf)
    return float(r[first + int(np.argmin(slope))])


def valley(rates: ArrayLike, smoothed: ArrayLike, skip: int) -> float:
    """Two thirds into the longest (not necessarily contiguous) falling run."""
    first, end = _window(smoothed, skip)
    r = np.asarray(rates, np.float64)[first:end]
    s = np.asarray(smoothed, np.float64)[first:end]
    n = len(s)
    length = np.ones(n, np.int64)
    start = np.arange(n)
    for i in range(1, n):
        # Longest falling run ending at i: extend the best one ending at an
        # earlier, higher point (quadratic, fine for a few hundred points).
        higher = np.nonzero(s[:i] > s[i])[0]
        if higher.size:
            j = higher[np.argmax(length[higher])]
            length[i], start[i] = length[j] + 1, start[j]
    last = int(np.argmax(length))
    head = int(start[last])
    return float(r[head + (2 * (last - head)) // 3])


def min_loss_div_10(rates: ArrayLike, smoothed: ArrayLike, skip: int) -> float:
    """Rate at the lowest smoothed loss, divided by 10."""
    first, end = _window(smoothed, skip)
    s = np.asarray(smoothed, np.float64)[first:end]
    return float(np.asarray(rates)[first + int(np.argmin(s))]) / 10.0


RULES: dict[str, Callable[[ArrayLike, ArrayLike, int], float]] = {
    "steepest": steepest,
    "valley": valley,
    "min_loss_div_10": min_loss_div_10,
}
# Chosen by benchmarks/range_test_rules.py: see the table above.
DEFAULT_RULE = "min_loss_div_10"


def pick(rule: str, rates: ArrayLike, smoothed: ArrayLike, skip: int) -> float:
    """``RULES[rule]`` on the finite part of the curve."""
    s = np.asarray(smoothed)
    finite = np.isfinite(s)
    return RULES[rule](np.asarray(rates)[finite], s[finite], skip)


def all_picks(
    rates: ArrayLike, smoothed: ArrayLike, skip: int, which: str = ""
) -> dict[str, float]:
    """Every rule's pick from one sweep's curve; ``which`` names the sweep in
    the error raised when no point is finite."""
    finite = np.isfinite(np.asarray(smoothed))
    if not finite.any():
        raise ValueError(
            f"find_learning_rate: the loss{which} was not finite at the smallest "
            "rate; check loss_fn and params, or lower min_lr."
        )
    n = int(finite.sum())
    if n - 1 <= skip:
        # The rules were meant to start where the average has settled; on
        # an early-diverging curve they can only read its second half.
        warnings.warn(
            f"find_learning_rate: the sweep{which} diverged after {n} points, "
            f"before the {skip} its rules skip while the smoothed loss settles; "
            "they read the second half of those points, and the pick may sit "
            "where the loss already rises. Lower min_lr (or max_lr) so that "
            "the sweep spans the falling part of the curve.",
            stacklevel=3,
        )
    return {name: pick(name, rates, smoothed, skip) for name in RULES}


def median_rate(picks: ArrayLike) -> float:
    """The middle pick; for an even count, the geometric mean of the middle
    two (rates live on a log scale)."""
    p = np.sort(np.asarray(picks, np.float64))
    mid = len(p) // 2
    if len(p) % 2:
        return float(p[mid])
    return float(math.sqrt(p[mid - 1] * p[mid]))


PICK_COLORS = {
    "steepest": "tab:red",
    "valley": "tab:green",
    "min_loss_div_10": "tab:purple",
}


def plot_result(result: Any, ax: Any = None, *, show_raw: bool = True) -> Any:
    """Draws a :class:`~lrjax.RangeTestResult` (see its ``plot``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    rates, raw, smooth = result.learning_rates, result.losses, result.smoothed_losses
    low = smooth
    many = smooth.ndim == 2
    if many:
        with warnings.catch_warnings():
            # A step where every seed had stopped is all NaN: drawn as a gap.
            warnings.simplefilter("ignore", RuntimeWarning)
            raw = np.nanmedian(raw, axis=0)
            low, high = np.nanmin(smooth, axis=0), np.nanmax(smooth, axis=0)
            smooth = np.nanmedian(smooth, axis=0)
        label = f"min..max of {len(result.seeds)} seeds"
        ax.fill_between(rates, low, high, alpha=0.25, label=label)
    prefix = "median " if many else ""
    if show_raw:
        ax.plot(rates, raw, color="0.75", lw=1, label=f"{prefix}loss")
    ax.plot(rates, smooth, lw=2, label=f"{prefix}smoothed loss")
    for name, color in PICK_COLORS.items():
        rate = getattr(result, name)
        tag = " (suggestion)" if name == result.rule else ""
        ax.axvline(rate, color=color, ls="--", lw=1, label=f"{name}{tag}: {rate:.3g}")
    if result.suggestion_range is not None:
        ax.axvspan(*result.suggestion_range, color=PICK_COLORS[result.rule], alpha=0.1)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    finite = np.isfinite(smooth) & np.isfinite(low)
    if finite.any():
        # From the start's level down to the lowest point: the diverging tail
        # would flatten everything else.
        lo, hi = low[finite].min(), smooth[finite][0]
        if hi > lo:
            ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.5 * (hi - lo))
    ax.legend(fontsize="small")
    return ax
