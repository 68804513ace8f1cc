"""The phases schedules are built from, on a split step ``(whole, frac)``.

A phase maps the int32 whole step and its float32 fraction (see
:func:`lrjax.schedules._common.split_step`) to a value: a polynomial,
exponential or half-cosine transition between two values, or the linear or
cosine interpolation that piecewise and one-cycle schedules share. Every
phase is a weighted mean of its end values, so both ends are exact under
``jit`` too.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lrjax.schedules._common import (
    as_value,
    cosine_weight,
    geometric,
    interpolate,
    phase_fractions,
    pinned_fractions,
    saturate,
    shift,
)

__all__ = [
    "anneal",
    "cosine_phase",
    "exponential_phase",
    "polynomial_cycle_phase",
    "polynomial_phase",
]


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


def polynomial_cycle_phase(
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


def cosine_phase(
    whole: jax.Array,
    frac: jax.Array,
    init_value: Any,
    decay_steps: int,
    alpha: Any,
    exponent: Any,
) -> jax.Array:
    """``I * ((1 - alpha) * c ** exponent + alpha)``, ``c`` the half cosine."""
    _, left = phase_fractions(whole, frac, 0, decay_steps)
    cosine = cosine_weight(left)  # a square: never a negative base
    return init_value * ((1 - alpha) * cosine**exponent + alpha)


def anneal(
    start: Any, end: Any, done: jax.Array, left: jax.Array, cosine: bool
) -> jax.Array:
    """From ``start`` (``done = 0``) to ``end`` (``done = 1``): linear or cosine.

    The cosine shape is half a period,
    ``end + (start - end) * (1 + cos(pi * done)) / 2``. ``done`` and ``left``
    are the fractions of the phase run and still to run
    (:func:`lrjax.schedules._common.phase_fractions`). A weighted mean, so
    each end value comes out exactly in float32 (``end + (start - end) * w``
    would lose a small ``end`` to cancellation).
    """
    if cosine:
        return interpolate(start, end, cosine_weight(done), cosine_weight(left))
    return interpolate(start, end, done, left)
