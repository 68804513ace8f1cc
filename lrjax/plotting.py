"""Pictures of schedules.

matplotlib is an optional dependency (the ``examples`` extra); it is imported
only when a plot is asked for, so ``import lrjax`` never needs it.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from lrjax._base import Schedule
from lrjax._validation import check_positive_int

__all__ = ["plot_schedule", "schedule_values"]

_INSTALL_HINT = (
    "plot_schedule needs matplotlib, which lrjax does not install by default: "
    'run `pip install "lrjax[examples]"` (or `pip install matplotlib`).'
)


def schedule_values(schedule: Schedule, num_steps: int) -> np.ndarray:
    """``schedule`` at steps ``0 .. num_steps - 1``, as a float64 NumPy array.

    The schedule is called once, on the whole ``jnp.arange`` step array (every
    lrjax schedule is element-wise). A schedule that ignores its step, such as
    ``constant_schedule``, may return a scalar: it is broadcast.
    """
    check_positive_int("num_steps", num_steps)
    steps = jnp.arange(num_steps, dtype=jnp.int32)
    values = np.asarray(schedule(steps), dtype=np.float64)
    return np.broadcast_to(values, (num_steps,)).copy()


def plot_schedule(
    schedule: Schedule,
    num_steps: int,
    ax: Any = None,
    label: str | None = None,
    **plot_kwargs: Any,
) -> Any:
    """Draws ``schedule`` (learning rate against step) for steps ``0 .. num_steps-1``.

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
