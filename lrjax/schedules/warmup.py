"""Warmups: rise to a peak rate, then hold it, decay it, or run any schedule.

``warmup_cosine_decay_schedule``, ``warmup_constant_schedule`` and
``warmup_exponential_decay_schedule`` take optax 0.2.8's arguments, order and
defaults and give its values; ``warmup_schedule`` (a warmup in front of any
schedule) is lrjax's, and so is warmup-stable-decay,
:func:`lrjax.warmup_stable_decay_schedule` (in :mod:`lrjax.schedules.wsd`).
Warmups are linear unless stated, and every boundary falls on its exact int32
step.
Differences from optax, on inputs it would silently misread:
``decay_steps <= warmup_steps`` raises ``ValueError`` (optax raises too, from
inside its cosine piece), and so does ``warmup_steps <= 0`` in
``warmup_constant_schedule`` (optax then returns ``init_value`` forever).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax._base import Schedule
from lrjax._validation import (
    check_non_negative,
    check_one_of,
    check_type,
)
from lrjax.schedules._common import (
    as_step,
    as_value,
    check_factor,
    check_finite,
    cosine_weight,
    float_step,
    int_step,
    interpolate,
    log_factor,
    phase_fractions,
    shaped,
    shift,
    split_step,
    step_arg,
)
from lrjax.schedules._phases import cosine_phase, exponential_phase, polynomial_phase
from lrjax.schedules.decay import linear_schedule
from lrjax.schedules.wrappers import as_schedule

__all__ = [
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_schedule",
]

_MAX_STEP = 2**31 - 1


def warmup_constant_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: int,
) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value``, then constant.

    Formula: ``lr(t) = I + (P - I) * min(t, W) / W``.

    Equivalents: optax ``warmup_constant_schedule``; PyTorch ``LinearLR(
    start_factor=I / P, end_factor=1.0, total_iters=W)`` on base rate ``P``.

    Args:
      init_value: value at step 0.
      peak_value: value from ``warmup_steps`` on.
      warmup_steps: length ``W > 0`` of the warmup (optax returns
        ``init_value`` forever for ``W = 0``; lrjax raises ``ValueError``).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.warmup_constant_schedule(0.0, 1.0, warmup_steps=10)
        >>> for t in (5, 10, 1000):  # min(t, 10) / 10
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.5000
        10 1.0000
        1000 1.0000
    """
    # linear_schedule names them init_value/end_value: check under our names.
    check_finite("init_value", init_value)
    check_finite("peak_value", peak_value)
    warmup_steps = step_arg("warmup_steps", warmup_steps, minimum=1)
    return linear_schedule(
        init_value=init_value, end_value=peak_value, transition_steps=warmup_steps
    )


def _ratio(end_value: ArrayLike, peak_value: ArrayLike) -> ArrayLike:
    """``end / peak``, 0 when ``peak == 0`` (optax's ``alpha``); traceable."""
    if num.is_concrete(peak_value) and num.is_concrete(end_value):
        # NumPy, not jnp: inside a trace jnp.asarray gives a tracer.
        peak = np.asarray(peak_value)
        if peak.ndim == 0:
            return 0.0 if float(peak) == 0.0 else end_value / peak_value
    safe = jnp.where(jnp.asarray(peak_value) == 0, 1.0, peak_value)
    return jnp.where(jnp.asarray(peak_value) == 0, 0.0, end_value / safe)


def warmup_cosine_decay_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: int,
    decay_steps: int,
    end_value: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> Schedule:
    """Linear warmup to ``peak_value``, then cosine decay to ``end_value``.

    Formula, with ``W = warmup_steps``, ``D = decay_steps - W`` (the total
    ``decay_steps`` includes the warmup) and ``alpha = E / P``::

        t < W:      lr(t) = I + (P - I) * t / W
        t >= W:     c = (1 + cos(pi * min(t - W, D) / D)) / 2
                    lr(t) = P * ((1 - alpha) * c ** exponent + alpha)

    Equivalents: optax ``warmup_cosine_decay_schedule``; Keras ``CosineDecay(
    initial_learning_rate=I, decay_steps=D, alpha=E / P, warmup_target=P,
    warmup_steps=W)``; PyTorch ``SequentialLR([LinearLR, CosineAnnealingLR(
    T_max=D, eta_min=E)], milestones=[W])``. Paper: Loshchilov & Hutter,
    SGDR, ICLR 2017 (warmup: Goyal et al., 2017).

    Args:
      init_value: value at step 0.
      peak_value: value at the end of the warmup.
      warmup_steps: length ``W >= 0`` of the warmup (0: none).
      decay_steps: total length ``> warmup_steps``, warmup included, at most
        ``2**31 - 1`` (steps are int32).
      end_value: value from ``decay_steps`` on (default 0).
      exponent: power ``>= 0`` applied to the cosine factor (default 1).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.warmup_cosine_decay_schedule(
        ...     init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=110,
        ...     end_value=0.1)
        >>> # t / 10, then 0.9 * (1 + cos(pi * (t - 10) / 100)) / 2 + 0.1
        >>> for t in (5, 10, 60, 110):
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.5000
        10 1.0000
        60 0.5500
        110 0.1000
    """
    check_finite("init_value", init_value)
    check_finite("peak_value", peak_value)
    check_finite("end_value", end_value)
    check_non_negative("exponent", exponent)
    warmup_steps = step_arg("warmup_steps", warmup_steps)
    decay_steps = step_arg("decay_steps", decay_steps, minimum=1)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"decay_steps must be > warmup_steps = {warmup_steps} (it includes "
            f"the warmup), got {decay_steps}."
        )
    cosine_steps = decay_steps - warmup_steps
    alpha = _ratio(end_value, peak_value)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        local, local_frac = shift(whole, frac, warmup_steps)
        value = cosine_phase(
            local, local_frac, peak_value, cosine_steps, alpha, exponent
        )
        if warmup_steps > 0:
            warm = polynomial_phase(
                whole, frac, init_value, peak_value, 1, warmup_steps
            )
            value = jnp.where(whole < warmup_steps, warm, value)
        return shaped(value, step)

    return schedule


