"""Numerical rules every building block shares.

* Step counters are int32 and saturate at ``2**31 - 1`` instead of wrapping.
* Every state buffer (moment, trace, accumulator) is made by
  :func:`tree_buffers`, which picks its dtype and keeps the parameter's
  sharding, also under ``jax.jit``.
* Values written back to state or returned as updates are cast to the dtype
  they were declared with, so NumPy scalars or float32 hyperparameters never
  promote a bf16 tree to float32.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "COUNT_MAX",
    "zero_count",
    "safe_increment",
    "bias_correction",
    "buffer_like",
    "tree_buffers",
    "tree_cast_like",
    "resolve_dtype",
    "as_scalar",
    "tree_unzip",
]

COUNT_MAX = int(jnp.iinfo(jnp.int32).max)


def zero_count() -> jax.Array:
    """A fresh int32 step counter."""
    return jnp.zeros([], jnp.int32)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at ``2**31 - 1`` instead of overflowing."""
    count = jnp.asarray(count, jnp.int32)
    return jnp.where(count < COUNT_MAX, count + 1, COUNT_MAX).astype(jnp.int32)


def bias_correction(decay: Any, count: jax.Array) -> jax.Array:
    """The float32 scalar ``1 / (1 - decay**count)`` that debiases an EMA.

    ``count`` is the number of EMA updates made (>= 1). Computed once per step
    as a scalar, then broadcast, instead of dividing every leaf.
    """
    decay = jnp.asarray(decay, jnp.float32)
    return 1.0 / (1.0 - decay ** count.astype(jnp.float32))


def resolve_dtype(param: Any, dtype: Any | None) -> Any:
    """The buffer dtype: ``dtype`` if given, else the parameter's dtype."""
    if dtype is not None:
        return jnp.dtype(dtype)
    return jnp.asarray(param).dtype


def buffer_like(param: Any, dtype: Any | None = None, fill: float = 0.0) -> jax.Array:
    """An array shaped like ``param``, filled with ``fill``, on its sharding.

    ``jnp.zeros_like`` inside ``jit`` has no operand for XLA's sharding
    propagation to follow, so the buffer lands on one device. Selecting
    between two constants with a predicate computed from ``param`` gives the
    buffer a data dependence on ``param`` and therefore its sharding, at the
    cost of one elementwise op at init.
    """
    param = jnp.asarray(param)
    out_dtype = resolve_dtype(param, dtype)
    fill_value = jnp.asarray(fill, out_dtype)
    return jnp.where(jnp.isnan(param), fill_value, fill_value).astype(out_dtype)


def tree_buffers(params: Any, dtype: Any | None = None, fill: float = 0.0) -> Any:
    """:func:`buffer_like` over a tree (``None`` leaves stay ``None``)."""
    return jax.tree_util.tree_map(lambda p: buffer_like(p, dtype, fill), params)


def tree_cast_like(tree: Any, reference: Any) -> Any:
    """Casts every leaf of ``tree`` to the dtype of the matching leaf."""
    return jax.tree_util.tree_map(lambda t, r: t.astype(r.dtype), tree, reference)


def as_scalar(value: Any, dtype: Any = jnp.float32) -> jax.Array:
    """A hyperparameter as a scalar array of ``dtype``."""
    return jnp.asarray(value, dtype)


def tree_unzip(reference: Any, tuples: Any, n: int) -> tuple[Any, ...]:
    """Splits a tree of ``n``-tuples (shaped like ``reference``) into ``n`` trees.

    Lets a block compute all its per-leaf outputs (update, new moments) in one
    ``tree_map`` and still return one tree per output.
    """
    treedef = jax.tree_util.tree_structure(reference)
    leaves = treedef.flatten_up_to(tuples)
    return tuple(treedef.unflatten([leaf[i] for leaf in leaves]) for i in range(n))
