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

import jax
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, check_type
from lrjax.schedules._common import (
    as_step,
    check_factor,
    check_finite,
    log_factor,
    shaped,
    split_step,
    step_arg,
)
from lrjax.schedules._phases import (
    exponential_phase,
    polynomial_cycle_phase,
    polynomial_phase,
)

__all__ = [
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "exponential_decay",
]


def constant_schedule(value: ArrayLike) -> Schedule:
    """A schedule that always returns ``value``.

    Formula: ``lr(t) = value``.

    Equivalents: optax ``constant_schedule``; PyTorch: no scheduler (or
    ``ConstantLR(factor=1.0)``); Keras: a float learning rate.

    Args:
      value: the value held at every step (any finite number).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.constant_schedule(0.1)
        >>> for t in (0, 10_000):  # lr(t) = value
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 0.1000
        10000 0.1000
    """
    check_finite("value", value)

    def schedule(step: ArrayLike) -> jax.Array:
        return shaped(value, as_step(step))

    return schedule


def polynomial_schedule(
    init_value: ArrayLike,
    end_value: ArrayLike,
    power: ArrayLike,
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

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.polynomial_schedule(1.0, 0.0, 2, transition_steps=100)
        >>> for t in (0, 50, 100, 200):  # (1 - t / 100) ** 2
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 1.0000
        50 0.2500
        100 0.0000
        200 0.0000
    """
    check_finite("init_value", init_value)
    check_finite("end_value", end_value)
    check_non_negative("power", power)
    transition_steps = step_arg("transition_steps", transition_steps)
    transition_begin = step_arg("transition_begin", transition_begin)
    check_type("cycle", cycle, bool)
    phase = polynomial_cycle_phase if cycle else polynomial_phase

    def schedule(step: ArrayLike) -> jax.Array:
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
    init_value: ArrayLike,
    end_value: ArrayLike,
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

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.linear_schedule(1.0, 0.1, 100, transition_begin=10)
        >>> for t in (0, 10, 60, 110):  # 1 + (0.1 - 1) * (t - 10) / 100, clipped
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 1.0000
        10 1.0000
        60 0.5500
        110 0.1000
    """
    return polynomial_schedule(
        init_value=init_value,
        end_value=end_value,
        power=1,
        transition_steps=transition_steps,
        transition_begin=transition_begin,
    )


def exponential_decay(
    init_value: ArrayLike,
    transition_steps: int,
    decay_rate: ArrayLike,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: ArrayLike | None = None,
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

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.exponential_decay(1.0, transition_steps=10, decay_rate=0.5)
        >>> for t in (0, 10, 15, 20):  # 0.5 ** (t / 10)
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 1.0000
        10 0.5000
        15 0.3536
        20 0.2500
        >>> stairs = lrjax.exponential_decay(1.0, 10, 0.5, staircase=True)
        >>> print(f"{float(stairs(15)):.4f}")  # 0.5 ** floor(15 / 10)
        0.5000
    """
    check_finite("init_value", init_value)
    transition_steps = step_arg("transition_steps", transition_steps, minimum=1)
    check_factor("decay_rate", decay_rate)
    transition_begin = step_arg("transition_begin", transition_begin)
    check_type("staircase", staircase, bool)
    if end_value is not None:
        check_finite("end_value", end_value)
    log_rate = log_factor(decay_rate, 1 if staircase else transition_steps)

    def schedule(step: ArrayLike) -> jax.Array:
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