def warmup_exponential_decay_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: ArrayLike,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: ArrayLike | None = None,
) -> Schedule:
    """Linear warmup to ``peak_value``, then ``exponential_decay`` from it.

    Formula, with ``W = warmup_steps``: ``lr(t) = I + (P - I) * t / W`` for
    ``t < W``, then ``exponential_decay(P, transition_steps, decay_rate,
    transition_begin, staircase, end_value)(t - W)``.

    Equivalents: optax ``warmup_exponential_decay_schedule``; PyTorch
    ``SequentialLR([LinearLR, ExponentialLR], milestones=[W])``.

    Args:
      init_value: value at step 0.
      peak_value: value at the end of the warmup, where the decay starts.
      warmup_steps: length ``W >= 0`` of the warmup (0: no warmup).
      transition_steps: steps per factor of ``decay_rate``, an integer in
        ``[1, 2**31 - 1]`` (steps are int32).
      decay_rate: factor ``>= 0`` per ``transition_steps`` steps.
      transition_begin: steps ``>= 0`` at ``peak_value`` after the warmup.
      staircase: decay in whole periods.
      end_value: optional bound where the decay stops (see
        ``exponential_decay``).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.warmup_exponential_decay_schedule(
        ...     init_value=0.0, peak_value=1.0, warmup_steps=10, transition_steps=10,
        ...     decay_rate=0.5)
        >>> for t in (5, 10, 20, 30):  # t / 10, then 0.5 ** ((t - 10) / 10)
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.5000
        10 1.0000
        20 0.5000
        30 0.2500
    """
    check_finite("init_value", init_value)
    check_finite("peak_value", peak_value)
    warmup_steps = step_arg("warmup_steps", warmup_steps)
    transition_steps = step_arg("transition_steps", transition_steps, minimum=1)
    check_factor("decay_rate", decay_rate)
    transition_begin = step_arg("transition_begin", transition_begin)
    check_type("staircase", staircase, bool)
    if end_value is not None:
        check_finite("end_value", end_value)
    log_rate = log_factor(decay_rate, 1 if staircase else transition_steps)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        local, local_frac = shift(whole, frac, warmup_steps)
        value = exponential_phase(
            local,
            local_frac,
            peak_value,
            transition_steps,
            log_rate,
            decay_rate,
            transition_begin,
            staircase,
            end_value,
        )
        if warmup_steps > 0:
            warm = polynomial_phase(
                whole, frac, init_value, peak_value, 1, warmup_steps
            )
            value = jnp.where(whole < warmup_steps, warm, value)
        return shaped(value, step)

    return schedule


def warmup_schedule(
    schedule: Schedule | ArrayLike,
    warmup_steps: int,
    init_value: ArrayLike = 0.0,
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

    Examples:
        >>> import lrjax
        >>> decay = lrjax.exponential_decay(1.0, transition_steps=10, decay_rate=0.5)
        >>> schedule = lrjax.warmup_schedule(decay, warmup_steps=10)
        >>> for t in (5, 10, 20):  # t / 10 * decay(0), then decay(t - 10)
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.5000
        10 1.0000
        20 0.5000
    """
    inner = as_schedule("schedule", schedule)
    warmup_steps = step_arg("warmup_steps", warmup_steps)
    check_non_negative("init_value", init_value)
    check_one_of("warmup_type", warmup_type, ("linear", "cosine"))

    def warmed(step: ArrayLike) -> jax.Array:
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
        warm = interpolate(as_value(init_value), target, done, left)
        return as_value(jnp.where(before, warm, after))

    return warmed
