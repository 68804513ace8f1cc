"""Packed optimizer state: many small leaves updated as one flat buffer.

Real models are trees of hundreds of leaves, most of them small (biases,
norms, small heads). A per-leaf optimizer runs its kernels once per leaf;
:func:`packed` runs an element-wise optimizer on flat buffers instead, one per
parameter dtype, holding every leaf below ``min_size`` elements; larger leaves
stay per-leaf, keeping their own buffers and sharding.

Each step concatenates the small gradient (and parameter) leaves of a group
into its buffer, runs the inner optimizer on ``(big leaves, buffers)`` and cuts
the updates back into leaves (the layout and the cuts are those of
:mod:`lrjax.transforms.packed_params`). Parameters kept packed with
:func:`~lrjax.pack_params` skip both: the step passes a few buffers in and out
instead of one per leaf.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    checks_state,
    elementwise_verdict,
)
from lrjax.transforms.packed_params import (
    DEFAULT_MIN_SIZE,
    PackedParams,
    PackingLayout,
    cut_leaves,
    pack_tree,
    plan_layout,
    register_with_flax,
)

__all__ = ["DEFAULT_MIN_SIZE", "PackedState", "packed"]


class PackedState(NamedTuple):
    """State of :func:`packed`.

    Attributes:
      inner: the inner optimizer's state on a :class:`PackedParams`-shaped
        tree (big leaves and flat buffers).
      layout: the static :class:`PackingLayout`.
    """

    inner: Any
    layout: PackingLayout


def _check_layout(layout: PackingLayout, tree: Any, what: str) -> None:
    if not isinstance(tree, PackedParams) or tree.layout != layout:
        raise ValueError(
            f"lrjax.packed: the {what} are packed with another layout than the "
            f"state's ({getattr(tree, 'layout', type(tree).__name__)} against "
            f"{layout}); pack gradients and parameters alike, or pass trees."
        )


@checks_state
def packed(
    optimizer: GradientTransformation,
    min_size: int = DEFAULT_MIN_SIZE,
    *,
    assume_elementwise: bool = False,
) -> GradientTransformationExtraArgs:
    """Runs an element-wise optimizer on flat buffers of the small leaves.

    Leaves with fewer than ``min_size`` elements are grouped by dtype into one
    flat buffer per dtype, on which ``optimizer``'s state lives; larger leaves
    (with their sharding), 0-d and Python scalars and non-float leaves stay
    per-leaf. For an optimizer whose update is element-wise per leaf the
    arithmetic is ``optimizer``'s own: bit-identical where XLA contracts
    ``a * b + c`` into FMAs alike in both (always, with FMA contraction off),
    otherwise rounding apart; with fewer, larger kernels per step, fewer
    buffers through a jitted step and less compile time on many-leaf trees.

    Which optimizers qualify: lrjax's constructors record it on what they
    return (``sgd``, ``adam``, ``adamw`` and the other Adam variants,
    ``adagrad``, ``rmsprop``, ``adadelta``, ``lion``, ``reduce_on_plateau``,
    ``loss_adaptive_scale``; ``stale_gradients`` and ``staleness_aware`` when
    their inner optimizer qualifies; not ``lamb``/``lars`` (trust ratio per
    leaf), ``adafactor`` (factored moments, per-leaf clipping) or a
    weight-decay ``mask``, which picks leaves by their place in the tree).
    Anything else (an ``optax.chain`` of your own, an optax optimizer) is
    refused unless ``assume_elementwise=True`` vouches for it.

    Args:
      optimizer: the inner optimizer.
      min_size: leaves with fewer elements are packed, an int ``>= 1``.
        Default 65536.
      assume_elementwise: accept an optimizer lrjax cannot vouch for. Its
        results then match the unwrapped optimizer only if it really is
        element-wise (no norms, means or sums over a leaf or the tree, no
        per-leaf masks or shapes).

    Gradients may have another dtype than their parameters (float32
    gradients of bfloat16 parameters), as long as the leaves packed into one
    buffer share it. A small leaf split across devices is packed too: its
    moments and its update are replicated, and ``optax.apply_updates`` gives
    the parameter its sharding back.

    Parameters kept packed with :func:`pack_params` go through as they are:
    ``init`` and ``update`` then take and return :class:`PackedParams`, and
    the step neither packs nor cuts. Trees whose structure differs from the
    one given to ``init`` in node types only are accepted leaf by leaf (Flax
    ``nnx.Optimizer`` passes ``Variable`` nodes to ``init`` and bare arrays
    to ``update``).

    Returns:
      A transformation whose state is a :class:`PackedState`; ``update``
      takes and returns trees shaped like the parameters (or
      :class:`PackedParams`, if that is what it is given).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.packed(lrjax.sgd(0.1, momentum=0.9))
        >>> params = {"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}
        >>> state = tx.init(params)
        >>> state.layout  # both leaves in one float32 buffer of 6 elements
        PackingLayout(2/2 leaves in (('float32', 6),))
        >>> grads = {"w": jnp.full((2, 2), 0.5), "b": jnp.array([1.0, -1.0])}
        >>> updates, state = tx.update(grads, state, params)
        >>> updates["b"]  # sgd's own update: -lr * g, shaped like the params
        Array([-0.1,  0.1], dtype=float32)
    """
    val.check_positive_int("min_size", min_size)
    val.check_type("assume_elementwise", assume_elementwise, bool)
    verdict = elementwise_verdict(optimizer)
    if verdict is not True and not assume_elementwise:
        if isinstance(verdict, str):
            raise ValueError(
                "lrjax.packed cannot run this optimizer on packed leaves: "
                f"{verdict}. Use it unpacked."
            )
        raise ValueError(
            "lrjax.packed accepts optimizers whose update is element-wise per "
            "leaf, and this one is not marked as such (lrjax marks its "
            "element-wise constructors; chains and optax objects are unknown). "
            "Pass assume_elementwise=True if no step of it uses per-leaf or "
            "whole-tree norms, sums, masks or shapes."
        )
    inner = optax.with_extra_args_support(optimizer)

    def init_fn(params: Any) -> PackedState:
        register_with_flax()
        if isinstance(params, PackedParams):
            return PackedState(inner.init(params), params.layout)
        layout = plan_layout(params, int(min_size))
        return PackedState(inner.init(pack_tree(layout, params, "parameter")), layout)

    def update_fn(updates, state, params=None, **extra_args):
        layout = state.layout
        if isinstance(updates, PackedParams):
            # Parameters kept packed (pack_params): nothing to pack or cut.
            _check_layout(layout, updates, "gradients")
            if params is not None:
                _check_layout(layout, params, "parameters")
            return _run_packed(updates, state, params, **extra_args)
        if isinstance(params, PackedParams):
            raise ValueError(
                "lrjax.packed: the parameters are packed (PackedParams) but the "
                "gradients are a tree; take the gradient with respect to the "
                "packed parameters (through lrjax.unpack_params)."
            )
        grads = pack_tree(layout, updates, "gradient")
        packed_params = (
            None if params is None else pack_tree(layout, params, "parameter")
        )
        out, state = _run_packed(grads, state, packed_params, **extra_args)
        return cut_leaves(out), state

    def _run_packed(grads, state, params, **extra_args):
        out, inner_state = inner.update(grads, state.inner, params, **extra_args)
        return out, PackedState(inner_state, state.layout)

    return GradientTransformationExtraArgs(init_fn, update_fn)
