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

import optax

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


def elementwise_constructor(
    why_not: str | None = None, *, mask_args: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates an optimizer constructor to mark what it returns.

    ``why_not``: as in :func:`mark_elementwise`. ``mask_args``: arguments that
    select leaves by their place in the tree (weight-decay masks); when one is
    given the result is marked not element-wise, since packing moves leaves.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def constructor(*args: Any, **kwargs: Any) -> Any:
            tx = fn(*args, **kwargs)
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
    "elementwise_verdict",
    "inherit_elementwise",
]
