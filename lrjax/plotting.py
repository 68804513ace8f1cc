"""Looking at schedules: their values, turning points and plots.

matplotlib is an optional dependency (the ``examples`` extra); it is imported
only when a plot is asked for, so ``import lrjax`` never needs it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax._base import Schedule
from lrjax._validation import check_positive_int

__all__ = [
    "format_rate",
    "plot_schedule",
    "schedule_values",
    "schedule_values_at",
    "turning_points",
    "find_turning_points",
]

# Schedules longer than this are searched on a grid of this many steps.
DENSE_LIMIT = 2**22
_MAX_REFINED = 60

_INSTALL_HINT = (
    "plot_schedule needs matplotlib, which lrjax does not install by default: "
    'run `pip install "lrjax[examples]"` (or `pip install matplotlib`).'
)


def format_rate(value: Any, digits: int = 5) -> str:
    """A learning rate (or any real number) as text, to ``digits`` significant digits.

    float32 holds about 7.2 digits, and a rate computed through ``exp`` and
    ``log`` (a geometric decay after many steps) carries a few float32 ulps of
    rounding, up to ~1e-6 relative: five digits hide that noise, so
    ``float32(0.001)`` (``0.0010000000474974513``), a computed ``0.0010000002``
    and ``0.1 * 0.1**5`` computed as ``9.999994e-07`` print ``0.001`` and
    ``1e-06``, while rates that differ in their 4th or 5th digit keep their
    difference. Numbers below ``1e-4`` or from ``10**digits`` on use
    scientific notation (``1e-07``, ``2.5e-05``); ``nan`` and ``inf`` print as
    such. The text reads back with ``float()``.

    Args:
      value: a Python, NumPy or JAX real scalar.
      digits: significant digits, a positive int. Default 5.

    Returns:
      The shortest ``%g``-style text of ``value`` at that precision.
    """
    check_positive_int("digits", digits)
    return f"{float(value):.{digits}g}"


def schedule_values_at(schedule: Schedule, steps: Any) -> np.ndarray:
    """``schedule`` at an array of integer ``steps``, called once on all of them.

    The call is jitted (one compilation, not one per operation) unless the
    schedule cannot be traced, e.g. a NumPy function of the step, which is
    then called eagerly. A schedule that ignores its step, such as
    ``constant_schedule``, may return a scalar: it is broadcast. Integer
    results come back as float64, float results keep their dtype.
    """
    steps = jnp.asarray(steps, jnp.int32)
    try:
        values = jax.jit(schedule)(steps)
    except jax.errors.JAXTypeError:  # not traceable: evaluate eagerly
        values = schedule(steps)
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    return np.broadcast_to(values, steps.shape).copy()


def schedule_values(schedule: Schedule, num_steps: int) -> np.ndarray:
    """``schedule`` at steps ``0 .. num_steps - 1`` (see ``schedule_values_at``)."""
    check_positive_int("num_steps", num_steps)
    if num_steps > 2**31:
        raise ValueError(f"num_steps must be at most 2**31, got {num_steps}.")
    return schedule_values_at(schedule, np.arange(num_steps))


def plot_schedule(
    schedule: Schedule,
    num_steps: int,
    ax: Any = None,
    label: str | None = None,
    **plot_kwargs: Any,
) -> Any:
    """Draws ``schedule``: learning rate against step, for ``num_steps`` steps.

    Args:
      schedule: any function ``step -> learning rate`` that accepts an array of
        steps, such as every schedule in ``lrjax.schedules``.
      num_steps: how many steps to draw, a positive int.
      ax: the matplotlib ``Axes`` to draw in; by default the current axes of
        ``matplotlib.pyplot`` (so successive calls overlay their curves).
      label: the curve's legend label; when given, the legend is (re)drawn.
      **plot_kwargs: passed on to ``Axes.plot`` (colour, line style, ...).

    Returns:
      The ``Axes`` drawn in.

    Raises:
      ImportError: matplotlib is not installed (``pip install "lrjax[examples]"``).
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    values = schedule_values(schedule, num_steps)
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    ax.plot(np.arange(num_steps), values, label=label, **plot_kwargs)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if label is not None:
        ax.legend()
    return ax


