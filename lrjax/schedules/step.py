"""Step-wise and inverse-power decays.

PyTorch's ``StepLR`` and ``MultiStepLR``, Keras's ``InverseTimeDecay`` and the
Transformer's inverse-square-root schedule. Floor divisions and milestone
comparisons run on the int32 step, so boundaries are exact up to
``2**31 - 1``; only the position inside a period becomes float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, check_type
from lrjax.schedules._common import (
    F32_MAX,
    as_value,
    check_factor,
    geometric,
    int_step,
    interpolate,
    is_concrete,
    log_factor,
    phase_fractions,
    saturate,
    split_step,
    step_arg,
)

__all__ = [
    "step_decay_schedule",
    "multistep_decay_schedule",
    "inverse_time_decay_schedule",
    "inverse_sqrt_schedule",
]


def _f32(value: chex.Numeric) -> jax.Array:
    return jnp.asarray(value, jnp.float32)


def step_decay_schedule(
    init_value: chex.Numeric, step_size: int, decay_rate: chex.Numeric = 0.1
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
    """
    check_non_negative("init_value", init_value)
    step_size = step_arg("step_size", step_size, minimum=1)
    check_factor("decay_rate", decay_rate)
    log_rate = log_factor(decay_rate)

    def schedule(step: chex.Numeric) -> jax.Array:
        count = int_step(step) // step_size
        return as_value(saturate(_f32(init_value) * geometric(log_rate, count)))

    return schedule


def multistep_decay_schedule(
    init_value: chex.Numeric,
    milestones: Sequence[int],
    decay_rate: chex.Numeric = 0.1,
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
    """
    check_non_negative("init_value", init_value)
    check_factor("decay_rate", decay_rate)
    marks = tuple(sorted(step_arg("milestones", m) for m in milestones))
    if is_concrete(decay_rate):
        with np.errstate(over="ignore"):
            powers = np.power(float(decay_rate), np.arange(len(marks) + 1.0))
        factors = jnp.asarray(np.minimum(powers, F32_MAX).astype(np.float32))
    else:
        factors = geometric(log_factor(decay_rate), jnp.arange(len(marks) + 1))

    def schedule(step: chex.Numeric) -> jax.Array:
        s = int_step(step)
        if marks:
            passed = jnp.sum(s[..., None] >= jnp.asarray(marks, jnp.int32), axis=-1)
        else:
            passed = jnp.zeros_like(s)
        return as_value(saturate(_f32(init_value) * factors[passed]))

    return schedule


def inverse_time_decay_schedule(
    init_value: chex.Numeric,
    decay_steps: int,
    decay_rate: chex.Numeric,
    staircase: bool = False,
) -> Schedule:
    r"""Decays the rate ever more slowly, as ``1 / (1 + r t / k)``.

    .. math::
        \eta_t = \frac{\eta_0}{1 + r \, p}, \quad
        p = t / k \ \text{(or } \lfloor t / k \rfloor \text{ with staircase)}

    Equals Keras ``InverseTimeDecay(init_value, decay_steps, decay_rate,
    staircase)``. PyTorch has no built-in equivalent (``LambdaLR`` with this
    factor). The articles' "decays ever more slowly" schedule.

    Args:
      init_value: the rate ``eta_0`` at step 0, ``>= 0``.
      decay_steps: the time scale ``k`` in steps, an integer in
        ``[1, 2**31 - 1]`` (steps are int32).
      decay_rate: the rate ``r``, ``>= 0``.
      staircase: decay in discrete jumps every ``decay_steps`` steps.

    Returns:
      A schedule ``step -> float32 rate``, non-increasing.
    """
    check_non_negative("init_value", init_value)
    decay_steps = step_arg("decay_steps", decay_steps, minimum=1)
    check_non_negative("decay_rate", decay_rate)
    check_type("staircase", staircase, bool)

    def schedule(step: chex.Numeric) -> jax.Array:
        whole, frac = split_step(step)
        periods = whole // decay_steps
        p = periods.astype(jnp.float32)
        if not staircase:
            rest = (whole - periods * decay_steps).astype(jnp.float32) + frac
            p = p + rest / decay_steps
        return as_value(_f32(init_value) / (1.0 + _f32(decay_rate) * p))

    return schedule


def inverse_sqrt_schedule(
    peak_value: chex.Numeric, warmup_steps: int, init_value: chex.Numeric = 0.0
) -> Schedule:
    r"""Linear warmup, then decay as the inverse square root of the step.

    .. math::
        \eta_t = \begin{cases}
          \eta_{init} + (\eta_{peak} - \eta_{init})\, t / W & t < W \\
          \eta_{peak} \sqrt{W / t} & t \ge W
        \end{cases}

    The "Noam" schedule of Vaswani et al. (2017), *Attention Is All You
    Need*, written with its peak value instead of ``d_model ** -0.5``; both
    pieces equal ``peak_value`` at ``t = W``. PyTorch/Keras: no built-in
    (``LambdaLR`` / a custom ``LearningRateSchedule``); optax: none
    (``optax.join_schedules`` of a linear warmup and a custom decay).

    Args:
      peak_value: the rate at the end of warmup, ``>= 0``.
      warmup_steps: ``W``, an integer in ``[1, 2**31 - 1]`` (steps are int32).
      init_value: the rate at step 0, ``>= 0``.

    Returns:
      A schedule ``step -> float32 rate``, positive and decreasing to 0 after
      the warmup.
    """
    check_non_negative("peak_value", peak_value)
    check_non_negative("init_value", init_value)
    warmup_steps = step_arg("warmup_steps", warmup_steps, minimum=1)

    def schedule(step: chex.Numeric) -> jax.Array:
        whole, frac = split_step(step)
        t = whole.astype(jnp.float32) + frac
        peak, init = _f32(peak_value), _f32(init_value)
        done, left = phase_fractions(whole, frac, 0, warmup_steps)
        warm = interpolate(init, peak, done, left)
        decay = peak * jnp.sqrt(warmup_steps / jnp.maximum(t, float(warmup_steps)))
        return as_value(jnp.where(whole < warmup_steps, warm, decay))

    return schedule
