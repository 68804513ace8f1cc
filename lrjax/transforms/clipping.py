"""Gradient clipping blocks (element-wise and by global norm)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation

__all__ = ["clip", "clip_by_global_norm", "global_norm"]


def clip(max_delta: float) -> GradientTransformation:
    """Clips every update element into ``[-max_delta, max_delta]``.

    Args:
      max_delta: the bound, ``> 0``.
    """
    val.check_positive("max_delta", max_delta)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        clipped = jax.tree_util.tree_map(
            lambda u: jnp.clip(u, -max_delta, max_delta).astype(u.dtype), updates
        )
        return clipped, state

    return GradientTransformation(init_fn, update_fn)


def global_norm(tree: Any) -> jax.Array:
    """The float32 L2 norm of all leaves of ``tree`` taken together."""
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        return jnp.zeros([], jnp.float32)
    squares = [jnp.sum(jnp.square(x.astype(jnp.float32))) for x in leaves]
    return jnp.sqrt(sum(squares))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescales the whole update tree so its global L2 norm is at most ``max_norm``.

    ``u <- u * min(1, max_norm / ||u||)`` with ``||u||`` over all leaves
    (Pascanu et al., 2013). PyTorch: ``torch.nn.utils.clip_grad_norm_``.
    A NaN or Inf anywhere in the tree makes the norm non-finite, and the
    non-finite value propagates to every leaf (as in optax).

    Args:
      max_norm: the largest global norm kept, ``> 0``.
    """
    val.check_positive("max_norm", max_norm)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        norm = global_norm(updates)
        factor = jnp.where(norm <= max_norm, 1.0, max_norm / norm)
        clipped = jax.tree_util.tree_map(
            lambda u: (u * factor).astype(u.dtype), updates
        )
        return clipped, state

    return GradientTransformation(init_fn, update_fn)
