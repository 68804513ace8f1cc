"""Gradient clipping blocks (element-wise and by global norm).

Norms are moduli: a complex leaf contributes ``sum(|u|**2)``, summed in at
least float32. Element-wise clipping needs an order, so it rejects complex
updates (as ``jnp.clip``, and so optax, does); the norm-based clips scale
complex updates by a real factor and keep their phase.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation

__all__ = ["clip", "clip_by_global_norm", "global_norm"]


def _reject_complex(tree: Any, what: str) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if jnp.iscomplexobj(leaf):
            raise TypeError(
                f"clip: the {what} at {jax.tree_util.keystr(path) or 'the root'} "
                f"is complex ({leaf.dtype}). Element-wise clipping into "
                "[-max_delta, max_delta] needs ordered (real) numbers; clip "
                "complex updates by modulus with clip_by_global_norm or "
                "clip_by_block_rms instead."
            )


def clip(max_delta: float) -> GradientTransformation:
    """Clips every update element into ``[-max_delta, max_delta]``.

    Complex numbers have no order, so complex parameters are rejected at
    ``init`` (and complex updates at ``update``) with a ``TypeError``; use
    :func:`clip_by_global_norm` or :func:`lrjax.clip_by_block_rms`, which
    bound the modulus. (optax's ``clip`` fails on them inside ``jnp.clip``.)

    Args:
      max_delta: the bound, ``> 0``.
    """
    val.check_positive("max_delta", max_delta)

    def init_fn(params):
        _reject_complex(params, "parameter")
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        _reject_complex(updates, "update")

        def clip_leaf(u):
            u = jnp.asarray(u)
            return jnp.clip(num.upcast(u)[0], -max_delta, max_delta).astype(u.dtype)

        return jax.tree_util.tree_map(clip_leaf, updates), state

    return GradientTransformation(init_fn, update_fn)


def global_norm(tree: Any, *, axis_name: num.AxisName = None) -> jax.Array:
    """The L2 norm of all leaves of ``tree`` taken together.

    ``sqrt(sum_leaves sum(|x|**2))``: the modulus for complex leaves
    (``global_norm([3j]) == 3``). Summed in at least float32 (in float64 when
    a leaf is float64), so float16 squares neither underflow nor overflow; the
    result is real.

    **Sharded trees** (``axis_name``, keyword-only, lrjax addition; every
    block that reduces over a tree or a leaf takes it with this meaning).
    Under ``jax.shard_map`` (or ``pmap``) with the leaves split across the
    mesh axis ``axis_name`` (a name or a tuple of names), each device sees
    only its block, so its sum is partial. With ``axis_name`` given the
    partial sums are completed with ``jax.lax.psum(..., axis_name)`` before
    the square root, and every device gets the norm of the whole tree: the
    model-parallel result equals the unsharded one (up to the order of
    summation). Call the optimizer's ``init`` and ``update`` inside the same
    ``shard_map`` (``in_specs``/``out_specs`` splitting parameters, gradients
    and per-parameter state alike, ``P()`` for scalar state). Every leaf must
    be split along ``axis_name``: a leaf replicated along it would be counted
    once per device. ``None`` (default): no collective, the sum of what the
    caller holds.
    """
    val.check_axis_name("axis_name", axis_name)
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        return jnp.zeros([], jnp.float32)
    squares = [jnp.sum(num.abs_sq(num.upcast(x)[0])) for x in leaves]
    return jnp.sqrt(num.psum_if(sum(squares), axis_name))


def clip_by_global_norm(
    max_norm: float, *, axis_name: num.AxisName = None
) -> GradientTransformation:
    """Rescales the whole update tree so its global L2 norm is at most ``max_norm``.

    ``u <- u * min(1, max_norm / ||u||)`` with ``||u||`` over all leaves
    (:func:`global_norm`, the modulus for complex leaves; Pascanu et al.,
    2013). PyTorch: ``torch.nn.utils.clip_grad_norm_``.
    A NaN or Inf anywhere in the tree makes the norm non-finite, and the
    non-finite value propagates to every leaf (as in optax).

    Args:
      max_norm: the largest global norm kept, ``> 0``.
      axis_name: lrjax addition (keyword-only): the mesh axis (or axes) the
        leaves are split across under ``shard_map``; the norm is then taken
        over the whole sharded tree. See :func:`global_norm`. Default None.
    """
    val.check_positive("max_norm", max_norm)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        norm = global_norm(updates, axis_name=axis_name)
        factor = jnp.where(norm <= max_norm, 1.0, max_norm / norm)
        clipped = jax.tree_util.tree_map(
            lambda u: (num.upcast(u)[0] * factor).astype(jnp.asarray(u).dtype),
            updates,
        )
        return clipped, state

    return GradientTransformation(init_fn, update_fn)
