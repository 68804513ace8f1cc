"""Decoupled weight decay (Loshchilov & Hutter, 2019) with an optional mask."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation, ScalarOrSchedule

__all__ = ["AddDecayedWeightsState", "add_decayed_weights", "apply_mask", "check_mask"]


class AddDecayedWeightsState(NamedTuple):
    """State of :func:`add_decayed_weights` when ``weight_decay`` is a schedule."""

    count: jax.Array


def apply_mask(mask: Any, params: Any, fn, updates: Any) -> Any:
    """``fn(u, p)`` where ``mask`` is True, ``u`` elsewhere.

    ``mask`` is a tree of bools with the structure of ``params`` (or a prefix
    of it), or a callable ``params -> such a tree``; ``None`` means all True.
    """
    if mask is None:
        return jax.tree_util.tree_map(fn, updates, params)
    mask_tree = mask(params) if callable(mask) else mask

    def on_subtree(m, u, p):
        if m:
            return jax.tree_util.tree_map(fn, u, p)
        return u

    return jax.tree_util.tree_map(on_subtree, mask_tree, updates, params)


def _is_bool(leaf: Any) -> bool:
    """A concrete boolean: what ``if leaf:`` in :func:`apply_mask` can select on."""
    if isinstance(leaf, (bool, np.bool_)):
        return True
    if isinstance(leaf, jax.core.Tracer):
        return False
    return isinstance(leaf, (np.ndarray, jax.Array)) and (
        leaf.shape == () and leaf.dtype == bool
    )


def check_mask(name: str, mask: Any, params: Any) -> None:
    """Raises unless ``mask`` fits ``params`` the way :func:`apply_mask` uses it.

    A callable mask is applied to ``params`` first, as ``update`` does. The
    result must be a tree with the structure of ``params`` or a prefix of it
    (one bool for a whole subtree, as ``optax.masked`` allows), with concrete
    bool leaves. Called at ``init``, so a wrong mask fails there, naming
    ``name``, rather than deep inside the first update.
    """
    # optax.tree_map_params initialises with a leafless placeholder: nothing
    # to select, and a callable mask may not accept it.
    if mask is None or not jax.tree_util.tree_leaves(params):
        return
    source = f"{name}(params)" if callable(mask) else name
    mask_tree = mask(params) if callable(mask) else mask
    try:
        jax.tree_util.tree_map(lambda m, p: None, mask_tree, params)
    except (ValueError, TypeError):
        raise ValueError(
            f"{source} must be a tree of bools with the tree structure of the "
            "params (or a prefix of it), got tree structure "
            f"{jax.tree_util.tree_structure(mask_tree)} for params with tree "
            f"structure {jax.tree_util.tree_structure(params)}."
        ) from None
    for path, leaf in jax.tree_util.tree_flatten_with_path(mask_tree)[0]:
        if not _is_bool(leaf):
            raise TypeError(
                f"{source} must have concrete bool leaves, got {leaf!r} at "
                f"{jax.tree_util.keystr(path) or 'the root'}."
            )


def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
    *,
    mask_name: str = "mask",
) -> GradientTransformation:
    """Adds ``weight_decay * params`` to the updates: ``u <- u + wd * p``.

    Chained before :func:`lrjax.scale_by_learning_rate` this gives decoupled
    weight decay ``p <- p - lr * (u + wd * p)`` (AdamW).

    Args:
      weight_decay: coefficient ``>= 0``, or a schedule ``step -> coefficient``.
      mask: a tree of bools (or a callable ``params -> tree``) marking which
        parameters decay; ``None`` decays all.
      mask_name: the name errors give ``mask``; optimizers pass the name of
        their own argument (``weight_decay_mask``). lrjax addition.

    Raises (at init):
      ValueError, TypeError: when ``mask`` does not fit the params.

    Raises (at update):
      ValueError: when ``params`` is not given.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> # AdamW's decay: added before the rate, masked off for biases.
        >>> tx = lrjax.chain(
        ...     lrjax.add_decayed_weights(0.5, mask={"w": True, "b": False}),
        ...     lrjax.scale_by_learning_rate(0.1),
        ... )
        >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([4.0])}
        >>> grads = {"w": jnp.array([1.0, 1.0]), "b": jnp.array([1.0])}
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> updates["w"]  # -lr * (g + 0.5 * w)
        Array([-0.15, -0.2 ], dtype=float32)
        >>> updates["b"]  # -lr * g
        Array([-0.1], dtype=float32)
    """
    val.check_learning_rate("weight_decay", weight_decay)
    scheduled = callable(weight_decay)

    def init_fn(params):
        check_mask(mask_name, mask, params)
        return AddDecayedWeightsState(num.zero_count()) if scheduled else EmptyState()

    def update_fn(updates, state, params=None):
        val.check_params("add_decayed_weights", updates, params)
        if not scheduled and val.is_zero(weight_decay):
            return updates, state  # nothing to add; keeps the compiled step lean
        if scheduled:
            wd = jnp.asarray(weight_decay(state.count), jnp.float32)
            state = AddDecayedWeightsState(num.safe_increment(state.count))
        else:
            wd = weight_decay

        def decay(u, p):
            u, p = jnp.asarray(u), jnp.asarray(p)
            uc, pc = num.upcast(u, p)
            return num.cast(uc + wd * pc, num.update_dtype(u, p.dtype))

        return apply_mask(mask, params, decay, updates), state

    return GradientTransformation(init_fn, update_fn)
