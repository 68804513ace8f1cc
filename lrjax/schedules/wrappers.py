"""Schedule wrappers: bounds ("redwood" learning rate) and epoch indexing."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, check_type
from lrjax.schedules._common import (
    as_step,
    as_value,
    check_not_above,
    split_step,
    step_arg,
)

__all__ = ["clip_schedule", "per_epoch_schedule"]


def as_schedule(
    name: str, schedule: Schedule | ArrayLike
) -> Callable[[ArrayLike], ArrayLike]:
    if callable(schedule):
        return schedule
    check_non_negative(name, schedule)
    constant = schedule
    return lambda step: jnp.full(jnp.shape(as_step(step)), constant, jnp.float32)


def clip_schedule(
    schedule: Schedule | ArrayLike,
    min_value: ArrayLike | None = None,
    max_value: ArrayLike | None = None,
) -> Schedule:
    r"""Keeps a schedule inside ``[min_value, max_value]``.

    .. math::
        \eta_t = \min(\max(s(t), \eta_{min}), \eta_{max})

    The articles' bounded ("redwood") learning rate, e.g.
    ``clip_schedule(linear_schedule(0.1, 0.0, 1000), min_value=1e-3)`` for
    ``max(1e-3, 0.1 (1 - t / 1000))``. PyTorch/Keras/optax: no built-in
    equivalent (PyTorch's ``eta_min``/``min_lr`` arguments bound single
    schedulers).

    Args:
      schedule: a schedule ``step -> rate`` (or a constant rate).
      min_value: the lower bound, ``>= 0``, or ``None`` for none.
      max_value: the upper bound, ``>= min_value``, or ``None`` for none.

    Returns:
      A schedule ``step -> float32 rate``; ``step`` reaches ``schedule``
      unchanged.

    Examples:
        >>> import lrjax
        >>> decay = lrjax.linear_schedule(0.1, 0.0, transition_steps=1000)
        >>> schedule = lrjax.clip_schedule(decay, min_value=1e-3)
        >>> for t in (500, 1000):  # max(1e-3, 0.1 * (1 - t / 1000))
        ...     print(t, f"{float(schedule(t)):.4f}")
        500 0.0500
        1000 0.0010
    """
    inner = as_schedule("schedule", schedule)
    if min_value is not None:
        check_non_negative("min_value", min_value)
    if max_value is not None:
        check_non_negative("max_value", max_value)
    if min_value is not None and max_value is not None:
        check_not_above("min_value", min_value, "max_value", max_value)

    def clipped(step: ArrayLike) -> jax.Array:
        rate = as_value(inner(step))
        if min_value is not None:
            rate = jnp.maximum(rate, jnp.asarray(min_value, jnp.float32))
        if max_value is not None:
            rate = jnp.minimum(rate, jnp.asarray(max_value, jnp.float32))
        return as_value(rate)

    return clipped


def per_epoch_schedule(
    schedule: Schedule | ArrayLike, steps_per_epoch: int, staircase: bool = True
) -> Schedule:
    r"""Turns an epoch-indexed schedule into a step-indexed one.

    .. math::
        \eta_t = s(e), \quad e = \lfloor t / n \rfloor
        \ \text{(staircase)} \quad \text{or} \quad e = t / n

    with ``n = steps_per_epoch``. With ``staircase=True`` the rate changes
    only at epoch boundaries, as a PyTorch scheduler stepped once per epoch
    or Keras's ``LearningRateScheduler`` callback; with ``staircase=False``
    the wrapped schedule receives the fractional epoch as a float32 step
    (lrjax and optax schedules interpolate it). optax: none (scale the
    schedule's step arguments by hand).

    Args:
      schedule: an epoch-indexed schedule ``epoch -> rate`` (or a constant).
      steps_per_epoch: ``n``, an integer in ``[1, 2**31 - 1]`` (steps are
        int32).
      staircase: pass whole epochs (int32) instead of fractional ones.

    Returns:
      A schedule ``step -> float32 rate``.

    Examples:
        >>> import lrjax
        >>> by_epoch = lrjax.step_decay_schedule(0.1, step_size=2, decay_rate=0.5)
        >>> schedule = lrjax.per_epoch_schedule(by_epoch, steps_per_epoch=100)
        >>> for t in (199, 200):  # by_epoch(floor(t / 100)): epoch 1, then epoch 2
        ...     print(t, f"{float(schedule(t)):.4f}")
        199 0.1000
        200 0.0500
    """
    inner = as_schedule("schedule", schedule)
    steps_per_epoch = step_arg("steps_per_epoch", steps_per_epoch, minimum=1)
    check_type("staircase", staircase, bool)

    def stepped(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        epoch = whole // steps_per_epoch
        if staircase:
            return as_value(inner(epoch))
        rest = (whole - epoch * steps_per_epoch).astype(jnp.float32) + frac
        return as_value(inner(epoch.astype(jnp.float32) + rest / steps_per_epoch))

    return stepped
