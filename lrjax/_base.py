"""optax's base types, re-exported, and the learning-rate protocol.

lrjax does not redefine optax's types: an lrjax optimizer *is* an
``optax.GradientTransformation`` and drops into ``optax.chain``, Flax's
``TrainState`` or ``nnx.Optimizer``.

The learning-rate protocol (fields ``learning_rate`` and
``learning_rate_scale``, read by :func:`get_learning_rate`) lives in
:mod:`lrjax._learning_rate` and is re-exported here.
"""

from __future__ import annotations

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
]
