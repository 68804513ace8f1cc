"""optax's base types, re-exported, and the learning-rate protocol.

lrjax does not redefine optax's types: an lrjax optimizer *is* an
``optax.GradientTransformation`` and drops into ``optax.chain``, Flax's
``TrainState`` or ``nnx.Optimizer``.

The learning-rate protocol: every block that applies a learning rate keeps the
rate it applied at its latest ``update`` in a state field named
``learning_rate`` (a float32 scalar). A block that rescales the rate (reduce on
plateau, say) keeps its factor in a field named ``learning_rate_scale``.
:func:`get_learning_rate` finds these fields anywhere in a state tree.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

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

LEARNING_RATE_FIELD = "learning_rate"
LEARNING_RATE_SCALE_FIELD = "learning_rate_scale"

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


def _key_name(key: Any) -> str | None:
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    if isinstance(key, jax.tree_util.DictKey):
        return key.key if isinstance(key.key, str) else None
    return None


def _is_hyperparams_path(path: tuple[Any, ...]) -> bool:
    # optax.inject_hyperparams keeps its values in a dict field `hyperparams`.
    return any(_key_name(k) == "hyperparams" for k in path)


def get_learning_rate(opt_state: OptState) -> jax.Array:
    """The learning rate applied at the most recent ``update``.

    Works on the state of any lrjax optimizer, an ``optax.chain`` containing
    lrjax blocks, an ``optax.inject_hyperparams`` state, or any pytree that
    holds one of these (a Flax ``TrainState.opt_state``, a dict of states).
    Before the first ``update`` it is the schedule's value at step 0.

    Every ``learning_rate`` field found is multiplied together with every
    ``learning_rate_scale`` factor (a plateau controller's, say). A rate held
    by ``inject_hyperparams`` is used only when no inner block records one,
    so wrapping an lrjax optimizer does not count its rate twice.

    Args:
      opt_state: an optimizer state tree.

    Returns:
      A float32 array (a scalar unless the state is batched, e.g. by ``vmap``).

    Raises:
      ValueError: when the state holds no learning rate at all (a bare
        ``optax.scale_by_adam`` state, say).
    """
    leaves, _ = jax.tree_util.tree_flatten_with_path(opt_state)
    rates, injected, scales = [], [], []
    for path, leaf in leaves:
        name = _key_name(path[-1]) if path else None
        if name == LEARNING_RATE_FIELD:
            (injected if _is_hyperparams_path(path) else rates).append(leaf)
        elif name == LEARNING_RATE_SCALE_FIELD:
            scales.append(leaf)
    rates = rates or injected
    if not rates:
        raise ValueError(
            "get_learning_rate: this optimizer state records no learning rate. "
            "lrjax optimizers and lrjax.scale_by_learning_rate record it; for "
            "other optax transformations wrap the optimizer in "
            "optax.inject_hyperparams."
        )
    out = jnp.asarray(rates[0], jnp.float32)
    for r in rates[1:] + scales:
        out = out * jnp.asarray(r, jnp.float32)
    return out
