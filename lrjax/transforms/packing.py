"""Packed optimizer state: many small leaves updated as one flat buffer.

Real models are trees of hundreds of leaves, most of them small (biases,
norms, small heads). A per-leaf optimizer runs its kernels once per leaf;
:func:`packed` runs an element-wise optimizer on flat buffers instead, one per
parameter dtype, holding every leaf below ``min_size`` elements; larger leaves
stay per-leaf, keeping their own buffers and sharding.

Each step concatenates the small gradient (and parameter) leaves of a group
into its buffer, runs the inner optimizer on ``(big leaves, buffers)`` and cuts
the updates back into leaves. The layout is static: computed at ``init`` from
shapes and dtypes and kept as pytree metadata of the state.

Why the offsets pass through a branch: XLA's CPU compiler compiles each
distinct kernel separately and shares identical ones. Cutting a buffer at
constant offsets makes every cut a distinct kernel (on a 2-core CPU about
40-60 ms of compile time each: 1000 leaves took 59 s against 3.6 s). Offsets
that are runtime values make every cut of a given shape the same kernel, but
as 1000 scalar state leaves they cost 1000 more buffers in and out of every
jitted step (12.4 ms against 8.6-11.0 ms on 1000 x 64x64, 2-core CPU). So
the offsets are the output of a ``lax.cond`` on a runtime scalar of the state
whose two branches return the same constants: the values are fixed, yet XLA
cannot fold them into the kernels.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    elementwise_verdict,
)

__all__ = ["PackedState", "PackingLayout", "packed", "DEFAULT_MIN_SIZE"]

# Leaves with fewer elements than this are packed by default: see BENCHMARKS.md.
DEFAULT_MIN_SIZE = 65536


class PackingLayout:
    """Where each leaf lives, static (a pytree node without leaves).

    Attributes:
      treedef: structure of the parameter tree.
      slots: per leaf, ``None`` (kept as its own leaf) or ``(group, offset,
        shape)``: its place in group ``group``'s flat buffer.
      groups: per group, ``(dtype name, size)``.
    """

    def __init__(self, treedef: Any, slots: tuple, groups: tuple) -> None:
        self.treedef, self.slots, self.groups = treedef, slots, groups

    def _key(self) -> tuple:
        return (self.treedef, self.slots, self.groups)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PackingLayout) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        packed = sum(s is not None for s in self.slots)
        return f"PackingLayout({packed}/{len(self.slots)} leaves in {self.groups})"


jax.tree_util.register_static(PackingLayout)


class PackedState(NamedTuple):
    """State of :func:`packed`.

    Attributes:
      inner: the inner optimizer's state on ``(big leaves, flat buffers)``.
      origin: an int32 zero. The leaves' offsets in their buffers are read
        through a branch on it, so that XLA treats them as runtime values and
        compiles one cutting kernel per leaf shape (see the module notes).
      layout: the static :class:`PackingLayout`.
    """

    inner: Any
    origin: jax.Array
    layout: PackingLayout


class _PackedTree(NamedTuple):
    """What the inner optimizer sees: the tree with packed leaves set to
    ``None`` (so big leaves keep their paths) and the flat buffers."""

    leaves: Any
    buffers: tuple


def _plan(params: Any, min_size: int) -> PackingLayout:
    """Groups leaves below ``min_size`` by dtype, from shapes alone.

    Not by sharding: under ``jit`` and ``eval_shape`` (how checkpoint restore
    targets are built) the shardings of the parameters are unknown, and a
    layout that depended on them would differ from the one a concrete ``init``
    made. A small leaf split across devices is therefore packed too, its state
    replicated (small by definition); leaves from ``min_size`` up keep theirs.
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    groups: dict[str, int] = {}
    sizes: dict[str, int] = {}
    slots = []
    for leaf in leaves:
        dtype = getattr(leaf, "dtype", None)
        packable = (
            # Python scalars keep optax's dtype rules; 0-d arrays stay too:
            # XLA:CPU's scalar code contracts into FMAs differently (NAdam's
            # step of a 0-d leaf moved by one ulp when packed).
            getattr(leaf, "ndim", 0) >= 1
            and dtype is not None
            and jnp.issubdtype(dtype, jnp.inexact)  # others: inner rejects them
            and int(np.prod(leaf.shape)) < min_size
        )
        if not packable:
            slots.append(None)
            continue
        name = jnp.dtype(dtype).name
        group = groups.setdefault(name, len(groups))
        offset = sizes.get(name, 0)
        size = int(np.prod(leaf.shape))
        sizes[name] = offset + size
        slots.append((group, offset, tuple(leaf.shape)))
    group_info = tuple((name, sizes[name]) for name in groups)
    return PackingLayout(treedef, tuple(slots), group_info)


