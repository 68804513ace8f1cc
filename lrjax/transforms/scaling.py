"""Blocks that multiply updates by a scalar: constants, learning rates, schedules."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation, ScalarOrSchedule

__all__ = [
    "ScaleByLearningRateState",
    "ScaleByScheduleState",
    "scale",
    "scale_by_learning_rate",
    "scale_by_schedule",
    "identity",
    "set_to_zero",
]


def _scale_tree(updates: Any, factor: jax.Array) -> Any:
    # Multiply in at least float32 (a float16 rate of 1e-8 would flush to
    # zero) and return in the update's dtype: a float32 (or float64 NumPy)
    # factor must not promote a bf16 update tree.
    def one(u):
        u = jnp.asarray(u)
        dtype = num.compute_dtype(u.dtype)
        scaled = (u.astype(dtype) * factor.astype(dtype)).astype(u.dtype)
        return num.keep_weak(scaled, u)

    return jax.tree_util.tree_map(one, updates)


def scale(step_size: ArrayLike) -> GradientTransformation:
    """Multiplies every update by a constant: ``u <- step_size * u``.

    Args:
      step_size: the factor (any real number; negative flips the direction).

    Returns:
      A stateless ``GradientTransformation``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale(-0.5)
        >>> g = {"w": jnp.array([1.0, -2.0])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates["w"]
        Array([-0.5,  1. ], dtype=float32)
    """
    val.check_number("step_size", step_size)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return _scale_tree(updates, jnp.asarray(step_size)), state

    return GradientTransformation(init_fn, update_fn)


class ScaleByLearningRateState(NamedTuple):
    """State of :func:`scale_by_learning_rate`.

    Attributes:
      count: int32 number of updates made (saturates at ``2**31 - 1``).
      learning_rate: rate applied at the latest update (before any update:
        the schedule's value at step 0); float32, or float64 under
        ``jax_enable_x64`` so that float64 training is not rounded to it.
    """

    count: jax.Array
    learning_rate: jax.Array


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule | None = None, *, flip_sign: bool = True
) -> GradientTransformation:
    """Scales updates by ``-learning_rate`` (or ``+`` with ``flip_sign=False``).

    ``u <- -lr(t) * u`` where ``t`` counts earlier updates (0 at the first).
    The rate applied is kept in the state's ``learning_rate`` field, so
    :func:`lrjax.get_learning_rate` can read it.

    Differs from optax: ``learning_rate=None`` means a rate of 1.0 (still with
    the sign flip), not "apply the update unscaled and unflipped".

    Args:
      learning_rate: a number ``>= 0``, or a schedule ``step -> rate``.
      flip_sign: negate the rate, so that ``apply_updates`` descends.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByLearningRateState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_learning_rate(lambda step: 0.1 / (1 + step))
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> print(lrjax.get_learning_rate(state))  # before any update: rate(0)
        0.1
        >>> for _ in range(2):
        ...     updates, state = tx.update({"w": jnp.array([1.0, 1.0])}, state)
        >>> updates["w"]  # -rate(1) * g
        Array([-0.05, -0.05], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.05
    """
    val.check_learning_rate("learning_rate", learning_rate, allow_none=True)
    val.check_type("flip_sign", flip_sign, bool)
    sign = -1.0 if flip_sign else 1.0

    def init_fn(params):
        # Every lrjax optimizer ends here, stateless ones (plain sgd) too.
        num.check_optimizable(params, "lrjax init")
        count = num.zero_count()
        return ScaleByLearningRateState(count, num.rate_at(learning_rate, count))

    def update_fn(updates, state, params=None):
        del params
        rate = num.rate_at(learning_rate, state.count)
        updates = _scale_tree(updates, sign * rate)
        count = num.safe_increment(state.count)
        reported = num.runtime_value(rate, state.learning_rate, count)
        return updates, ScaleByLearningRateState(count, reported)

    return GradientTransformation(init_fn, update_fn)


class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_schedule`.

    optax's ``ScaleByScheduleState`` has ``count`` only: lrjax adds
    ``step_size``, so the two states do not restore into each other.

    Attributes:
      count: int32 number of updates made (saturates at ``2**31 - 1``).
      step_size: float32 factor applied at the latest update (before any
        update: ``step_size_fn(0)``).
    """

    count: jax.Array
    step_size: jax.Array


def scale_by_schedule(step_size_fn: Any) -> GradientTransformation:
    """Multiplies updates by ``step_size_fn(t)``, ``t`` counting earlier updates.

    No sign flip: to use it as a learning rate pass a negated schedule, or
    prefer :func:`scale_by_learning_rate`, whose rate ``get_learning_rate``
    reads.

    Differs from optax in its state: :class:`ScaleByScheduleState` keeps the
    factor applied (``step_size``) next to ``count``, where optax's keeps
    ``count`` only. lrjax's optimizers do not use this block: their rate
    entry is a :class:`ScaleByLearningRateState`, where optax's optimizers
    hold an ``EmptyState`` (a constant rate) or optax's
    ``ScaleByScheduleState`` (a schedule).

    Args:
      step_size_fn: a function ``step -> factor``.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByScheduleState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_schedule(lambda step: 2.0**step)
        >>> g = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(g)
        >>> for _ in range(3):
        ...     updates, state = tx.update(g, state)
        >>> updates["w"]  # 2**2 * g at the third update (no sign flip)
        Array([ 4., -8.], dtype=float32)
        >>> state.step_size
        Array(4., dtype=float32)
    """
    if not callable(step_size_fn):
        raise TypeError(
            f"step_size_fn must be a callable step -> factor, got {step_size_fn!r}."
        )

    def factor(count):
        return jnp.asarray(step_size_fn(count), jnp.float32)

    def init_fn(params):
        del params
        count = num.zero_count()
        return ScaleByScheduleState(count, factor(count))

    def update_fn(updates, state, params=None):
        del params
        step_size = factor(state.count)
        updates = _scale_tree(updates, step_size)
        return updates, ScaleByScheduleState(num.safe_increment(state.count), step_size)

    return GradientTransformation(init_fn, update_fn)


def identity() -> GradientTransformation:
    """Passes updates through unchanged.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.identity()
        >>> g = {"w": jnp.array([1.0, -2.0])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates["w"]
        Array([ 1., -2.], dtype=float32)
    """

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return updates, state

    return GradientTransformation(init_fn, update_fn)


def set_to_zero() -> GradientTransformation:
    """Replaces every update by zeros (freezes parameters under ``apply_updates``).

    Examples:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import lrjax
        >>> # Freeze "b": SGD for "w", zeros for "b".
        >>> tx = optax.partition(
        ...     {"train": lrjax.sgd(0.1), "frozen": lrjax.set_to_zero()},
        ...     {"w": "train", "b": "frozen"},
        ... )
        >>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([3.0])}
        >>> grads = {"w": jnp.array([0.5, 0.5]), "b": jnp.array([7.0])}
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> updates["b"]
        Array([0.], dtype=float32)
        >>> lrjax.get_learning_rate(state)  # the frozen branch records no rate
        {'train': Array(0.1, dtype=float32)}
    """

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return jax.tree_util.tree_map(jnp.zeros_like, updates), state

    return GradientTransformation(init_fn, update_fn)
