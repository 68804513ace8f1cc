"""Step decays: the rate drops by a factor every period or at milestones.

PyTorch's ``StepLR`` and ``MultiStepLR``. Floor divisions and milestone
comparisons run on the int32 step, so the drops land on their exact steps up
to ``2**31 - 1``; ``decay_rate ** n`` takes ``log(decay_rate)`` in float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax._base import Schedule
from lrjax._validation import check_non_negative
from lrjax.schedules._common import (
    F32_MAX,
    as_value,
    check_factor,
    geometric,
    int_step,
    log_factor,
    saturate,
    step_arg,
)

__all__ = ["step_decay_schedule", "multistep_decay_schedule"]


def step_decay_schedule(
    init_value: ArrayLike, step_size: int, decay_rate: ArrayLike = 0.1
) -> Schedule:
    r"""Multiplies the rate by ``decay_rate`` every ``step_size`` steps.

    .. math::
        \eta_t = \eta_0 \cdot r^{\lfloor t / k \rfloor}

    Equals PyTorch ``StepLR(optimizer, step_size=k, gamma=r)`` (base rate
    ``init_value``) at every step, for every ``gamma >= 0`` PyTorch accepts,
    and optax ``exponential_decay(init_value, k, r, staircase=True)`` for
    ``r > 0``. ``r ** n`` is ``exp(n * log(r))`` with ``log(r)`` taken in
    float64 at construction (float32 precision for ``r = 0.9999`` too).

    Args:
      init_value: the rate ``eta_0`` at step 0, ``>= 0``.
      step_size: the period ``k`` in steps, an integer in ``[1, 2**31 - 1]``
        (steps are int32).
      decay_rate: the factor ``r >= 0``: ``0`` drops the rate to 0 after the
        first period; ``r > 1`` grows it, saturating at the largest float32
        (PyTorch's ``gamma > 1``). A negative factor, which would flip the
        sign of the rate, raises ``ValueError``.

    Returns:
      A schedule ``step -> float32 rate``.

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.step_decay_schedule(1.0, step_size=30, decay_rate=0.1)
        >>> for t in (29, 30, 60):  # 0.1 ** floor(t / 30)
        ...     print(t, f"{float(schedule(t)):.4f}")
        29 1.0000
        30 0.1000
        60 0.0100
    """
    check_non_negative("init_value", init_value)
    step_size = step_arg("step_size", step_size, minimum=1)
    check_factor("decay_rate", decay_rate)
    log_rate = log_factor(decay_rate)

    def schedule(step: ArrayLike) -> jax.Array:
        count = int_step(step) // step_size
        return as_value(saturate(as_value(init_value) * geometric(log_rate, count)))

    return schedule


def multistep_decay_schedule(
    init_value: ArrayLike,
    milestones: Sequence[int],
    decay_rate: ArrayLike = 0.1,
) -> Schedule:
    r"""Multiplies the rate by ``decay_rate`` at each milestone step.

    .. math::
        \eta_t = \eta_0 \cdot r^{\#\{m_i \le t\}}

    Equals PyTorch ``MultiStepLR(optimizer, milestones, gamma=r)`` at every
    step (the decay applies from the milestone step itself on), milestones
    in any order and repeated ones included: like PyTorch, lrjax sorts them
    and applies ``r`` once per repeat. optax equivalent (distinct
    milestones): ``piecewise_constant_schedule(init_value, {m: r for m in
    milestones})``. The factors ``r ** n`` are computed in float64 at
    construction (when ``r`` is concrete) and rounded once.

    Args:
      init_value: the rate ``eta_0`` before the first milestone, ``>= 0``.
      milestones: integer steps in ``[0, 2**31 - 1]`` (steps are int32), in
        any order; a repeated milestone counts once per repeat.
      decay_rate: the factor ``r``, ``>= 0`` (``> 1`` grows the rate).

    Returns:
      A schedule ``step -> float32 rate``.

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.multistep_decay_schedule(1.0, milestones=[30, 80])
        >>> for t in (29, 30, 80):  # 0.1 ** (number of milestones <= t)
        ...     print(t, f"{float(schedule(t)):.4f}")
        29 1.0000
        30 0.1000
        80 0.0100
    """
    check_non_negative("init_value", init_value)
    check_factor("decay_rate", decay_rate)
    marks = tuple(sorted(step_arg("milestones", m) for m in milestones))
    if num.is_concrete(decay_rate):
        with np.errstate(over="ignore"):
            powers = np.power(float(decay_rate), np.arange(len(marks) + 1.0))
        factors = jnp.asarray(np.minimum(powers, F32_MAX).astype(np.float32))
    else:
        factors = geometric(log_factor(decay_rate), jnp.arange(len(marks) + 1))

    def schedule(step: ArrayLike) -> jax.Array:
        s = int_step(step)
        if marks:
            passed = jnp.sum(s[..., None] >= jnp.asarray(marks, jnp.int32), axis=-1)
        else:
            passed = jnp.zeros_like(s)
        return as_value(saturate(as_value(init_value) * factors[passed]))

    return schedule
