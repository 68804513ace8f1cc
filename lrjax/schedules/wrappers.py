"""Schedule wrappers: bounds ("redwood" learning rate) and epoch indexing."""

from __future__ import annotations

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp

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
    name: str, schedule: Schedule | chex.Numeric
) -> Callable[[chex.Numeric], chex.Numeric]:
    if callable(schedule):
        return schedule
    check_non_negative(name, schedule)
    constant = schedule
    return lambda step: jnp.full(jnp.shape(as_step(step)), constant, jnp.float32)


def clip_schedule(
    schedule: Schedule | chex.Numeric,
    min_value: chex.Numeric | None = None,
    max_value: chex.Numeric | None = None,
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
    """
    inner = as_schedule("schedule", schedule)
    if min_value is not None:
        check_non_negative("min_value", min_value)
    if max_value is not None:
        check_non_negative("max_value", max_value)
    if min_value is not None and max_value is not None:
        check_not_above("min_value", min_value, "max_value", max_value)

    def clipped(step: chex.Numeric) -> jax.Array:
        rate = as_value(inner(step))
        if min_value is not None:
            rate = jnp.maximum(rate, jnp.asarray(min_value, jnp.float32))
        if max_value is not None:
            rate = jnp.minimum(rate, jnp.asarray(max_value, jnp.float32))
        return as_value(rate)

    return clipped


def per_epoch_schedule(
    schedule: Schedule | chex.Numeric, steps_per_epoch: int, staircase: bool = True
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
    """
    inner = as_schedule("schedule", schedule)
    steps_per_epoch = step_arg("steps_per_epoch", steps_per_epoch, minimum=1)
    check_type("staircase", staircase, bool)

    def stepped(step: chex.Numeric) -> jax.Array:
        whole, frac = split_step(step)
        epoch = whole // steps_per_epoch
        if staircase:
            return as_value(inner(epoch))
        rest = (whole - epoch * steps_per_epoch).astype(jnp.float32) + frac
        return as_value(inner(epoch.astype(jnp.float32) + rest / steps_per_epoch))

    return stepped