def _pack(layout: PackingLayout, tree: Any, what: str) -> _PackedTree:
    try:
        leaves = layout.treedef.flatten_up_to(tree)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"lrjax.packed: the {what} tree structure "
            f"{jax.tree_util.tree_structure(tree)} differs from the parameters' "
            f"at init, {layout.treedef}."
        ) from err
    members: list[list[Any]] = [[] for _ in layout.groups]
    kept = []
    for i, (leaf, slot) in enumerate(zip(leaves, layout.slots, strict=True)):
        if slot is None:
            kept.append(leaf)
            continue
        kept.append(None)
        if tuple(jnp.shape(leaf)) != slot[2]:
            raise ValueError(
                f"lrjax.packed: the {what} at {_leaf_path(layout, i)} has shape "
                f"{tuple(jnp.shape(leaf))}, but its parameter had {slot[2]} at "
                "init."
            )
        group = members[slot[0]]
        if group and jnp.dtype(leaf.dtype) != jnp.dtype(group[0].dtype):
            # One buffer holds the group: its leaves must share a dtype (any
            # dtype: float32 gradients of bfloat16 parameters are fine).
            raise TypeError(
                f"lrjax.packed: the {what} at {_leaf_path(layout, i)} has dtype "
                f"{leaf.dtype}, but other {what} leaves packed with it (parameters "
                f"of dtype {layout.groups[slot[0]][0]} at init) have "
                f"{group[0].dtype}; give them one dtype."
            )
        group.append(leaf)
    buffers = tuple(
        _flat_buffer(m, layout.groups[g][1]) for g, m in enumerate(members) if m
    )
    return _PackedTree(jax.tree_util.tree_unflatten(layout.treedef, kept), buffers)


def _leaf_path(layout: PackingLayout, index: int) -> str:
    """The key path of leaf ``index`` of the layout's tree, as ``['a'][0]``."""
    skeleton = jax.tree_util.tree_unflatten(layout.treedef, range(len(layout.slots)))
    for path, value in jax.tree_util.tree_flatten_with_path(skeleton)[0]:
        if value == index:
            return jax.tree_util.keystr(path)
    return f"leaf {index}"


def _opaque_offsets(layout: PackingLayout, origin: jax.Array) -> tuple:
    """Each packed leaf's offset, as values XLA cannot constant-fold."""
    consts = tuple(np.int32(slot[1]) for slot in layout.slots if slot)
    if not consts:
        return ()

    def offsets() -> tuple:
        return tuple(jnp.asarray(c) for c in consts)

    # Both branches agree: the branch only hides the constants from XLA.
    return jax.lax.cond(origin == 0, offsets, offsets)


def _flat_buffer(leaves: list, size: int) -> Any:
    """One group's leaves as one flat buffer; abstract if any leaf is."""
    if any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in leaves):
        # init on shapes alone (``jax.ShapeDtypeStruct``), as every lrjax
        # optimizer accepts: the inner init needs the buffer's shape only.
        return jax.ShapeDtypeStruct((size,), leaves[0].dtype)
    flat = [jnp.reshape(leaf, (-1,)) for leaf in leaves]
    # One concatenate per group: a single kernel, cheap to compile.
    return jnp.concatenate(flat) if len(flat) > 1 else flat[0]


def _register_with_flax() -> None:
    """Lets ``flax.serialization`` save a :class:`PackedState`.

    flax serializes a NamedTuple field by field and cannot encode the static
    layout. It has nothing to save (``init`` rebuilds it from shapes, and a
    restore starts from such a target), so it is registered as an empty dict
    restored from the target. Done at the first ``init``, where flax is
    installed; lrjax does not depend on flax.
    """
    try:
        from flax import serialization
    except ImportError:
        return
    serialization.register_serialization_state(
        PackingLayout,
        lambda layout: {},
        lambda target, state: target,
        override=True,  # idempotent: every init registers the same pair
    )


def _unpack(layout: PackingLayout, tree: _PackedTree, origin: jax.Array) -> Any:
    kept = layout.treedef.flatten_up_to(tree.leaves)
    offsets = _opaque_offsets(layout, origin)
    out, k = [], 0
    for leaf, slot in zip(kept, layout.slots, strict=True):
        if slot is None:
            out.append(leaf)
            continue
        size = int(np.prod(slot[2]))
        cut = jax.lax.dynamic_slice(
            tree.buffers[slot[0]], (offsets[k],), (size,), allow_negative_indices=False
        )
        out.append(jnp.reshape(cut, slot[2]))
        k += 1
    return jax.tree_util.tree_unflatten(layout.treedef, out)


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
    results are bit-for-bit those of ``optimizer`` itself, with fewer, larger
    kernels per step and less compile time on many-leaf trees.

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

    Returns:
      A transformation whose state is a :class:`PackedState`; ``update``
      takes and returns trees shaped like the parameters.
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
        _register_with_flax()
        layout = _plan(params, int(min_size))
        return PackedState(
            inner.init(_pack(layout, params, "parameter")),
            jnp.zeros((), jnp.int32),
            layout,
        )

    def update_fn(updates, state, params=None, **extra_args):
        layout = state.layout
        grads = _pack(layout, updates, "gradient")
        packed_params = None if params is None else _pack(layout, params, "parameter")
        out, inner_state = inner.update(grads, state.inner, packed_params, **extra_args)
        return _unpack(layout, out, state.origin), PackedState(
            inner_state, state.origin, layout
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
