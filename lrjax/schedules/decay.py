"""Constant, linear, polynomial and exponential schedules, with optax's names.

Each constructor takes optax 0.2.8's arguments, in optax's order and with
optax's defaults, and its schedule gives optax's values. Differences, all
on inputs optax would silently turn into something else:

* ``linear_schedule``/``polynomial_schedule`` with ``transition_steps=0``
  hold ``init_value``, as optax does (and PyTorch's ``LinearLR``/
  ``PolynomialLR`` with ``total_iters=0``), without optax's log message; a
  negative ``transition_steps`` raises ``ValueError``, and so does a
  negative ``transition_begin`` (optax treats it as 0).
* ``exponential_decay`` needs ``transition_steps >= 1`` (a factor per 0
  steps has no meaning; optax returns the constant ``init_value``). Its
  ``decay_rate = 0`` follows the formula, as PyTorch's ``ExponentialLR(
  gamma=0)`` and Keras do: ``init_value`` at step 0, then 0 (optax returns
  the constant ``init_value``); a negative rate raises ``ValueError``
  (optax gives NaNs).
* Negative steps count as step 0; integer steps are int32 up to
  ``2**31 - 1`` (every step-count argument must fit in int32 too), float
  steps keep their fraction (they interpolate).
* ``exponential_decay`` with ``decay_rate > 1`` and no ``end_value``
  saturates at the largest float32 instead of overflowing to ``inf``.
* ``decay_rate ** t`` is ``exp(t * log(decay_rate))`` with the logarithm
  taken in float64 at construction, so that ``0.9999 ** 65536`` is right to
  float32 precision (optax's float32 ``decay_rate`` is off by 1e-3 there).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from lrjax._base import Schedule
from lrjax._validation import (
    check_in_range,
    check_non_negative,
    check_type,
)
from lrjax.schedules._common import (
    as_step,
    as_value,
    check_factor,
    geometric,
    interpolate,
    log_factor,
    phase_fractions,
    pinned_fractions,
    saturate,
    split_step,
    step_arg,
)

__all__ = [
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "exponential_decay",
]


def check_finite(name: str, value: Any) -> None:
    """A schedule value (init, peak, end): any finite real number."""
    check_in_range(
        name, value, -math.inf, math.inf, low_inclusive=False, high_inclusive=False
    )


def shift(whole: jax.Array, frac: jax.Array, offset: int) -> tuple[jax.Array, ...]:
    """The split step seen from ``offset``: ``(step - offset)``, clamped at 0."""
    started = whole >= offset
    return jnp.maximum(whole - offset, 0), jnp.where(started, frac, 0.0)


def _power_weights(left: jax.Array, power: Any) -> tuple[jax.Array, jax.Array]:
    """``(w, 1 - w)`` with ``w = left ** power``, each to float32 precision.

    ``1 - w`` is ``-expm1(power * log(left))``: no cancellation near the
    start, where ``w`` is close to 1. ``0 ** 0 = 1`` (a constant schedule).
    """
    safe = jnp.where(left > 0, left, 1.0)
    log_w = jnp.where(
        left > 0,
        power * jnp.log(safe),
        jnp.where(jnp.asarray(power) > 0, -jnp.inf, 0.0),
    )
    return jnp.exp(log_w), -jnp.expm1(log_w)


def polynomial_phase(
    whole: jax.Array,
    frac: jax.Array,
    init_value: Any,
    end_value: Any,
    power: Any,
    transition_steps: int,
    transition_begin: int = 0,
) -> jax.Array:
    """``(init - end) * (1 - t / T) ** power + end`` on a split step.

    Evaluated as the weighted mean ``init * w + end * (1 - w)``, ``w`` the
    fraction left to the power, so both ends are exact under ``jit`` too.
    ``T = 0`` holds ``init`` (optax's and PyTorch's behaviour).
    """
    if transition_steps == 0:
        return jnp.broadcast_to(as_value(init_value), whole.shape)
    done, left = phase_fractions(whole, frac, transition_begin, transition_steps)
    if isinstance(power, (int, float)) and power == 1:
        return interpolate(init_value, end_value, done, left)
    w, rest = _power_weights(left, power)
    return init_value * w + end_value * rest


def _polynomial_cycle_phase(
    whole: jax.Array,
    frac: jax.Array,
    init_value: Any,
    end_value: Any,
    power: Any,
    transition_steps: int,
    transition_begin: int,
) -> jax.Array:
    """Keras ``PolynomialDecay(cycle=True)``: the horizon grows by periods.

    With ``t = step - begin`` the horizon is ``T * max(ceil(t / T), 1)``;
    ``1 - t / horizon`` is computed as ``(horizon - t) / horizon`` from the
    int32 remainder, so no int32 product can overflow.
    """
    if transition_steps == 0:
        return jnp.broadcast_to(as_value(init_value), whole.shape)
    whole, frac = shift(whole, frac, transition_begin)
    period = transition_steps
    rem = whole % period
    partial = (rem > 0) | (frac > 0)
    cycles = jnp.maximum(whole // period + partial.astype(jnp.int32), 1)
    # Left of the current horizon; at exact multiples (> 0) nothing is left.
    left = jnp.where(
        partial,
        (period - rem).astype(jnp.float32) - frac,
        jnp.where(whole == 0, float(period), 0.0),
    )
    horizon = float(period) * cycles.astype(jnp.float32)
    _, remaining = pinned_fractions(horizon - left, left, horizon)
    w, rest = _power_weights(remaining, power)
    return init_value * w + end_value * rest


def exponential_phase(
    whole: jax.Array,
    frac: jax.Array,
    init_value: Any,
    transition_steps: int,
    log_rate: Any,
    decay_rate: Any,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Any = None,
) -> jax.Array:
    """``init * decay_rate ** (t / T)`` on a split step (see exponential_decay).

    ``log_rate`` is ``log(decay_rate)`` (per period when ``staircase``, per
    step otherwise) from :func:`log_factor`; the exponent is the exact step
    count (or period count), so ``decay_rate ** t`` is accurate to
    ``|t log(decay_rate)| + 2`` float32 ulps.
    """
    whole, frac = shift(whole, frac, transition_begin)
    if staircase:
        # Exact int32 floor division: float32 floors go wrong past 2**24.
        exponent = (whole // transition_steps).astype(jnp.float32)
    else:
        exponent = whole.astype(jnp.float32) + frac
    value = saturate(init_value * geometric(log_rate, exponent))
    if end_value is not None:
        # A floor when decaying, a ceiling when growing (optax's rule).
        value = jnp.where(
            jnp.asarray(decay_rate) < 1.0,
            jnp.maximum(value, end_value),
            jnp.minimum(value, end_value),
        )
    return value


def shaped(value: Any, step: Any) -> jax.Array:
    """float32 ``value`` broadcast to the shape of ``step``."""
    value = as_value(value)
    shape = jnp.broadcast_shapes(jnp.shape(value), jnp.shape(step))
    return jnp.broadcast_to(value, shape)


def constant_schedule(value: Any) -> Schedule:
    """A schedule that always returns ``value``.

    Formula: ``lr(t) = value``.

    Equivalents: optax ``constant_schedule``; PyTorch: no scheduler (or
    ``ConstantLR(factor=1.0)``); Keras: a float learning rate.

    Args:
      value: the value held at every step (any finite number).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).
    """
    check_finite("value", value)

    def schedule(step: Any) -> jax.Array:
        return shaped(value, as_step(step))

    return schedule


def polynomial_schedule(
    init_value: Any,
    end_value: Any,
    power: Any,
    transition_steps: int,
    transition_begin: int = 0,
    *,
    cycle: bool = False,
) -> Schedule:
    """Polynomial transition from ``init_value`` to ``end_value``.

    Formula, with ``I, E, p, T, B`` the arguments in order and
    ``t' = clip(t - B, 0, T)``::

        lr(t) = (I - E) * (1 - t' / T) ** p + E

    so ``lr = I`` before ``B`` and ``lr = E`` from ``B + T`` on.

    With ``cycle=True`` (an lrjax addition, keyword-only) the decay restarts
    from a longer horizon instead of holding ``E``: with ``t' = max(t - B, 0)``
    and ``H = T * max(ceil(t' / T), 1)``, ``lr(t) = (I - E) * (1 - t' / H) ** p
    + E``, exactly Keras ``PolynomialDecay(I, T, E, p, cycle=True)``.

    Equivalents: optax ``polynomial_schedule`` (``cycle=False``); Keras
    ``PolynomialDecay(initial_learning_rate=I, decay_steps=T,
    end_learning_rate=E, power=p, cycle=cycle)`` for ``B = 0``; PyTorch
    ``PolynomialLR(total_iters=T, power=p)`` when ``E = 0, B = 0``.

    Args:
      init_value: value before and at ``transition_begin``.
      end_value: value reached after ``transition_steps`` steps.
      power: exponent ``p >= 0`` of the polynomial (1 is linear).
      transition_steps: length ``T`` of the transition, an integer in
        ``[0, 2**31 - 1]`` (steps are int32); ``T = 0`` holds ``init_value``
        forever, as optax and PyTorch's ``PolynomialLR(total_iters=0)`` do.
      transition_begin: steps ``B >= 0`` at ``init_value`` before it starts.
      cycle: restart with a multiple of ``T`` as horizon (Keras ``cycle``).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).
    """
    check_finite("init_value", init_value)
    check_finite("end_value", end_value)
    check_non_negative("power", power)
    transition_steps = step_arg("transition_steps", transition_steps)
    transition_begin = step_arg("transition_begin", transition_begin)
    check_type("cycle", cycle, bool)
    phase = _polynomial_cycle_phase if cycle else polynomial_phase

    def schedule(step: Any) -> jax.Array:
        whole, frac = split_step(step)
        value = phase(
            whole,
            frac,
            init_value,
            end_value,
            power,
            transition_steps,
            transition_begin,
        )
        return shaped(value, step)

    return schedule


def linear_schedule(
    init_value: Any,
    end_value: Any,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Linear transition from ``init_value`` to ``end_value``.

    Formula, with ``t' = clip(t - B, 0, T)``::

        lr(t) = I + (E - I) * t' / T

    (``polynomial_schedule`` with ``power=1``), ``I`` before ``B``, ``E``
    from ``B + T`` on.

    Equivalents: optax ``linear_schedule``; PyTorch ``LinearLR(start_factor=
    I / base_lr, end_factor=E / base_lr, total_iters=T)`` for ``B = 0``;
    Keras ``PolynomialDecay(I, T, E, power=1.0)``.

    Args:
      init_value: value before and at ``transition_begin``.
      end_value: value from ``transition_begin + transition_steps`` on.
      transition_steps: length ``T`` of the transition, an integer in
        ``[0, 2**31 - 1]`` (steps are int32); ``T = 0`` holds ``init_value``
        forever, as optax and PyTorch's ``LinearLR(total_iters=0)`` do.
      transition_begin: steps ``B >= 0`` at ``init_value`` before it starts.

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).
    """
    return polynomial_schedule(
        init_value=init_value,
        end_value=end_value,
        power=1,
        transition_steps=transition_steps,
        transition_begin=transition_begin,
    )


def exponential_decay(
    init_value: Any,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Any | None = None,
) -> Schedule:
    """Exponential decay (or growth) by ``decay_rate`` every ``transition_steps``.

    Formula, with ``t' = max(t - B, 0)`` and ``q = t' / T`` (``floor(t' / T)``
    when ``staircase``)::

        lr(t) = I * decay_rate ** q

    then clipped at ``end_value`` when given: a floor if ``decay_rate < 1``,
    a ceiling otherwise (optax's rule).

    Equivalents: optax ``exponential_decay``; Keras ``ExponentialDecay(I, T,
    decay_rate, staircase)`` for ``B = 0``; PyTorch ``ExponentialLR(gamma=
    decay_rate)`` with ``T = 1``, and ``StepLR(step_size=T, gamma=decay_rate)``
    with ``staircase=True``.

    Args:
      init_value: value until ``transition_begin``.
      transition_steps: steps ``T`` per factor of ``decay_rate``, an integer
        in ``[1, 2**31 - 1]`` (steps are int32; optax returns a constant for
        ``T <= 0``, lrjax raises ``ValueError``).
      decay_rate: factor ``>= 0`` per ``T`` steps; ``> 1`` grows (the value
        then saturates at the largest float32 unless ``end_value`` caps it);
        0 gives ``init_value`` at step 0 and 0 after (PyTorch's
        ``ExponentialLR(gamma=0)``; optax holds ``init_value``).
      transition_begin: steps ``B >= 0`` at ``init_value`` before it starts.
      staircase: decay in whole periods, at multiples of ``T``.
      end_value: optional bound where the decay (or growth) stops.

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).
    """
    check_finite("init_value", init_value)
    transition_steps = step_arg("transition_steps", transition_steps, minimum=1)
    check_factor("decay_rate", decay_rate)
    transition_begin = step_arg("transition_begin", transition_begin)
    check_type("staircase", staircase, bool)
    if end_value is not None:
        check_finite("end_value", end_value)
    log_rate = log_factor(decay_rate, 1 if staircase else transition_steps)

    def schedule(step: Any) -> jax.Array:
        whole, frac = split_step(step)
        value = exponential_phase(
            whole,
            frac,
            init_value,
            transition_steps,
            log_rate,
            decay_rate,
            transition_begin,
            staircase,
            end_value,
        )
        return shaped(value, step)

    return schedule
