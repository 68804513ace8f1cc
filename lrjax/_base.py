"""optax's base types, re-exported, and the learning-rate protocol.

lrjax does not redefine optax's types: an lrjax optimizer *is* an
``optax.GradientTransformation`` and drops into ``optax.chain``, Flax's
``TrainState`` or ``nnx.Optimizer``.

The learning-rate protocol (fields ``learning_rate`` and
``learning_rate_scale``, read by :func:`get_learning_rate`) lives in
:mod:`lrjax._learning_rate` and is re-exported here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import optax

from lrjax import _validation as val
from lrjax._learning_rate import (  # noqa: F401 (the field names are re-exported)
    LEARNING_RATE_FIELD,
    LEARNING_RATE_SCALE_FIELD,
    get_learning_rate,
)

GradientTransformation = optax.GradientTransformation
GradientTransformationExtraArgs = optax.GradientTransformationExtraArgs
EmptyState = optax.EmptyState
Params = optax.Params
Updates = optax.Updates
OptState = optax.OptState
Schedule = optax.Schedule
ScalarOrSchedule = optax.ScalarOrSchedule
chain = optax.chain
apply_updates = optax.apply_updates

# Whether an optimizer's update is element-wise per leaf (so that
# `lrjax.packed` may run it on flat buffers of many leaves): an attribute of
# its `update` function, True, or a string that says why not. Set by the
# constructors that know; absent means unknown. A function attribute because
# optax's transformations are NamedTuples, which take no attributes.
PACKING_ATTR = "__lrjax_elementwise__"


def mark_elementwise(tx: GradientTransformation, why_not: str | None = None):
    """Records on ``tx`` whether its update is element-wise per leaf.

    ``why_not=None`` marks it element-wise; a string marks it not, and is the
    reason :func:`lrjax.packed` gives when it refuses ``tx``. Returns ``tx``.
    """
    setattr(tx.update, PACKING_ATTR, True if why_not is None else why_not)
    return tx


# Errors a block raises when handed a state it did not make ('ScaleByAdamState'
# object has no attribute 'trace', chain's length check, ...).
_FOREIGN_STATE_ERRORS = (AttributeError, TypeError, ValueError, IndexError, KeyError)
# States of this many kinds remembered per optimizer (one per model, usually).
_MAX_KNOWN_STATES = 16


def _expected_state(init: Callable[..., Any], params: Any) -> Any:
    """``init``'s state for ``params``, abstractly; None when it cannot say."""
    try:
        return jax.eval_shape(init, params)
    except Exception:  # an init that needs concrete values: no check
        return None


def guard_state(tx: GradientTransformation, name: str) -> GradientTransformation:
    """``tx`` whose ``update`` refuses a state its ``init`` did not make.

    Another optimizer's state otherwise fails deep inside a block
    (``'ScaleByAdamState' object has no attribute 'trace'``) or, worse, is
    used. States are compared by their state classes
    (:func:`lrjax._validation.state_skeleton`), not their per-parameter
    trees. Once this ``tx``'s ``init`` has run, ``update`` compares the
    state's classes with those it made, a Python-level check that runs once
    per trace under ``jit``; a state of other classes is compared with
    ``jax.eval_shape(init, params)`` (the same optimizer may serve several
    models) and refused if it differs. A ``tx`` whose ``init`` never ran (the
    state came from an equal optimizer built elsewhere) checks only when its
    update fails, to replace the failure with a clear ``TypeError``.
    """
    inner_init, inner_update = tx.init, tx.update
    known: set[Any] = set()

    def init_fn(params):
        state = inner_init(params)
        if len(known) < _MAX_KNOWN_STATES:
            known.add(val.state_skeleton(state))
        return state

    def check(state: Any, updates: Any, params: Any) -> None:
        expected = _expected_state(inner_init, updates if params is None else params)
        if expected is not None:
            val.check_state_skeleton(f"{name}.update", state, expected)

    def update_fn(updates, state, params=None, **extra_args):
        if known:
            skeleton = val.state_skeleton(state)
            if skeleton not in known:
                check(state, updates, params)
                if len(known) < _MAX_KNOWN_STATES:
                    known.add(skeleton)
        try:
            return inner_update(updates, state, params, **extra_args)
        except _FOREIGN_STATE_ERRORS as err:
            if not known:
                try:
                    check(state, updates, params)
                except TypeError as foreign:
                    raise foreign from err
            raise

    if isinstance(tx, GradientTransformationExtraArgs):
        guarded = GradientTransformationExtraArgs(init_fn, update_fn)
    else:

        def plain_update_fn(updates, state, params=None):
            return update_fn(updates, state, params)

        guarded = GradientTransformation(init_fn, plain_update_fn)
    verdict = elementwise_verdict(tx)
    if verdict is not None:
        setattr(guarded.update, PACKING_ATTR, verdict)
    return guarded


def checks_state(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates an optimizer constructor: what it returns is :func:`guard_state`-ed.

    :func:`elementwise_constructor` does this too; this is for constructors
    that leave their element-wise verdict to their parts.
    """

    @functools.wraps(fn)
    def constructor(*args: Any, **kwargs: Any) -> Any:
        return guard_state(fn(*args, **kwargs), fn.__name__)

    return constructor


def elementwise_constructor(
    why_not: str | None = None, *, mask_args: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates an optimizer constructor to mark what it returns.

    ``why_not``: as in :func:`mark_elementwise`. ``mask_args``: arguments that
    select leaves by their place in the tree (weight-decay masks); when one is
    given the result is marked not element-wise, since packing moves leaves.
    The result is also :func:`guard_state`-ed.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def constructor(*args: Any, **kwargs: Any) -> Any:
            tx = guard_state(fn(*args, **kwargs), fn.__name__)
            reason = why_not
            if reason is None and mask_args:
                given = signature.bind(*args, **kwargs).arguments
                for name in mask_args:
                    if given.get(name) is not None:
                        reason = (
                            f"its `{name}` selects leaves by their place in the "
                            "tree, which packing changes"
                        )
            return mark_elementwise(tx, reason)

        return constructor

    return decorate


def inherit_elementwise(tx: GradientTransformation, inner: Any) -> Any:
    """Marks a wrapper that is element-wise exactly when ``inner`` is.

    A wrapper that adds only element-wise work of its own (a ring buffer of
    gradients, a scalar factor) passes on ``inner``'s verdict; an unknown
    ``inner`` leaves ``tx`` unknown. Returns ``tx``.
    """
    verdict = elementwise_verdict(inner)
    if verdict is True:
        return mark_elementwise(tx)
    if isinstance(verdict, str):
        return mark_elementwise(tx, f"its inner optimizer: {verdict}")
    return tx


def elementwise_verdict(tx: GradientTransformation) -> bool | str | None:
    """True (element-wise), a reason string (not), or None (unknown)."""
    return getattr(tx.update, PACKING_ATTR, None)


__all__ = [
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "EmptyState",
    "Params",
    "Updates",
    "OptState",
    "Schedule",
    "ScalarOrSchedule",
    "chain",
    "apply_updates",
    "get_learning_rate",
    "mark_elementwise",
    "elementwise_constructor",
    "guard_state",
    "checks_state",
    "elementwise_verdict",
    "inherit_elementwise",
]
