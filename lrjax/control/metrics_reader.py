"""One reader for what the recorders keep in an optimizer state.

:func:`get_metrics` finds every :func:`lrjax.track_signals` and
:func:`lrjax.skip_spikes` state inside an optimizer state (or a Flax
``TrainState`` / ``nnx.Optimizer`` holding one) and returns their entries,
with the learning rate, as one flat dict for a logger.
"""

from __future__ import annotations

from typing import Any

import jax

from lrjax import _containers
from lrjax._base import get_learning_rate
from lrjax.control.signals import TrackSignalsState
from lrjax.control.spikes import SkipSpikesState
from lrjax.transforms._param_rules import path_string

__all__ = ["get_metrics"]

_RECORDERS = (TrackSignalsState, SkipSpikesState)


def _is_recorder(node: Any) -> bool:
    return isinstance(node, _RECORDERS)


def _recorders(tree: Any, prefix: tuple[Any, ...]) -> list[tuple[tuple, Any]]:
    """(path, state) of every recorder in ``tree``, wrapped ones included."""
    flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_recorder)[0]
    found = []
    for path, node in flat:
        if _is_recorder(node):
            path = prefix + tuple(path)
            found.append((path, node))
            inner_key = jax.tree_util.GetAttrKey("inner_state")
            found.extend(_recorders(node.inner_state, path + (inner_key,)))
    return found


def get_metrics(state: Any) -> dict[str, jax.Array]:
    """The training signals recorded in an optimizer state, as a flat dict.

    Finds every :func:`lrjax.track_signals` and :func:`lrjax.skip_spikes`
    state in ``state`` (a bare state, ``optax.chain``, a Flax ``TrainState``,
    an ``nnx.Optimizer`` or its ``opt_state``), inside ``jit`` too, and
    returns their entries: ``grad_norm``, ``update_norm``, ``param_norm``,
    ``update_rms_ratio`` (and ``<signal>/<group>``) from ``track_signals``;
    ``skip_count``, ``skipped``, ``monitored_value``, ``monitored_mean`` and
    ``monitored_std`` from ``skip_spikes``. When several recorders of one
    kind are present, each one's keys are prefixed with its path in the state
    without the wrappers' ``inner_state`` fields (``"0/grad_norm"`` for the
    first member of a chain, ``"<label>/grad_norm"`` for a partition branch;
    nested recorders, whose short paths coincide, keep their whole path:
    ``"grad_norm"`` and ``"inner_state/grad_norm"``). ``learning_rate`` is
    added whenever
    :func:`lrjax.get_learning_rate` reads one (per label for a partition:
    ``learning_rate/<label>``).

    Args:
      state: an optimizer state, or an object holding one.

    Returns:
      A dict from name to a scalar array (batched under ``vmap``), ready for
      a logger: ``{k: float(v) for k, v in get_metrics(state).items()}``.

    Raises:
      ValueError: when the state holds no ``track_signals`` or
        ``skip_spikes`` state.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.track_signals(lrjax.adam(1e-3))
        >>> params = jnp.ones(4)
        >>> state = opt.init(params)
        >>> _, state = opt.update(jnp.full(4, 0.5), state, params)
        >>> m = lrjax.get_metrics(state)
        >>> sorted(m)
        ['grad_norm', 'learning_rate', 'param_norm', 'update_norm', 'update_rms_ratio']
        >>> print(f"{float(m['update_rms_ratio']):.4f}")  # Adam's first step: lr
        0.0010
    """
    opt_state = _containers.opt_state_of(state)
    found = _recorders(opt_state, ())
    if not found:
        raise ValueError(
            "get_metrics: the state records no training signals (got an object of "
            f"type {type(state).__name__}); wrap the optimizer in lrjax.track_signals "
            "or lrjax.skip_spikes."
        )
    out: dict[str, jax.Array] = {}
    for path, node in found:
        prefix = _prefixes(found, type(node))[path]
        out.update({prefix + k: v for k, v in node.metrics().items()})
    try:
        rate = get_learning_rate(opt_state)
    except ValueError:
        return out
    out.update(_flat_rates("learning_rate", rate))
    return out


# Wrapper fields that only lead to an inner state: left out of key prefixes.
_WRAPPER_KEYS = frozenset({"inner_state", "inner_states", "inner_opt_state"})


def _prefixes(found: list[tuple[tuple, Any]], kind: type) -> dict[tuple, str]:
    """Key prefix of each recorder of ``kind``: none when it is the only one;
    else its path without wrapper fields (``"0/"``, ``"<label>/"`` for a
    partition branch), or its whole path where those would collide."""
    paths = [path for path, node in found if type(node) is kind]
    if len(paths) == 1:
        return {paths[0]: ""}
    full = [path_string(p) for p in paths]
    short = ["/".join(c for c in f.split("/") if c not in _WRAPPER_KEYS) for f in full]
    names = short if len(set(short)) == len(short) else full
    return {p: f"{n}/" if n else "" for p, n in zip(paths, names, strict=True)}


def _flat_rates(name: str, rate: Any) -> dict[str, jax.Array]:
    """A partition's ``{label: rate}`` (nested for nested partitions), flat."""
    if not isinstance(rate, dict):
        return {name: rate}
    out = {}
    for label, sub in rate.items():
        out.update(_flat_rates(f"{name}/{label}", sub))
    return out
