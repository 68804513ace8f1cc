"""Inverse decays: the rate falls as ``1 / (1 + r t / k)`` or ``1 / sqrt(t)``.

Keras's ``InverseTimeDecay`` and the Transformer's inverse-square-root
("Noam") schedule. Period counts run on the int32 step, so ``staircase``
jumps and the end of the warmup land on their exact steps up to
``2**31 - 1``; only the position inside a period becomes float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, check_type
from lrjax.schedules._common import (
    as_value,
    interpolate,
    phase_fractions,
    split_step,
    step_arg,
)

__all__ = ["inverse_time_decay_schedule", "inverse_sqrt_schedule"]


def inverse_time_decay_schedule(
    init_value: ArrayLike,
    decay_steps: int,
    decay_rate: ArrayLike,
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

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.inverse_time_decay_schedule(1.0, 10, decay_rate=1.0)
        >>> for t in (0, 10, 15, 30):  # 1 / (1 + t / 10)
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 1.0000
        10 0.5000
        15 0.4000
        30 0.2500
    """
    check_non_negative("init_value", init_value)
    decay_steps = step_arg("decay_steps", decay_steps, minimum=1)
    check_non_negative("decay_rate", decay_rate)
    check_type("staircase", staircase, bool)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        periods = whole // decay_steps
        p = periods.astype(jnp.float32)
        if not staircase:
            rest = (whole - periods * decay_steps).astype(jnp.float32) + frac
            p = p + rest / decay_steps
        return as_value(as_value(init_value) / (1.0 + as_value(decay_rate) * p))

    return schedule


def inverse_sqrt_schedule(
    peak_value: ArrayLike, warmup_steps: int, init_value: ArrayLike = 0.0
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

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.inverse_sqrt_schedule(1.0, warmup_steps=100)
        >>> for t in (50, 100, 400):  # t / 100, then sqrt(100 / t)
        ...     print(t, f"{float(schedule(t)):.4f}")
        50 0.5000
        100 1.0000
        400 0.5000
    """
    check_non_negative("peak_value", peak_value)
    check_non_negative("init_value", init_value)
    warmup_steps = step_arg("warmup_steps", warmup_steps, minimum=1)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        t = whole.astype(jnp.float32) + frac
        peak, init = as_value(peak_value), as_value(init_value)
        done, left = phase_fractions(whole, frac, 0, warmup_steps)
        warm = interpolate(init, peak, done, left)
        decay = peak * jnp.sqrt(warmup_steps / jnp.maximum(t, float(warmup_steps)))
        return as_value(jnp.where(whole < warmup_steps, warm, decay))

    return schedule
