"""Warmup: warmup-stable-decay, and a warmup in front of any schedule."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, check_one_of
from lrjax.schedules._common import (
    as_step,
    as_value,
    cosine_weight,
    float_step,
    int_step,
    interpolate,
    phase_fractions,
    split_step,
    step_arg,
)
from lrjax.schedules.wrappers import as_schedule

__all__ = ["warmup_stable_decay_schedule", "warmup_schedule"]

_MAX_STEP = 2**31 - 1


def _f32(value: chex.Numeric) -> jax.Array:
    return jnp.asarray(value, jnp.float32)


def warmup_stable_decay_schedule(
    peak_value: chex.Numeric,
    warmup_steps: int,
    stable_steps: int,
    decay_steps: int,
    init_value: chex.Numeric = 0.0,
    end_value: chex.Numeric = 0.0,
    decay_type: str = "linear",
) -> Schedule:
    r"""Warmup-stable-decay (WSD, "trapezoidal"): rise, hold, cool down.

    With ``W, S, D`` the three phase lengths and ``q = (t - W - S) / D``:

    .. math::
        \eta_t = \begin{cases}
          \eta_{init} + (\eta_{peak} - \eta_{init})\, t / W & t < W \\
          \eta_{peak} & W \le t < W + S \\
          \eta_{end} + (\eta_{peak} - \eta_{end})\, f(q) & W + S \le t < W + S + D \\
          \eta_{end} & t \ge W + S + D
        \end{cases}

    with cooldown shape ``f(q) = 1 - q`` (``"linear"``),
    ``(1 + \cos \pi q) / 2`` (``"cosine"``) or ``1 - \sqrt{q}`` (``"sqrt"``,
    the 1-sqrt cooldown of Hägele et al. 2024, *Scaling Laws and
    Compute-Optimal Training Beyond Fixed Training Durations*). WSD is
    described by Hu et al. 2024 (*MiniCPM*). PyTorch: ``SequentialLR`` of
    ``LinearLR``, ``ConstantLR`` and a decay; Keras: none; optax:
    ``join_schedules`` of three schedules.

    Args:
      peak_value: the rate held during the stable phase, ``>= 0``.
      warmup_steps: ``W``, an integer ``>= 0``.
      stable_steps: ``S``, an integer ``>= 0``.
      decay_steps: ``D``, an integer ``>= 1``; ``W + S + D <= 2**31 - 1``
        (steps are int32).
      init_value: the rate at step 0, ``>= 0``.
      end_value: the rate reached at ``W + S + D`` and held after, ``>= 0``.
      decay_type: ``"linear"``, ``"cosine"`` or ``"sqrt"``.

    Returns:
      A schedule ``step -> float32 rate``, between the smallest and largest of
      ``init_value``, ``peak_value`` and ``end_value``.
    """
    check_non_negative("peak_value", peak_value)
    check_non_negative("init_value", init_value)
    check_non_negative("end_value", end_value)
    warmup_steps = step_arg("warmup_steps", warmup_steps)
    stable_steps = step_arg("stable_steps", stable_steps)
    decay_steps = step_arg("decay_steps", decay_steps, minimum=1)
    check_one_of("decay_type", decay_type, ("linear", "cosine", "sqrt"))
    decay_start = warmup_steps + stable_steps
    if decay_start + decay_steps > _MAX_STEP:
        raise ValueError(
            "warmup_steps + stable_steps + decay_steps must be <= 2**31 - 1, got "
            f"{warmup_steps} + {stable_steps} + {decay_steps}."
        )
    horizon = decay_start + decay_steps

    def schedule(step: chex.Numeric) -> jax.Array:
        whole, frac = split_step(step)
        peak, init, end = _f32(peak_value), _f32(init_value), _f32(end_value)
        if warmup_steps > 0:
            up, rest = phase_fractions(whole, frac, 0, warmup_steps)
            warm = interpolate(init, peak, up, rest)
        else:
            warm = peak
        done, left = phase_fractions(whole, frac, decay_start, decay_steps)
        if decay_type == "linear":
            stay, go = left, done
        elif decay_type == "cosine":
            stay, go = cosine_weight(left), cosine_weight(done)
        else:
            # 1 - sqrt(q) as (1 - q) / (1 + sqrt(q)): no cancellation near q = 1.
            root = jnp.sqrt(done)
            stay, go = left / (1.0 + root), root
        cool = interpolate(peak, end, go, stay)
        rate = jnp.where(whole < decay_start, peak, cool)
        rate = jnp.where(whole < warmup_steps, warm, rate)
        rate = jnp.where(whole >= horizon, end, rate)
        return as_value(rate)

    return schedule


def warmup_schedule(
    schedule: Schedule | chex.Numeric,
    warmup_steps: int,
    init_value: chex.Numeric = 0.0,
    warmup_type: str = "linear",
) -> Schedule:
    r"""Prepends a warmup to any schedule.

    The warmup rises from ``init_value`` to ``schedule(0)`` over ``W`` steps;
    then the wrapped schedule runs, shifted by ``W``:

    .. math::
        \eta_t = \begin{cases}
          \eta_{init} + (s(0) - \eta_{init})\, w(t / W) & t < W \\
          s(t - W) & t \ge W
        \end{cases}

    with ``w(x) = x`` (``"linear"``) or ``w(x) = (1 - \cos \pi x) / 2``
    (``"cosine"``). PyTorch: ``SequentialLR([LinearLR(start_factor), ...],
    milestones=[W])``; Keras: the linear warmup built into ``CosineDecay``
    (``warmup_target``, ``warmup_steps``); optax:
    ``join_schedules([linear_schedule(...), schedule], [W])``.

    Args:
      schedule: a schedule ``step -> rate`` (or a constant rate).
      warmup_steps: ``W``, an integer ``>= 0`` (0 returns ``schedule`` as is,
        as float32).
      init_value: the rate at step 0, ``>= 0``.
      warmup_type: ``"linear"`` or ``"cosine"``.

    Returns:
      A schedule ``step -> float32 rate``.
    """
    inner = as_schedule("schedule", schedule)
    warmup_steps = step_arg("warmup_steps", warmup_steps)
    check_non_negative("init_value", init_value)
    check_one_of("warmup_type", warmup_type, ("linear", "cosine"))

    def warmed(step: chex.Numeric) -> jax.Array:
        step = as_step(step)
        if jnp.issubdtype(step.dtype, jnp.floating):
            t = float_step(step)
            shifted = jnp.maximum(t - warmup_steps, 0.0)
            before = t < warmup_steps
        else:
            s = int_step(step)
            shifted = jnp.maximum(s - warmup_steps, 0)
            before = s < warmup_steps
        after = as_value(inner(shifted))
        if warmup_steps == 0:
            return after
        target = as_value(inner(0))
        whole, frac = split_step(step)
        done, left = phase_fractions(whole, frac, 0, warmup_steps)
        if warmup_type == "cosine":
            # (1 - cos(pi x)) / 2 and its complement, each without cancellation.
            done, left = cosine_weight(done), cosine_weight(left)
        warm = interpolate(_f32(init_value), target, done, left)
        return as_value(jnp.where(before, warm, after))

    return warmed
