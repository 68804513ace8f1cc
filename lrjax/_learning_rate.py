"""The learning-rate protocol: read the rate an optimizer applied from its state.

Every lrjax block that applies a learning rate keeps the rate it applied at its
latest ``update`` in a state field named ``learning_rate`` (a float32 scalar).
A block that rescales the rate (reduce on plateau, say) keeps its factor in a
field named ``learning_rate_scale``. New blocks opt in by following the field
convention, not by registering anywhere.

:func:`get_learning_rate` reads these fields per path through the state
tree: the rates and scales met along one path (the blocks of an
``optax.chain``) multiply; the branches of an ``optax.partition`` (alias
``multi_transform``) are separate paths and are reported per label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

LEARNING_RATE_FIELD = "learning_rate"
LEARNING_RATE_SCALE_FIELD = "learning_rate_scale"

__all__ = ["LEARNING_RATE_FIELD", "LEARNING_RATE_SCALE_FIELD", "get_learning_rate"]

# optax.contrib.reduce_on_plateau keeps its factor in a field named just
# `scale`, too generic a name to go by: it is recognised by its type.
_PLATEAU_STATE = optax.contrib.ReduceLROnPlateauState
# Names that can lead to a rate or a scale; subtrees holding none are skipped.
_WANTED_KEYS = frozenset(
    key(name)
    for name in (LEARNING_RATE_FIELD, LEARNING_RATE_SCALE_FIELD, "scale")
    for key in (jax.tree_util.GetAttrKey, jax.tree_util.DictKey)
)
_ARRAY_TYPES = (jax.Array, np.ndarray, np.generic, float, int, bool, complex)


class _Factor(NamedTuple):
    """What one path contributes: a rate and a scale, each possibly absent."""

    rate: jax.Array | None = None
    scale: jax.Array | None = None


# A path's factor, or separate branches: label -> their own results.
_Walk = _Factor | dict[Any, "_Walk"]


def _records(w: _Walk) -> bool:
    if isinstance(w, dict):
        return any(_records(v) for v in w.values())
    return w.rate is not None or w.scale is not None


def _mul(a: jax.Array | None, b: jax.Array | None) -> jax.Array | None:
    if a is None:
        return b
    return a if b is None else a * b


def _along_path(a: _Walk, b: _Walk) -> _Walk:
    """Combines two blocks met one after the other: factors multiply."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return {k: _along_path(a[k], b[k]) for k in a}
    if isinstance(a, dict):
        return {k: _along_path(v, b) for k, v in a.items()}
    if isinstance(b, dict):
        return {k: _along_path(a, v) for k, v in b.items()}
    return _Factor(_mul(a.rate, b.rate), _mul(a.scale, b.scale))


def _fill_rate(w: _Walk, rate: jax.Array) -> _Walk:
    """Gives ``rate`` to every path that records none of its own."""
    if isinstance(w, dict):
        return {k: _fill_rate(v, rate) for k, v in w.items()}
    return w if w.rate is not None else w._replace(rate=rate)


def _resolve(w: _Walk) -> jax.Array | dict[Any, Any] | None:
    if isinstance(w, dict):
        out = {k: r for k, v in w.items() if (r := _resolve(v)) is not None}
        return out or None
    return None if w.rate is None else _mul(w.rate, w.scale)


def _key_name(key: Any) -> Any:
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    if isinstance(key, jax.tree_util.DictKey):
        return key.key
    return None


def _children(node: Any) -> list[tuple[Any, Any]]:
    """The (key, child) pairs one level below ``node``; [] for a leaf."""
    if node is None or isinstance(node, _ARRAY_TYPES):
        return []
    flat, treedef = jax.tree_util.tree_flatten_with_path(
        node, is_leaf=lambda x: x is not node
    )
    if treedef.num_nodes == 1:  # a leaf (or an empty container)
        return []
    return [(path[0], child) for path, child in flat]


def _value(field: Any) -> jax.Array | None:
    """A rate field's array; unwraps Flax ``nnx.Variable`` and similar boxes."""
    leaves = jax.tree_util.tree_leaves(field)
    if len(leaves) != 1:
        return None
    leaf = leaves[0]
    if not isinstance(leaf, _ARRAY_TYPES):  # a box that is no pytree
        leaf = getattr(leaf, "value", leaf)
    return jnp.asarray(leaf, jnp.float32)


def _wanted_prefixes(tree: Any) -> set[tuple[Any, ...]]:
    """Key paths (and their prefixes) that may lead to a rate or a scale."""
    wanted = set()
    for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
        # The field holds its value directly or in one box (an nnx.Variable).
        if not _WANTED_KEYS.isdisjoint(path[-2:]):
            wanted.update(path[:i] for i in range(len(path) + 1))
    return wanted


