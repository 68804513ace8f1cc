"""Gradient clipping blocks (element-wise, by global norm, adaptive unit-wise).

Norms are moduli: a complex leaf contributes ``sum(|u|**2)``, summed in at
least float32. Element-wise clipping needs an order, so it rejects complex
updates (as ``jnp.clip``, and so optax, does); the norm-based clips scale
complex updates by a real factor and keep their phase.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation

__all__ = ["adaptive_grad_clip", "clip", "clip_by_global_norm", "global_norm"]


# Complex numbers have no order; what clip's TypeError suggests instead.
_REAL_ONLY_HINT = (
    "Clip complex updates by modulus with clip_by_global_norm or "
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.clip(1.0)
        >>> g = {"w": jnp.array([0.5, -3.0, 2.0])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates["w"]
        Array([ 0.5, -1. ,  1. ], dtype=float32)
    """
    val.check_positive("max_delta", max_delta)

    def init_fn(params):
        val.check_real("clip", params, "parameter", _REAL_ONLY_HINT)
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        val.check_real("clip", updates, "update", _REAL_ONLY_HINT)

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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tree = {"a": jnp.array([3.0]), "b": jnp.array([0.0, 4.0])}
        >>> print(lrjax.global_norm(tree))
        5.0
        >>> print(lrjax.global_norm([jnp.array([3j, 4.0])]))  # moduli of complex leaves
        5.0
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.clip_by_global_norm(1.0)
        >>> g = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}  # global norm 5
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates  # g * 1 / 5
        {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}
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


# Axes reduced for a unit's norm by rank, when no axis is given (optax's
# convention for (in, out) kernels, (heads) linear kernels and HWIO / DHWIO
# convolutions: a unit is one output channel).
_UNIT_AXES = {2: (0,), 3: (0,), 4: (0, 1, 2), 5: (0, 1, 2, 3)}


def _unit_norms(x: jax.Array, axis: Any) -> jax.Array:
    """The L2 norm of each unit of ``x``, broadcast to ``x``'s shape, real."""
    sq = num.abs_sq(num.upcast(x)[0])
    if axis is None:
        if jnp.squeeze(x).ndim <= 1:
            axis = tuple(range(x.ndim))  # scalars and vectors: one unit
        elif x.ndim in _UNIT_AXES:
            axis = _UNIT_AXES[x.ndim]
        else:
            raise ValueError(
                f"adaptive_grad_clip: a parameter of shape {x.shape} has no "
                "default unit axes (ranks 1 to 5 do); pass axis=."
            )
    norms = jnp.sqrt(jnp.sum(sq, axis=axis, keepdims=True))
    return jnp.broadcast_to(norms, x.shape)


def _check_axis(axis: Any) -> None:
    if axis is None:
        return
    items = axis if isinstance(axis, tuple) else (axis,)
    for a in items:
        if isinstance(a, bool) or not isinstance(a, int):
            raise TypeError(
                f"axis must be None, an int or a tuple of ints, got {axis!r}."
            )


def adaptive_grad_clip(
    clipping: ArrayLike,
    eps: ArrayLike = 1e-3,
    axis: int | tuple[int, ...] | None = None,
) -> GradientTransformation:
    """Adaptive gradient clipping, unit-wise (Brock et al., 2021,
    "High-Performance Large-Scale Image Recognition Without Normalization").

    For each unit (an output channel) of each leaf, with ``||.||`` the unit's
    L2 norm::

        max_norm = clipping * max(||w||, eps)
        u = g                         if ||g|| < max_norm
          = g * max_norm / ||g||      otherwise

    so no unit's update exceeds ``clipping`` times its weights' norm (``eps``
    keeps zero-initialised weights trainable). Units: the whole leaf for
    scalars and vectors; axis 0 reduced for rank 2 and 3 (``(in, out)``
    kernels); axes 0-2 for rank 4 (HWIO convolutions); axes 0-3 for rank 5;
    ``axis`` overrides this. Norms are moduli (complex leaves), in at least
    float32. NFNets use ``clipping = 0.01`` for batch size 4096.

    Args:
      clipping: the largest ratio of update norm to weight norm, ``> 0``.
        Required.
      eps: the smallest weight norm used, ``>= 0``. Default 1e-3.
      axis: the axes a unit's norm reduces (default: by rank, above).

    Returns:
      A stateless ``GradientTransformation``; ``update`` needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adaptive_grad_clip(clipping=0.1)
        >>> params = {"w": jnp.array([3.0, 4.0])}  # ||w|| = 5: the bound is 0.5
        >>> state = tx.init(params)
        >>> updates, _ = tx.update({"w": jnp.array([0.0, 2.0])}, state, params)
        >>> updates["w"]  # ||g|| = 2 > 0.5: g * 0.5 / 2
        Array([0. , 0.5], dtype=float32)
        >>> updates, _ = tx.update({"w": jnp.array([0.0, 0.2])}, state, params)
        >>> updates["w"]  # under the bound: unchanged
        Array([0. , 0.2], dtype=float32)
    """
    val.check_positive("clipping", clipping)
    val.check_non_negative("eps", eps)
    _check_axis(axis)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        val.check_params("adaptive_grad_clip", updates, params)

        def clip_unit(g, p):
            g, p = jnp.asarray(g), jnp.asarray(p)
            g_norm, p_norm = _unit_norms(g, axis), _unit_norms(p, axis)
            max_norm = clipping * jnp.maximum(p_norm, eps)
            gc = num.upcast(g)[0]
            # The tiny floor only guards the division: clipped units have
            # ||g|| >= max_norm > 0 unless clipping * eps == 0.
            scaled = gc * (max_norm / jnp.maximum(g_norm, 1e-6))
            out = jnp.where(g_norm < max_norm, gc, scaled)
            return num.keep_weak(out.astype(g.dtype), g)

        return jax.tree_util.tree_map(clip_unit, updates, params), state

    return GradientTransformation(init_fn, update_fn)
