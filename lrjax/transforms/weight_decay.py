"""Decoupled weight decay (Loshchilov & Hutter, 2019) with an optional mask."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation, ScalarOrSchedule

__all__ = ["AddDecayedWeightsState", "add_decayed_weights", "apply_mask"]


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


def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0, mask: Any | None = None
) -> GradientTransformation:
    """Adds ``weight_decay * params`` to the updates: ``u <- u + wd * p``.

    Chained before :func:`lrjax.scale_by_learning_rate` this gives decoupled
    weight decay ``p <- p - lr * (u + wd * p)`` (AdamW).

    Args:
      weight_decay: coefficient ``>= 0``, or a schedule ``step -> coefficient``.
      mask: a tree of bools (or a callable ``params -> tree``) marking which
        parameters decay; ``None`` decays all.

    Raises (at update):
      ValueError: when ``params`` is not given.
    """
    val.check_learning_rate("weight_decay", weight_decay)
    scheduled = callable(weight_decay)

    def init_fn(params):
        del params
        return AddDecayedWeightsState(num.zero_count()) if scheduled else EmptyState()

    def update_fn(updates, state, params=None):
        val.check_params("add_decayed_weights", updates, params)
        if not scheduled and val.is_checkable(weight_decay) and weight_decay == 0:
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