def _walk(node: Any, path: tuple[Any, ...], wanted: set[tuple[Any, ...]]) -> _Walk:
    if isinstance(node, _PLATEAU_STATE):
        return _Factor(scale=_value(node.scale))
    children = [(k, c) for k, c in _children(node) if path + (k,) in wanted]
    # A state may name the fields on the update's path (sam's outer state,
    # not its adversarial one) in a class attribute `rate_fields`.
    only = getattr(type(node), "rate_fields", None)
    if only is not None:
        children = [(k, c) for k, c in children if _key_name(k) in only]
    if not children:
        return _Factor()
    named = {_key_name(k): (k, c) for k, c in children}

    def sub(name: str) -> _Walk:
        k, c = named[name]
        return _walk(c, path + (k,), wanted)

    if "inner_states" in named and isinstance(named["inner_states"][1], Mapping):
        # optax.partition (alias multi_transform): label -> MaskedState, each a
        # path of its own, reported per label and never multiplied together.
        key, states = named["inner_states"]
        base = path + (key,)
        branches = {
            _key_name(k): _walk(c, base + (k,), wanted)
            for k, c in _children(states)
            if base + (k,) in wanted
        }
        if not _records(branches):
            return _Factor()
        return {label: branches.get(label, _Factor()) for label in states}
    if "hyperparams" in named and isinstance(named["hyperparams"][1], Mapping):
        # optax.inject_hyperparams: its `learning_rate` counts only where the
        # inner optimizer records none (an injected lrjax optimizer does).
        inner = sub("inner_state") if "inner_state" in named else _Factor()
        rate = named["hyperparams"][1].get(LEARNING_RATE_FIELD)
        return inner if rate is None else _fill_rate(inner, _value(rate))
    parts = []
    for key, child in children:
        name = _key_name(key)
        if name == LEARNING_RATE_FIELD and (v := _value(child)) is not None:
            parts.append((key, _Factor(rate=v)))
        elif name == LEARNING_RATE_SCALE_FIELD and (v := _value(child)) is not None:
            parts.append((key, _Factor(scale=v)))
        else:
            parts.append((key, _walk(child, path + (key,), wanted)))
    parts = [(k, w) for k, w in parts if _records(w)]
    if type(node) is dict and len(parts) > 1:
        # A plain dict holding several optimizers' states (a GAN's, say) is a
        # set of separate paths; a chain's state is a tuple (an OrderedDict for
        # optax.named_chain).
        return {_key_name(k): w for k, w in parts}
    out: _Walk = _Factor()
    for _, w in parts:
        out = _along_path(out, w)
    return out


def _walk_tree(tree: Any) -> _Walk:
    if not _children(tree) and hasattr(tree, "opt_state"):
        # An object that is no pytree but holds an optimizer state (a Flax
        # optimizer from a version whose objects are not pytrees).
        tree = tree.opt_state
    return _walk(tree, (), _wanted_prefixes(tree))


def get_learning_rate(opt_state: Any) -> jax.Array | dict[Any, Any]:
    """The learning rate applied at the most recent ``update``.

    Works on the state of any lrjax optimizer and on any pytree that holds one:
    an ``optax.chain``, a dict of states, a Flax ``TrainState`` (or its
    ``opt_state``), a Flax ``nnx.Optimizer`` (or its ``opt_state``, whose
    leaves are wrapped in ``nnx.Variable``), inside ``jit`` and ``nnx.jit``
    too. Before the first ``update`` it is the schedule's value at
    step 0.

    The rule is per path through the state. Along one path (the blocks of an
    ``optax.chain``, or wrappers such as ``optax.masked`` and
    ``optax.MultiSteps``) the rates multiply with the scales found on it:

    * ``learning_rate`` fields (every lrjax block that applies a rate; also
      optax's line searches, whose state keeps the step they took);
    * ``learning_rate_scale`` fields (lrjax's rate controllers);
    * the ``scale`` of ``optax.contrib.reduce_on_plateau``;
    * ``hyperparams["learning_rate"]`` of ``optax.inject_hyperparams``, only
      where the inner optimizer records no rate of its own, so
      ``inject_hyperparams(optax.adam)`` is read and an injected lrjax
      optimizer is not counted twice.

    The branches of ``optax.partition`` (alias ``optax.multi_transform``) are
    separate paths and are never multiplied together: the result is a dict
    ``{label: rate}``. A rate or scale chained after the partition multiplies
    every branch; labels whose path records no rate at all (a frozen
    ``set_to_zero`` branch, say) are left out. A plain dict holding several
    states that each record a rate (a GAN's two optimizers, say) is read per
    key the same way.

    optax's own ``scale_by_learning_rate``, ``scale_by_schedule`` and
    ``scale`` keep no rate in their state (a step count at most), so the rate
    of ``optax.adam`` is not visible unless it is wrapped in
    ``optax.inject_hyperparams``. ``lrjax.scale_by_schedule`` keeps a generic
    factor of either sign, not a rate, and is not read.

    With optax's tree utilities: ``optax.tree.get(state, "learning_rate")``
    works on an lrjax optimizer's state, but an ``inject_hyperparams(lrjax.*)``
    state holds the (equal) rate twice and ``optax.tree.get`` raises on the
    duplicate; pick one with ``optax.tree.get(state, "hyperparams")
    ["learning_rate"]`` or ``optax.tree.get(state,
    "ScaleByLearningRateState").learning_rate``.

    Args:
      opt_state: an optimizer state tree, or an object holding one.

    Returns:
      A float32 array (a scalar unless the state is batched, e.g. by
      ``vmap``), or for a partition a dict from label to such an array.

    Raises:
      ValueError: when no path holds a learning rate (a bare
        ``optax.adam`` state, say).
    """
    rate = _resolve(_walk_tree(opt_state))
    if rate is None:
        raise ValueError(
            "get_learning_rate: this optimizer state records no learning rate "
            f"(got an object of type {type(opt_state).__name__}). lrjax optimizers and "
            "lrjax.scale_by_learning_rate record it; optax's own optimizers "
            "keep no rate in their state: wrap them in optax.inject_hyperparams."
        )
    return rate
