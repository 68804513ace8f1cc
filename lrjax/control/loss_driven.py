"""A rate driven by the loss itself: grow while it falls, cut when it rises."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs, elementwise_constructor

__all__ = [
    "LossAdaptiveRule",
    "LossAdaptiveScaleState",
    "loss_adaptive_decision",
    "loss_adaptive_scale",
]


class LossAdaptiveRule(NamedTuple):
    """The arguments of :func:`loss_adaptive_scale`, kept (float32) in its state."""

    increase: jax.Array
    decrease: jax.Array
    min_scale: jax.Array
    max_scale: jax.Array
    tolerance: jax.Array


class LossAdaptiveScaleState(NamedTuple):
    """State of :func:`loss_adaptive_scale`.

    Attributes:
      count: int32 number of finite values seen (saturating).
      previous_value: float32 last finite value passed (NaN before the first).
      learning_rate_scale: float32 factor applied to the updates (starts at
        1); :func:`lrjax.get_learning_rate` multiplies it into the rate.
      hyperparams: the constructor's arguments (:class:`LossAdaptiveRule`),
        so that :func:`lrjax.report_metric` decides from the state alone.
    """

    count: jax.Array
    previous_value: jax.Array
    learning_rate_scale: jax.Array
    hyperparams: LossAdaptiveRule


def loss_adaptive_decision(
    state: LossAdaptiveScaleState, value: ArrayLike
) -> LossAdaptiveScaleState:
    """One bold-driver decision on ``value`` (see :func:`loss_adaptive_scale`)."""
    h = state.hyperparams
    value = jnp.asarray(value, jnp.float32)
    prev = state.previous_value
    finite = jnp.isfinite(value)
    seen = state.count > 0
    fell = seen & finite & (value < prev)
    rose = ~finite | (seen & (value > prev + h.tolerance * jnp.abs(prev)))
    factor = jnp.where(fell, h.increase, jnp.where(rose, h.decrease, 1.0))
    scale = jnp.clip(state.learning_rate_scale * factor, h.min_scale, h.max_scale)
    return state._replace(
        count=jnp.where(finite, num.safe_increment(state.count), state.count),
        previous_value=jnp.where(finite, value, prev),
        learning_rate_scale=scale.astype(jnp.float32),
    )


@elementwise_constructor()
def loss_adaptive_scale(
    increase: float = 1.05,
    decrease: float = 0.5,
    min_scale: float = 1e-3,
    max_scale: float = 1e3,
    *,
    tolerance: float = 0.0,
) -> GradientTransformationExtraArgs:
    """The "bold driver" rate (Battiti, 1989): reward progress, punish overshoot.

    Chain it after an optimizer and report the loss with
    :func:`lrjax.report_metric` (once per epoch, say), or pass it to
    ``update`` as ``value=`` (a decision at every update; ``update`` without
    ``value=`` decides nothing). With ``L`` the value reported now and
    ``L_prev`` the previous one::

        L <  L_prev                           -> scale <- scale * increase
        L >  L_prev + tolerance * |L_prev|    -> scale <- scale * decrease
        otherwise                             -> scale unchanged

    then ``scale`` is clipped to ``[min_scale, max_scale]`` and multiplies the
    updates. The first call only records ``L``. A non-finite ``L`` counts as a
    rise (the scale shrinks) and is not recorded, so the next finite loss is
    compared with the last finite one.

    Args:
      increase: factor after a fall, ``>= 1``. Default 1.05.
      decrease: factor after a rise, in ``(0, 1]``. Default 0.5.
      min_scale: lower bound of the scale, ``> 0``. Default 1e-3.
      max_scale: upper bound of the scale, ``>= max(1, min_scale)``.
        Default 1e3.
      tolerance: relative rise tolerated without a cut, ``>= 0``. Default 0.

    Returns:
      A ``GradientTransformationExtraArgs`` with
      :class:`LossAdaptiveScaleState`; its ``update`` takes an optional
      ``value=``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.chain(
        ...     lrjax.sgd(0.1), lrjax.loss_adaptive_scale(increase=2.0, decrease=0.5))
        >>> state = opt.init(jnp.zeros(2))
        >>> for loss in (1.0, 0.8, 0.9):  # recorded, fell (x 2), rose (x 0.5)
        ...     state = lrjax.report_metric(state, loss)
        ...     print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.1000
        0.2000
        0.1000
    """
    val.check_in_range("increase", increase, 1.0)
    val.check_in_range("decrease", decrease, 0.0, 1.0, low_inclusive=False)
    val.check_positive("min_scale", min_scale)
    val.check_positive("max_scale", max_scale)
    if val.is_checkable(min_scale) and val.is_checkable(max_scale):
        if not max_scale >= max(1.0, min_scale):
            raise ValueError(
                "max_scale must be >= max(1, min_scale) so that the starting "
                f"scale 1 is reachable, got max_scale={max_scale!r} and "
                f"min_scale={min_scale!r}."
            )
    val.check_non_negative("tolerance", tolerance)

    def init_fn(params):
        del params
        f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
        return LossAdaptiveScaleState(
            count=num.zero_count(),
            previous_value=jnp.full([], jnp.nan, jnp.float32),
            learning_rate_scale=jnp.ones([], jnp.float32),
            hyperparams=LossAdaptiveRule(
                f32(increase),
                f32(decrease),
                f32(min_scale),
                f32(max_scale),
                f32(tolerance),
            ),
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is not None:
            state = loss_adaptive_decision(state, value)
        scale = state.learning_rate_scale
        updates = jax.tree_util.tree_map(
            lambda u: jnp.asarray(u) * scale.astype(jnp.asarray(u).dtype), updates
        )
        return updates, state

    return GradientTransformationExtraArgs(init_fn, update_fn)
