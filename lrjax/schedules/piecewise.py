"""Piecewise and joined schedules, with optax's names.

Constructors take optax 0.2.8's arguments, order and defaults and give its
values. Boundaries are compared with the int32 step, so jumps land on exact
steps up to ``2**31 - 1``. Differences from optax, all on inputs it would
silently misread: negative boundaries and non-increasing ``join_schedules``
boundaries raise ``ValueError``; ``join_schedules`` gives its schedules steps
clamped at 0 rather than negative ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import (
    check_increasing,
    check_non_negative,
    check_one_of,
    check_type,
)
from lrjax.schedules._common import (
    as_step,
    as_value,
    check_finite,
    phase_fractions,
    shaped,
    shift,
    split_step,
    step_arg,
)
from lrjax.schedules._phases import anneal

__all__ = [
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "join_schedules",
]


def _sorted_scales(
    boundaries_and_scales: Mapping[Any, Any] | None,
) -> tuple[list[int], list[Any]]:
    """Validated ``(boundaries, scales)`` sorted by boundary."""
    if boundaries_and_scales is None:
        return [], []
    check_type("boundaries_and_scales", boundaries_and_scales, Mapping)
    items = []
    for boundary, scale in boundaries_and_scales.items():
        boundary = step_arg("boundaries_and_scales (a boundary)", boundary)
        check_non_negative(f"boundaries_and_scales[{boundary}]", scale)
        items.append((boundary, scale))
    items.sort(key=lambda item: item[0])
    return [b for b, _ in items], [s for _, s in items]


def piecewise_constant_schedule(
    init_value: ArrayLike,
    boundaries_and_scales: dict[int, float] | None = None,
) -> Schedule:
    """Constant pieces: ``init_value`` times every scale whose boundary is past.

    Formula, for ``boundaries_and_scales = {b_k: s_k}``::

        lr(t) = init_value * prod(s_k for b_k <= t)

    Equivalents: optax ``piecewise_constant_schedule``; PyTorch
    ``MultiStepLR(milestones=[b_k], gamma=s)`` when all ``s_k = s``; Keras
    ``PiecewiseConstantDecay(boundaries=[b_k - 1], values=...)`` (Keras
    switches after its boundary, optax and lrjax at it).

    Args:
      init_value: value before the first boundary.
      boundaries_and_scales: ``{step: scale}``, steps ``>= 0``, scales ``>= 0``;
        ``None`` or ``{}`` gives a constant schedule.

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.piecewise_constant_schedule(1.0, {30: 0.1, 80: 0.1})
        >>> for t in (29, 30, 80):  # 1.0 times every scale whose boundary is <= t
        ...     print(t, f"{float(schedule(t)):.4f}")
        29 1.0000
        30 0.1000
        80 0.0100
    """
    check_finite("init_value", init_value)
    boundaries, scales = _sorted_scales(boundaries_and_scales)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, _ = split_step(step)
        value = as_value(init_value)
        for boundary, scale in zip(boundaries, scales, strict=True):
            value = value * jnp.where(whole >= boundary, scale, 1.0)
        return shaped(value, step)

    return schedule


def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: ArrayLike,
    boundaries_and_scales: dict[int, float] | None = None,
) -> Schedule:
    """Linear or cosine interpolation between accumulated scaled values.

    With sorted boundaries ``0 = b_0 < b_1 < ... < b_n`` (``b_0 = 0`` added)
    and values ``v_0 = init_value``, ``v_k = v_{k-1} * s_k``: on ``[b_k,
    b_{k+1})`` the schedule goes from ``v_k`` to ``v_{k+1}`` with
    ``pct = (t - b_k) / (b_{k+1} - b_k)``::

        linear: v_k + (v_{k+1} - v_k) * pct
        cosine: v_{k+1} + (v_k - v_{k+1}) * (1 + cos(pi * pct)) / 2

    and holds ``v_n`` from ``b_n`` on. The scales multiply the value reached,
    they are not values themselves (as in optax).

    Equivalents: optax ``piecewise_interpolate_schedule``; PyTorch
    ``SequentialLR`` of ``LinearLR`` (or ``CosineAnnealingLR``) pieces.

    Args:
      interpolate_type: ``"linear"`` or ``"cosine"``.
      init_value: value at step 0.
      boundaries_and_scales: ``{step: scale}``, steps ``>= 0``, scales
        ``>= 0``; ``None`` or ``{}`` gives a constant schedule.

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> scales = {10: 0.5, 20: 0.1}
        >>> schedule = lrjax.piecewise_interpolate_schedule("linear", 1.0, scales)
        >>> for t in (5, 10, 15, 20):  # values 1 -> 0.5 -> 0.05, linear in between
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.7500
        10 0.5000
        15 0.2750
        20 0.0500
    """
    check_one_of("interpolate_type", interpolate_type, ("linear", "cosine"))
    cosine = interpolate_type == "cosine"
    check_finite("init_value", init_value)
    boundaries, scales = _sorted_scales(boundaries_and_scales)
    bounds = [0, *boundaries]

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        values = [as_value(init_value)]
        for scale in scales:
            values.append(values[-1] * scale)
        value = jnp.broadcast_to(values[-1], whole.shape)
        for k in reversed(range(len(bounds) - 1)):
            low, high = bounds[k], bounds[k + 1]
            done, left = phase_fractions(whole, frac, low, max(high - low, 1))
            inside = (whole >= low) & (whole < high)
            piece = anneal(values[k], values[k + 1], done, left, cosine)
            value = jnp.where(inside, piece, value)
        return shaped(value, step)

    return schedule


def _local_step(
    step: jax.Array, whole: jax.Array, frac: jax.Array, offset: int
) -> jax.Array:
    """What the schedule started at ``offset`` sees: ``step - offset`` (>= 0).

    Integer steps stay int32; float steps stay float32, with their fraction.
    """
    local, local_frac = shift(whole, frac, offset)
    if jnp.issubdtype(step.dtype, jnp.floating):
        return local.astype(jnp.float32) + local_frac
    return local


def join_schedules(
    schedules: Sequence[Schedule],
    boundaries: Sequence[int],
) -> Schedule:
    """Run ``schedules`` one after another, switching at ``boundaries``.

    Formula, with ``b_0 = 0``: for ``b_k <= t < b_{k+1}``,
    ``lr(t) = schedules[k](t - b_k)``; the last schedule runs from
    ``b_{n-1}`` on. Each schedule sees its own step count from 0.

    Equivalents: optax ``join_schedules``; PyTorch ``SequentialLR(
    schedulers, milestones=boundaries)``.

    Args:
      schedules: callables ``step -> value`` (lrjax, optax or your own); they
        receive int32 steps for integer steps and float32 steps otherwise.
      boundaries: ``len(schedules) - 1`` strictly increasing steps in
        ``[0, 2**31 - 1]`` (steps are int32).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> warmup = lrjax.linear_schedule(0.0, 1.0, transition_steps=10)
        >>> decay = lrjax.cosine_decay_schedule(1.0, decay_steps=100)
        >>> schedule = lrjax.join_schedules([warmup, decay], boundaries=[10])
        >>> for t in (5, 10, 60, 110):  # warmup(t), then decay(t - 10)
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.5000
        10 1.0000
        60 0.5000
        110 0.0000
    """
    schedules = list(schedules)
    if not schedules:
        raise ValueError("schedules must hold at least one schedule, got [].")
    for k, fn in enumerate(schedules):
        if not callable(fn):
            raise TypeError(f"schedules[{k}] must be callable, got {fn!r}.")
    boundaries = [step_arg(f"boundaries[{k}]", b) for k, b in enumerate(boundaries)]
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"boundaries must hold len(schedules) - 1 = {len(schedules) - 1} "
            f"steps, got {len(boundaries)}: {boundaries!r}."
        )
    check_increasing("boundaries", boundaries)

    def schedule(step: ArrayLike) -> jax.Array:
        step = as_step(step)
        whole, frac = split_step(step)
        value = as_value(schedules[0](_local_step(step, whole, frac, 0)))
        for boundary, fn in zip(boundaries, schedules[1:], strict=True):
            later = as_value(fn(_local_step(step, whole, frac, boundary)))
            value = jnp.where(whole < boundary, value, later)
        return shaped(value, step)

    return schedule
