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
