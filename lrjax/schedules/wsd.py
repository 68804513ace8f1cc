"""Warmup-stable-decay (WSD, "trapezoidal"): rise, hold, cool down.

The schedule of long pre-training runs whose length is not fixed in advance:
the stable phase can be extended and the cooldown started from any
checkpoint. Its warmup and phase boundaries follow the rules of
:mod:`lrjax.schedules.warmup`: int32-exact steps, both ends of each phase
exact under ``jit``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, check_one_of
from lrjax.schedules._common import (
    as_value,
    cosine_weight,
    interpolate,
    phase_fractions,
    split_step,
    step_arg,
)

__all__ = ["cooldown_weights", "warmup_stable_decay_schedule"]

_MAX_STEP = 2**31 - 1


def cooldown_weights(
    done: jax.Array, left: jax.Array, decay_type: str
) -> tuple[jax.Array, jax.Array]:
    """The weights ``(f(q), 1 - f(q))`` of the peak and end values in a cooldown.

    ``done`` and ``left`` are the fractions ``q`` and ``1 - q`` of the cooldown
    run and still to run (:func:`lrjax.schedules._common.phase_fractions`);
    ``f`` is the cooldown shape of ``decay_type``. Each weight is computed
    without cancellation, so both ends are exact.
    """
    if decay_type == "linear":
        return left, done
    if decay_type == "cosine":
        return cosine_weight(left), cosine_weight(done)
    # 1 - sqrt(q) as (1 - q) / (1 + sqrt(q)): no cancellation near q = 1.
    root = jnp.sqrt(done)
    return left / (1.0 + root), root


def warmup_stable_decay_schedule(
    peak_value: ArrayLike,
    warmup_steps: int,
    stable_steps: int,
    decay_steps: int,
    init_value: ArrayLike = 0.0,
    end_value: ArrayLike = 0.0,
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
    ``join_schedules`` of three schedules. :func:`lrjax.wsd_schedule` gives
    the phases as fractions of a total and repeats them in re-warmed cycles.

    Args:
      peak_value: the rate held during the stable phase, ``>= 0``.
      warmup_steps: ``W``, an integer ``>= 0``.
      stable_steps: ``S``, an integer ``>= 0``.
      decay_steps: ``D``, an integer ``>= 1``; ``W + S + D <= 2**31 - 1``
        (steps are int32).
      init_value: the rate the warmup starts from, ``>= 0``; with
        ``warmup_steps=0`` no step takes it (step 0 is at the peak).
      end_value: the rate reached at ``W + S + D`` and held after, ``>= 0``.
      decay_type: ``"linear"``, ``"cosine"`` or ``"sqrt"`` (the 1-sqrt
        cooldown).

    Returns:
      A schedule ``step -> float32 rate``, between the smallest and largest of
      ``init_value``, ``peak_value`` and ``end_value``.

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.warmup_stable_decay_schedule(
        ...     peak_value=1.0, warmup_steps=10, stable_steps=80, decay_steps=10)
        >>> for t in (5, 10, 90, 95, 100):  # t / 10, 1, then 1 - (t - 90) / 10
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.5000
        10 1.0000
        90 1.0000
        95 0.5000
        100 0.0000
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

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        peak = as_value(peak_value)
        init = as_value(init_value)
        end = as_value(end_value)
        if warmup_steps > 0:
            up, rest = phase_fractions(whole, frac, 0, warmup_steps)
            warm = interpolate(init, peak, up, rest)
        else:
            warm = peak
        done, left = phase_fractions(whole, frac, decay_start, decay_steps)
        stay, go = cooldown_weights(done, left, decay_type)
        cool = interpolate(peak, end, go, stay)
        rate = jnp.where(whole < decay_start, peak, cool)
        rate = jnp.where(whole < warmup_steps, warm, rate)
        rate = jnp.where(whole >= horizon, end, rate)
        return as_value(rate)

    return schedule
