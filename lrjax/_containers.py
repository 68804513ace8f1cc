"""Where optimizer state and parameters live: bare trees, Flax, Flax nnx.

The helpers that read or rewrite optimizer state (``report_metric``,
``schedule_free_eval_params``, ``averaged_params``) accept the state as a bare
tree, inside a Flax ``TrainState``, inside an ``nnx.Optimizer``, or as an
``nnx.Optimizer``'s ``opt_state`` (whose leaves are ``nnx.Variable`` boxes),
and parameters as a tree, an ``nnx.State`` or an ``nnx.Module``. This module
turns each into plain arrays and writes results back where they came from.

Flax is not a dependency: nnx objects are recognised only once the user has
imported ``flax.nnx`` (no nnx object can exist before that).
"""

from __future__ import annotations

import sys
from typing import Any


def nnx_or_none() -> Any:
    """The ``flax.nnx`` module when it is imported, else None."""
    return sys.modules.get("flax.nnx")


def is_nnx_optimizer(obj: Any) -> bool:
    nnx = nnx_or_none()
    return nnx is not None and isinstance(obj, nnx.Optimizer)


def is_nnx_module(obj: Any) -> bool:
    nnx = nnx_or_none()
    return nnx is not None and isinstance(obj, nnx.Module)


def holds_variables(tree: Any) -> bool:
    """Whether ``tree`` holds ``nnx.Variable`` boxes (an nnx state, say)."""
    nnx = nnx_or_none()
    if nnx is None:
        return False
    import jax

    is_var = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
    return any(is_var(x) for x in jax.tree_util.tree_leaves(tree, is_leaf=is_var))


def boxes_every_leaf(tree: Any) -> bool:
    """Whether every leaf of ``tree`` is an ``nnx.Variable`` box: an
    ``nnx.Optimizer``'s ``opt_state``, whose boxes can be updated in place.
    An optax state built from an ``nnx.State`` of parameters boxes only the
    buffers shaped like them (its counts are bare arrays in NamedTuples):
    it is a plain tree to replace, not to update."""
    nnx = nnx_or_none()
    if nnx is None:
        return False
    import jax

    is_var = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
    leaves = jax.tree_util.tree_leaves(tree, is_leaf=is_var)
    return bool(leaves) and all(is_var(x) for x in leaves)


def as_pure(tree: Any) -> Any:
    """``tree`` with every ``nnx.Variable`` box replaced by its array."""
    nnx = nnx_or_none()
    if nnx is None or not holds_variables(tree):
        return tree
    return nnx.as_pure(tree)


def opt_state_of(holder: Any) -> Any:
    """The plain optimizer state tree of ``holder``.

    ``holder`` is a state tree, a Flax ``TrainState`` (any pytree object with
    an ``opt_state`` field and an ``apply_gradients`` method), an
    ``nnx.Optimizer`` or an ``nnx.Optimizer``'s ``opt_state``.
    """
    if is_nnx_optimizer(holder):
        return as_pure(holder.opt_state)
    if is_train_state(holder):
        return as_pure(holder.opt_state)
    return as_pure(holder)


def is_train_state(holder: Any) -> bool:
    # Flax's TrainState and its subclasses; duck-typed so that no Flax import
    # is needed and look-alikes (a user's own dataclass) work too.
    return hasattr(holder, "opt_state") and hasattr(holder, "apply_gradients")


def with_opt_state(holder: Any, new_state: Any) -> Any:
    """``holder`` with its optimizer state replaced by ``new_state``.

    An ``nnx.Optimizer`` (or a tree whose every leaf is an ``nnx.Variable``
    box, as its ``opt_state``) is updated in place and returned; a
    ``TrainState`` is returned replaced; any other tree (an optax state built
    from an ``nnx.State`` of parameters included) is ``new_state`` itself.
    """
    nnx = nnx_or_none()
    if is_nnx_optimizer(holder):
        nnx.update(holder.opt_state, nnx.state(new_state))
        return holder
    if is_train_state(holder):
        if boxes_every_leaf(holder.opt_state):
            nnx.update(holder.opt_state, nnx.state(new_state))
            return holder
        return holder.replace(opt_state=new_state)
    if boxes_every_leaf(holder):
        nnx.update(holder, nnx.state(new_state))
        return holder
    if holds_variables(holder):
        # Some leaves boxed (moments shaped like nnx.Param leaves): keep the
        # boxes where they were, so that the tree keeps its structure (a
        # lax.scan carry, say).
        import jax

        is_var = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
        return jax.tree_util.tree_map(
            lambda old, new: old.replace(new) if is_var(old) else new,
            holder,
            new_state,
            is_leaf=is_var,
        )
    return new_state


def params_of(params: Any, holder: Any = None) -> Any:
    """Plain parameter arrays from a tree, an ``nnx.State`` or an ``nnx.Module``.

    For a module, the parameters are those the ``nnx.Optimizer`` ``holder``
    trains (its ``wrt`` filter), else the module's ``nnx.Param`` variables.
    The result keeps the container's structure (an ``nnx.State`` stays one),
    so ``nnx.update(model, result)`` accepts what is computed from it.
    """
    if is_nnx_module(params):
        nnx = nnx_or_none()
        wrt = (
            getattr(holder, "wrt", nnx.Param) if is_nnx_optimizer(holder) else nnx.Param
        )
        return nnx.as_pure(nnx.state(params, wrt))
    return as_pure(params)
