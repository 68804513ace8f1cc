"""Whole-tree reductions in float32 (or wider), shared by the rate-free methods.

Learning-rate-free methods estimate their step from sums over every parameter
(distances, inner products, norms). Summing bf16 leaves in bf16 would lose
most digits, so every leaf is upcast with :func:`lrjax._numerics.upcast` first.
Complex leaves count as pairs of reals: ``|x|**2`` and ``Re(conj(a) * b)``.

Each reduction takes ``axis_name``: when the tree's leaves are split across
that mesh axis (model parallelism under ``shard_map``), the per-device sum is
completed with ``psum`` (see :func:`lrjax.global_norm`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lrjax import _numerics as num

__all__ = ["tree_sum_sq", "tree_real_dot", "tree_abs_sum"]


def _total(terms: list[jax.Array]) -> jax.Array:
    if not terms:
        return jnp.zeros([], jnp.float32)
    return sum(terms[1:], terms[0])


def tree_sum_sq(tree: Any, axis_name: num.AxisName = None) -> jax.Array:
    """``sum |x|**2`` over every element of every leaf."""
    leaves = jax.tree_util.tree_leaves(tree)
    total = _total([jnp.sum(num.abs_sq(num.upcast(x)[0])) for x in leaves])
    return num.psum_if(total, axis_name)


def tree_real_dot(a: Any, b: Any, axis_name: num.AxisName = None) -> jax.Array:
    """``sum Re(conj(a) * b)`` over two trees of the same structure."""

    def dot(x, y):
        x, y = num.upcast(x, y)
        return jnp.sum(num.real_part(jnp.conj(x) * y))

    total = _total(jax.tree_util.tree_leaves(jax.tree_util.tree_map(dot, a, b)))
    return num.psum_if(total, axis_name)


def tree_abs_sum(tree: Any, axis_name: num.AxisName = None) -> jax.Array:
    """``sum |x|`` over every element of every leaf (the L1 norm)."""
    leaves = jax.tree_util.tree_leaves(tree)
    total = _total([jnp.sum(jnp.abs(num.upcast(x)[0])) for x in leaves])
    return num.psum_if(total, axis_name)
