"""Packed parameters: small leaves in flat buffers, with a static layout.

:func:`pack_params` groups the leaves below ``min_size`` elements by dtype into
one flat buffer per dtype; :func:`unpack_params` cuts the tree back out,
differentiably. The layout (:class:`PackingLayout`) is computed from shapes and
dtypes alone and kept as static pytree metadata. :func:`lrjax.packed` builds
its optimizer state on the same layout.

Why the offsets pass through a branch: XLA's CPU compiler compiles each
distinct kernel separately and shares identical ones. Cutting a buffer at
constant offsets makes every cut a distinct kernel (on a 2-core CPU about
40-60 ms of compile time each: 1000 leaves took 59 s against 3.6 s). Offsets
that are runtime values make every cut of a given shape the same kernel, but
as 1000 scalar state leaves they cost 1000 more buffers in and out of every
jitted step (12.4 ms against 8.6-11.0 ms on 1000 x 64x64, 2-core CPU). So
the offsets are the output of a ``lax.cond`` whose two branches return the
same constants, on a predicate read from the buffer being cut: the values are
fixed, yet XLA cannot fold them into the kernels, and the state needs no
extra leaf.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _validation as val

__all__ = [
    "DEFAULT_MIN_SIZE",
    "PackedParams",
    "PackingLayout",
    "pack_params",
    "unpack_params",
]

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


class PackedParams(NamedTuple):
    """A tree with its small leaves packed into flat buffers.

    Made by :func:`pack_params` (or by :func:`packed` from gradients);
    :func:`unpack_params` gives the tree back. Optimizers see it as any other
    pytree: its array leaves are the big leaves and the buffers.

    Attributes:
      leaves: the tree, with ``None`` where a leaf was packed, so big leaves
        keep their paths (and their sharding).
      buffers: one flat buffer per group of packed leaves (one per dtype).
      layout: the static :class:`PackingLayout` (no array leaves).
    """

    leaves: Any
    buffers: tuple
    layout: PackingLayout


def plan_layout(params: Any, min_size: int) -> PackingLayout:
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


def pack_tree(layout: PackingLayout, tree: Any, what: str) -> PackedParams:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    if treedef != layout.treedef and not _same_places(layout.treedef, tree):
        raise ValueError(
            f"lrjax.packed: the {what} tree structure {treedef} differs from "
            f"the parameters' at init, {layout.treedef}."
        )
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
    return PackedParams(jax.tree_util.tree_unflatten(treedef, kept), buffers, layout)


def _same_places(treedef: Any, tree: Any) -> bool:
    """Whether ``tree``'s leaves sit where ``treedef``'s do, node types aside.

    Flax nnx passes ``Variable`` nodes to ``init`` (leaf paths such as
    ``['kernel'].value``) and bare arrays to ``update`` (``['kernel']``):
    the same leaves in the same places, under other node types. Paths match
    when one extends the other.
    """
    skeleton = jax.tree_util.tree_unflatten(treedef, range(treedef.num_leaves))
    ours = [p for p, _ in jax.tree_util.tree_flatten_with_path(skeleton)[0]]
    theirs = [p for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        a, b = jax.tree_util.keystr(a), jax.tree_util.keystr(b)
        if not (a.startswith(b) or b.startswith(a)):
            return False
    return True


def _leaf_path(layout: PackingLayout, index: int) -> str:
    """The key path of leaf ``index`` of the layout's tree, as ``['a'][0]``."""
    skeleton = jax.tree_util.tree_unflatten(layout.treedef, range(len(layout.slots)))
    for path, value in jax.tree_util.tree_flatten_with_path(skeleton)[0]:
        if value == index:
            return jax.tree_util.keystr(path)
    return f"leaf {index}"


def _opaque_offsets(layout: PackingLayout, probe: jax.Array) -> tuple:
    """Each packed leaf's offset, as values XLA cannot constant-fold.

    ``probe`` is any runtime array: the branch is taken on one of its
    elements (NaN or not), and both branches return the same constants.
    """
    consts = tuple(np.int32(slot[1]) for slot in layout.slots if slot)
    if not consts:
        return ()

    def offsets() -> tuple:
        return tuple(jnp.asarray(c) for c in consts)

    first = jax.lax.stop_gradient(jnp.reshape(probe, (-1,))[0])
    return jax.lax.cond(jnp.isnan(first), offsets, offsets)


def _flat_buffer(leaves: list, size: int) -> Any:
    """One group's leaves as one flat buffer; abstract if any leaf is."""
    if any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in leaves):
        # init on shapes alone (``jax.ShapeDtypeStruct``), as every lrjax
        # optimizer accepts: the inner init needs the buffer's shape only.
        return jax.ShapeDtypeStruct((size,), leaves[0].dtype)
    flat = [jnp.reshape(leaf, (-1,)) for leaf in leaves]
    # One concatenate per group: a single kernel, cheap to compile.
    return jnp.concatenate(flat) if len(flat) > 1 else flat[0]