def turning_points(
    steps: np.ndarray,
    values: np.ndarray,
    rel_tol: float = 1e-6,
    ratio: float = 4.0,
) -> dict[int, list[str]]:
    """The turning points of a schedule sampled at increasing ``steps``.

    With the changes ``d[i] = values[i+1] - values[i]``, a change of at most
    ``rel_tol`` times the largest ``|value|`` counting as none (float32
    rounding):

    * ``jump``: the first step after a change more than ``ratio`` times larger
      than both changes next to it and larger than 0.1% of the value range;
    * ``max`` / ``min``: a local extremum whose prominence (its height above
      the higher of the lowest values reached on its either side before a
      higher peak, as in ``scipy.signal.find_peaks``) exceeds the rounding
      tolerance; the first step of a flat extremum;
    * ``kink``: a slope change (second difference) more than ``ratio`` times
      larger than those either side, away from jumps: piecewise-linear corners,
      warmup ends, triangle peaks. A smooth bend is no kink;
    * ``plateau start`` / ``plateau end``: the first and last step of a run of
      equal values (a stable phase, the held final value, a staircase step)
      spanning at least 0.1% of the samples, except at the first and last
      sample (shorter runs are float32 quantisation of slow curves).

    Args:
      steps: the sampled steps, increasing.
      values: the schedule at ``steps``.
      rel_tol: the rounding tolerance, relative to the largest ``|value|``.
      ratio: how much a change must stand out to be a jump or a kink.

    Returns:
      ``{step: [kind, ...]}`` for every turning point.
    """
    from scipy.signal import find_peaks  # a dependency of jax

    v = np.asarray(values, np.float64)
    steps = np.asarray(steps)
    found: dict[int, list[str]] = {}
    if v.size < 2 or not np.all(np.isfinite(v)):
        return found
    tol = rel_tol * max(float(np.max(np.abs(v))), np.finfo(np.float64).tiny)

    def mark(index: np.ndarray, kind: str) -> None:
        for i in np.asarray(index, int):
            found.setdefault(int(steps[i]), []).append(kind)

    def stands_out(x: np.ndarray, floor: float) -> np.ndarray:
        size = np.abs(x)
        left = np.concatenate([[0.0], size[:-1]])
        right = np.concatenate([size[1:], [0.0]])
        return (size > floor) & (size > ratio * left) & (size > ratio * right)

    d = np.diff(v)
    jumps = stands_out(d, max(tol, 1e-3 * float(np.ptp(v))))
    mark(np.flatnonzero(jumps) + 1, "jump")

    # Extrema by prominence: immune to float32 wiggles and to slow curves
    # whose every single change is below the tolerance.
    for kind, signal in (("max", v), ("min", -v)):
        _, found_peaks = find_peaks(signal, prominence=tol, plateau_size=1)
        mark(found_peaks["left_edges"], kind)

    # Kinks: second differences standing out, away from jumps. The raw
    # changes are used: zeroing small ones would fake curvature.
    if d.size >= 2:
        kink = stands_out(np.diff(d), tol) & ~jumps[:-1] & ~jumps[1:]
        mark(np.flatnonzero(kink) + 1, "kink")

    # Plateaus: long enough runs of equal values.
    edges = np.diff(np.concatenate([[0], (d == 0.0).astype(int), [0]]))
    starts = np.flatnonzero(edges == 1)  # first step of a run
    ends = np.flatnonzero(edges == -1)  # last step of a run
    long_enough = ends - starts >= max(1, v.size // 1000)
    starts, ends = starts[long_enough], ends[long_enough]
    mark(starts[starts > 0], "plateau start")
    mark(ends[ends < v.size - 1], "plateau end")
    return found


def find_turning_points(schedule: Schedule, num_steps: int) -> dict[int, list[str]]:
    """The turning points of ``schedule`` over steps ``0 .. num_steps - 1``.

    Kinds and their definitions are those of ``turning_points``. The schedule
    is evaluated at every step; beyond ``DENSE_LIMIT`` steps, on an evenly
    spaced grid of ``DENSE_LIMIT`` steps, and then the first 60 points found
    are searched again at every step between their grid neighbours (an
    extremum goes to its first arg-max/min there); a kind that this search
    does not confirm keeps its grid position.
    """
    check_positive_int("num_steps", num_steps)
    if num_steps <= DENSE_LIMIT:
        return turning_points(
            np.arange(num_steps), schedule_values(schedule, num_steps)
        )
    grid = np.unique(np.round(np.linspace(0, num_steps - 1, DENSE_LIMIT)).astype(int))
    coarse = turning_points(grid, schedule_values_at(schedule, grid))
    chosen = sorted(coarse)[:_MAX_REFINED]
    position = {int(step): i for i, step in enumerate(grid)}
    windows = [
        np.arange(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)] + 1)
        for i in (position[step] for step in chosen)
    ]
    if not windows:
        return {}
    sizes = np.cumsum([w.size for w in windows])[:-1]
    dense = np.split(schedule_values_at(schedule, np.concatenate(windows)), sizes)
    refined: dict[int, list[str]] = {}
    for step, window, values in zip(chosen, windows, dense, strict=True):
        local = turning_points(window, values)
        for kind in coarse[step]:
            if kind in ("max", "min"):
                pick = np.argmax if kind == "max" else np.argmin
                where = [int(window[pick(values)])]
            else:
                where = [s for s, kinds in local.items() if kind in kinds] or [step]
            for found in where:
                kinds = refined.setdefault(found, [])
                if kind not in kinds:
                    kinds.append(kind)
    for step in sorted(coarse)[_MAX_REFINED:]:  # beyond the refined ones
        refined.setdefault(step, list(coarse[step]))
    return refined
