"""Step handling every schedule shares.

A schedule accepts Python ints, NumPy and JAX integer or float scalars and
arrays of steps (element-wise), under ``jit`` and ``vmap``. Negative steps
count as step 0. Steps up to ``2**31 - 1`` must give finite values, so
integer arithmetic (floor divisions, boundaries) is done in int32 and only
the fractional position inside a phase is taken to float32.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _validation as val

__all__ = ["int_step", "float_step", "as_value"]


def int_step(step: Any) -> jax.Array:
    """The step as int32, floored, with negatives clamped to 0."""
    step = jnp.asarray(step)
    if jnp.issubdtype(step.dtype, jnp.floating):
        big = jnp.asarray(2**31 - 1, jnp.float32)
        step = jnp.floor(jnp.clip(step.astype(jnp.float32), 0.0, big))
        return jnp.where(step >= big, 2**31 - 1, step.astype(jnp.int32))
    return jnp.maximum(step.astype(jnp.int32), 0)


def float_step(step: Any) -> jax.Array:
    """The step as float32, with negatives clamped to 0 (fractions kept)."""
    return jnp.maximum(jnp.asarray(step).astype(jnp.float32), 0.0)


def as_value(value: Any) -> jax.Array:
    """A schedule's output: float32."""
    return jnp.asarray(value, jnp.float32)


def split_step(step: Any) -> tuple[jax.Array, jax.Array]:
    """The step as an int32 whole part and a float32 fraction in ``[0, 1)``.

    Boundaries and floor divisions use the exact whole part; the fraction
    (zero for integer steps) only shifts the position inside a phase, so
    fractional steps, such as epochs from ``per_epoch_schedule``, interpolate.
    """
    step = jnp.asarray(step)
    whole = int_step(step)
    if not jnp.issubdtype(step.dtype, jnp.floating):
        return whole, jnp.zeros(whole.shape, jnp.float32)
    clipped = float_step(step)
    frac = jnp.clip(clipped - jnp.floor(clipped), 0.0, 1.0)
    # Past 2**24 float32 has no fractional bits; saturated steps have none.
    frac = jnp.where(whole >= 2**31 - 1, 0.0, frac)
    return whole, frac


def step_arg(name: str, value: Any, *, minimum: int = 0) -> int:
    """A concrete step-count argument as a Python int in ``[minimum, 2**31-1]``.

    Integral floats such as ``1e4`` are accepted, as optax accepts them.
    Traced values are refused: step arguments fix int32 boundaries.
    """
    if isinstance(value, jax.core.Tracer) or callable(value):
        raise TypeError(
            f"{name} must be a concrete integer (not traced), got {value!r}."
        )
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}.")
    arr = np.asarray(value)
    if arr.ndim != 0 or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}."
        )
    if np.issubdtype(arr.dtype, np.floating) and not (
        np.isfinite(arr) and float(arr).is_integer()
    ):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    count = int(arr)
    if not minimum <= count <= 2**31 - 1:
        raise ValueError(
            f"{name} must be an integer in [{minimum}, 2**31 - 1], got {value!r}."
        )
    return count


def check_not_above(low_name: str, low: Any, high_name: str, high: Any) -> None:
    """Requires ``low <= high`` for concrete values; names both arguments."""
    if not (val.is_checkable(low) and val.is_checkable(high)):
        return
    if np.any(np.asarray(low) > np.asarray(high)):
        raise ValueError(
            f"{low_name} must be <= {high_name}, got {low_name}={low!r} and "
            f"{high_name}={high!r}."
        )


def half_cosine(fraction: Any) -> jax.Array:
    """``(1 + cos(pi * f)) / 2``: falls from 1 at ``f = 0`` to 0 at ``f = 1``.

    Evaluated as ``cos(pi * f / 2) ** 2``, the same value without the
    cancellation of ``1 + cos`` near ``f = 1``, where float32 would otherwise
    reach exactly 0 some steps before the end of a long decay.
    """
    fraction = jnp.asarray(fraction, jnp.float32)
    # cos(float32(pi / 2)) is 4e-8, not 0: pin the end so it is exact.
    value = jnp.square(jnp.cos((0.5 * jnp.pi) * fraction))
    return jnp.where(fraction >= 1.0, 0.0, value)