def register_with_flax() -> None:
    """Lets ``flax.serialization`` save a :class:`PackedState` or
    :class:`PackedParams`.

    flax serializes a NamedTuple field by field and cannot encode the static
    layout. It has nothing to save (``init`` rebuilds it from shapes, and a
    restore starts from such a target), so it is registered as an empty dict
    restored from the target. Done by ``init`` and :func:`pack_params`, where
    flax is installed; lrjax does not depend on flax.
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


def _kept(packed: PackedParams) -> tuple[list, Any]:
    """The leaves of ``packed.leaves`` in layout order, ``None`` where packed."""
    kept, treedef = jax.tree_util.tree_flatten(packed.leaves, is_leaf=_is_none)
    if len(kept) != len(packed.layout.slots):
        raise ValueError(
            f"lrjax.unpack_params: the tree {treedef} has {len(kept)} leaves, "
            f"its layout {len(packed.layout.slots)}."
        )
    return kept, treedef


def _is_none(x: Any) -> bool:
    return x is None


def cut_leaves(packed: PackedParams) -> Any:
    """The tree, its packed leaves cut out of the buffers at opaque offsets."""
    layout = packed.layout
    kept, treedef = _kept(packed)
    offsets = _opaque_offsets(layout, packed.buffers[0]) if packed.buffers else ()
    out, k = [], 0
    for leaf, slot in zip(kept, layout.slots, strict=True):
        if slot is None:
            out.append(leaf)
            continue
        size = int(np.prod(slot[2]))
        cut = jax.lax.dynamic_slice(
            packed.buffers[slot[0]],
            (offsets[k],),
            (size,),
            allow_negative_indices=False,
        )
        out.append(jnp.reshape(cut, slot[2]))
        k += 1
    return jax.tree_util.tree_unflatten(treedef, out)


def _split(packed: PackedParams) -> Any:
    """:func:`cut_leaves` with static slices: linear, and transposed by JAX into one
    concatenate per buffer (the cuts' offsets never reach a gradient)."""
    layout = packed.layout
    kept, treedef = _kept(packed)
    pieces: list[list[Any]] = []
    for g, buffer in enumerate(packed.buffers):
        sizes = [int(np.prod(s[2])) for s in layout.slots if s and s[0] == g]
        pieces.append(list(jax.lax.split(buffer, sizes))[::-1])
    out = []
    for leaf, slot in zip(kept, layout.slots, strict=True):
        out.append(
            leaf if slot is None else jnp.reshape(pieces[slot[0]].pop(), slot[2])
        )
    return jax.tree_util.tree_unflatten(treedef, out)


def pack_params(params: Any, min_size: int = DEFAULT_MIN_SIZE) -> PackedParams:
    """Packs the leaves of ``params`` below ``min_size`` elements into flat buffers.

    The layout is :func:`packed`'s (one buffer per dtype, leaves in tree
    order; big, 0-d, Python-scalar and non-float leaves stay as they are), so
    ``lrjax.packed(opt).init(params)`` and ``.init(pack_params(params))``
    build the same state. Keep the result as the training state's
    parameters and read the tree through :func:`unpack_params` inside the
    loss: the gradient, the optimizer's update and ``optax.apply_updates``
    then work on the buffers, and a jitted step passes a few buffers in and
    out instead of one per leaf (see the example below).

    Whether that is faster depends on the model and the backend (see
    ``BENCHMARKS.md``): each step cuts the leaves out of the buffers and
    concatenates their gradients, which costs memory traffic (XLA:CPU copies
    each leaf out of its buffer before a matrix product reads it). On a
    2-core CPU, Adam steps on a small model of 576 leaves of about a
    thousand elements each ran 3-5x faster than optax's; with thousands of
    elements a leaf there was no gain.

    Args:
      params: a tree of arrays (or ``jax.ShapeDtypeStruct``).
      min_size: leaves with fewer elements are packed, an int ``>= 1``.

    Returns:
      A :class:`PackedParams`.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import lrjax
        >>> params = {"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}
        >>> flat = lrjax.pack_params(params)
        >>> [x.shape for x in flat.buffers]  # one float32 buffer: 2 + 4 elements
        [(6,)]
        >>> opt = lrjax.packed(lrjax.sgd(0.1))
        >>> state = opt.init(flat)
        >>> def loss(flat):
        ...     p = lrjax.unpack_params(flat)
        ...     return jnp.sum(p["w"]) + jnp.sum(p["b"] - 1.0)
        >>> grads = jax.grad(loss)(flat)  # packed, like flat
        >>> updates, state = opt.update(grads, state, flat)
        >>> flat = optax.apply_updates(flat, updates)
        >>> lrjax.unpack_params(flat)["b"]  # 0 - lr * 1
        Array([-0.1, -0.1], dtype=float32)
    """
    val.check_positive_int("min_size", min_size)
    if isinstance(params, PackedParams):
        raise TypeError("lrjax.pack_params: params are already a PackedParams.")
    register_with_flax()
    return pack_tree(plan_layout(params, int(min_size)), params, "parameter")


@jax.custom_jvp
def unpack_params(packed: PackedParams) -> Any:
    """The tree of a :class:`PackedParams`, leaves cut out of their buffers.

    Differentiable in both modes: the gradient with respect to ``packed``
    comes out packed (one concatenate per buffer, no per-leaf scatter), and
    forward mode (``jax.jvp``, Hessian-vector products) passes through.
    Call it inside the loss so the jitted step passes the packed buffers.

    Args:
      packed: parameters from :func:`pack_params` (or any tree built with the
        same layout, such as their gradients or updates).

    Returns:
      A tree shaped like the one :func:`pack_params` was given.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> params = {"w": jnp.ones((2, 2)), "b": jnp.array([1.0, 2.0])}
        >>> flat = lrjax.pack_params(params)
        >>> flat.buffers[0]  # the leaves in tree order (b, then w)
        Array([1., 2., 1., 1., 1., 1.], dtype=float32)
        >>> lrjax.unpack_params(flat)["b"]
        Array([1., 2.], dtype=float32)
    """
    return cut_leaves(packed)


@unpack_params.defjvp
def _unpack_params_jvp(primals: tuple, tangents: tuple) -> tuple:
    # Primal at opaque offsets (one kernel per leaf shape); tangent through
    # static slices, whose transpose is a concatenate.
    return unpack_params(primals[0]), _split(tangents[0])
