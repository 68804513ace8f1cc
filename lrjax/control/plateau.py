"""Reduce the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs, elementwise_constructor

__all__ = [
    "PlateauRule",
    "ReduceOnPlateauState",
    "improved",
    "plateau_decision",
    "reduce_on_plateau",
]


class PlateauRule(NamedTuple):
    """The decision arguments of :func:`reduce_on_plateau`, kept in its state.

    Float32 ``factor``, ``rtol``, ``atol``, ``min_scale``; int32 ``patience``,
    ``cooldown``, ``accumulation_size``; bool ``maximize`` (``mode="max"``).
    """

    factor: jax.Array
    patience: jax.Array
    rtol: jax.Array
    atol: jax.Array
    cooldown: jax.Array
    accumulation_size: jax.Array
    min_scale: jax.Array
    maximize: jax.Array


class ReduceOnPlateauState(NamedTuple):
    """State of :func:`reduce_on_plateau`.

    Attributes:
      best_value: float32 best (averaged) value seen so far (``+inf`` for
        ``mode="min"``, ``-inf`` for ``"max"`` before the first).
      plateau_count: int32 number of decisions since the last improvement.
      cooldown_count: int32 decisions left before counting resumes.
      count: int32 values accumulated towards the next decision.
      avg_value: float32 running mean of the accumulated values.
      learning_rate_scale: float32 factor applied to the updates (starts at
        1); :func:`lrjax.get_learning_rate` multiplies it into the rate.
      hyperparams: the constructor's decision arguments as arrays
        (:class:`PlateauRule`), so that :func:`lrjax.report_metric` can make
        a decision from the state alone.
    """

    best_value: jax.Array
    plateau_count: jax.Array
    cooldown_count: jax.Array
    count: jax.Array
    avg_value: jax.Array
    learning_rate_scale: jax.Array
    hyperparams: PlateauRule


def improved(
    value: jax.Array, best: jax.Array, rtol: Any, atol: Any, mode: Any
) -> jax.Array:
    """Whether ``value`` beats ``best`` by more than the tolerance.

    ``mode="min"``: ``value < best - rtol * |best| - atol``;
    ``mode="max"``: ``value > best + rtol * |best| + atol``. Measuring the
    relative margin against ``|best|`` keeps it a margin for negative values
    too. An infinite ``best`` (nothing seen yet) is beaten by any finite value;
    NaN never improves. ``mode`` may also be a boolean array, true for
    ``"max"``.
    """
    margin = rtol * jnp.abs(best) + atol
    if isinstance(mode, str):
        maximize = mode == "max"
    else:
        maximize = jnp.asarray(mode, bool)
    beats = jnp.where(maximize, value > best + margin, value < best - margin)
    return jnp.where(jnp.isinf(best), jnp.isfinite(value), beats)


def _decide(state: ReduceOnPlateauState) -> ReduceOnPlateauState:
    """One decision on the accumulated mean ``state.avg_value``."""
    h = state.hyperparams
    value = state.avg_value
    better = improved(value, state.best_value, h.rtol, h.atol, h.maximize)
    best = jnp.where(better, value, state.best_value)
    bad = jnp.where(better, 0, num.safe_increment(state.plateau_count))
    cooling = state.cooldown_count > 0
    bad = jnp.where(cooling, 0, bad)
    cooldown_left = jnp.where(cooling, state.cooldown_count - 1, 0)
    reduce = bad > h.patience
    scale = jnp.where(
        reduce,
        jnp.maximum(state.learning_rate_scale * h.factor, h.min_scale),
        state.learning_rate_scale,
    )
    return state._replace(
        best_value=best.astype(jnp.float32),
        plateau_count=jnp.where(reduce, 0, bad).astype(jnp.int32),
        cooldown_count=jnp.where(reduce, h.cooldown, cooldown_left).astype(jnp.int32),
        count=num.zero_count(),
        avg_value=jnp.zeros([], jnp.float32),
        learning_rate_scale=scale.astype(jnp.float32),
    )


def _no_decision(state: ReduceOnPlateauState) -> ReduceOnPlateauState:
    # A module-level function, not a lambda: eager calls (report_metric once
    # per epoch) then reuse the traced and compiled conditional.
    return state


def plateau_decision(
    state: ReduceOnPlateauState, value: ArrayLike
) -> ReduceOnPlateauState:
    """Adds ``value`` to the accumulated mean; decides once it holds enough.

    With ``accumulation_size=1`` (the default) every call is one decision, as
    one ``ReduceLROnPlateau.step(metric)`` in PyTorch.
    """
    value = jnp.asarray(value, jnp.float32)
    count = num.safe_increment(state.count)
    # Running mean of the values accumulated towards this decision.
    avg = state.avg_value + (value - state.avg_value) / count
    state = state._replace(count=count, avg_value=avg)
    full = count >= state.hyperparams.accumulation_size
    return jax.lax.cond(full, _decide, _no_decision, state)


@elementwise_constructor()
def reduce_on_plateau(
    factor: float = 0.1,
    patience: int = 10,
    rtol: float = 1e-4,
    atol: float = 0.0,
    cooldown: int = 0,
    accumulation_size: int = 1,
    min_scale: float = 0.0,
    *,
    mode: str = "min",
) -> GradientTransformationExtraArgs:
    """Scales the updates down by ``factor`` when a monitored value plateaus.

    Chain it after an optimizer and report the monitored quantity (a
    validation loss, an accuracy) once per epoch with
    :func:`lrjax.report_metric`, as PyTorch's ``scheduler.step(metric)``::

        opt = optax.chain(lrjax.adamw(1e-3), lrjax.reduce_on_plateau(patience=5))
        ...  # the epoch's updates: opt.update(grads, state, params)
        state = lrjax.report_metric(state, val_loss)

    ``update`` makes no decision unless it is given ``value=``; then that call
    reports ``value`` first, so with a value at every update, ``patience``
    and ``cooldown`` count updates, not epochs.

    Every ``accumulation_size`` reported values, their mean is one
    *decision*, as one ``ReduceLROnPlateau.step(metric)`` call in PyTorch:

    * the mean improves when it beats the best so far by more than
      ``rtol * |best| + atol`` (see :func:`improved`); then it becomes the best
      and the bad-decision count resets, else the count grows by one;
    * during a cooldown the count stays at 0 (the best is still tracked);
    * when the count *exceeds* ``patience``, the scale becomes
      ``max(scale * factor, min_scale)``, the count resets and a cooldown of
      ``cooldown`` decisions starts.

    The updates are multiplied by the scale after this call's decision;
    :func:`lrjax.get_learning_rate` reports the optimizer's rate times the
    scale.

    PyTorch: ``ReduceLROnPlateau(optimizer, mode, factor, patience,
    threshold=rtol, threshold_mode="rel", cooldown, min_lr=min_scale * lr)``
    (``threshold_mode="abs"`` with ``threshold=atol``, ``rtol=0``) makes the
    same decisions for positive values, with ``accumulation_size=1``. For
    negative values PyTorch's relative test (``value < best * (1 - rtol)``)
    counts a slightly *worse* value as an improvement; lrjax measures against
    ``|best|``. PyTorch also skips reductions smaller than 1e-8 in absolute
    rate; lrjax applies ``min_scale`` only.

    Differs from ``optax.contrib.reduce_on_plateau`` (same arguments, plus
    ``mode``) in two ways: optax's relative test has the same flaw for negative
    values (so a negative loss never triggers a reduction), and optax reduces
    when the count *reaches* ``patience``, one decision earlier than PyTorch.

    Args:
      factor: multiplier of the scale at each reduction, in ``(0, 1)``.
        Default 0.1.
      patience: bad decisions tolerated before a reduction, integer ``>= 0``.
        Default 10.
      rtol: relative improvement margin, in ``[0, 1]``. Default 1e-4.
      atol: absolute improvement margin, ``>= 0``. Default 0.
      cooldown: decisions after a reduction during which bad ones are not
        counted, integer ``>= 0``. Default 0.
      accumulation_size: values averaged into one decision, integer ``>= 1``
        (use more than 1 when passing noisy minibatch losses). Default 1.
      min_scale: lower bound of the scale, in ``[0, 1]``. Default 0.
      mode: ``"min"`` (a loss) or ``"max"`` (an accuracy). lrjax addition.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`ReduceOnPlateauState`;
      its ``update`` takes an optional ``value=``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> plateau = lrjax.reduce_on_plateau(factor=0.5, patience=1)
        >>> opt = lrjax.chain(lrjax.sgd(0.1), plateau)
        >>> state = opt.init(jnp.zeros(2))
        >>> for loss in (1.0, 0.9, 0.9, 0.9):  # the 2nd bad value exceeds patience=1
        ...     state = lrjax.report_metric(state, loss)
        ...     print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.1000
        0.1000
        0.1000
        0.0500
    """
    val.check_in_range(
        "factor", factor, 0.0, 1.0, low_inclusive=False, high_inclusive=False
    )
    val.check_non_negative_int("patience", patience)
    val.check_in_range("rtol", rtol, 0.0, 1.0)
    val.check_non_negative("atol", atol)
    val.check_non_negative_int("cooldown", cooldown)
    val.check_positive_int("accumulation_size", accumulation_size)
    val.check_in_range("min_scale", min_scale, 0.0, 1.0)
    val.check_one_of("mode", mode, ("min", "max"))
    worst = jnp.inf if mode == "min" else -jnp.inf

    def init_fn(params):
        del params
        rule = PlateauRule(
            factor=jnp.asarray(factor, jnp.float32),
            patience=jnp.asarray(patience, jnp.int32),
            rtol=jnp.asarray(rtol, jnp.float32),
            atol=jnp.asarray(atol, jnp.float32),
            cooldown=jnp.asarray(cooldown, jnp.int32),
            accumulation_size=jnp.asarray(accumulation_size, jnp.int32),
            min_scale=jnp.asarray(min_scale, jnp.float32),
            maximize=jnp.asarray(mode == "max"),
        )
        return ReduceOnPlateauState(
            best_value=jnp.asarray(worst, jnp.float32),
            plateau_count=num.zero_count(),
            cooldown_count=num.zero_count(),
            count=num.zero_count(),
            avg_value=jnp.zeros([], jnp.float32),
            learning_rate_scale=jnp.ones([], jnp.float32),
            hyperparams=rule,
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is not None:
            state = plateau_decision(state, value)
        scale = state.learning_rate_scale
        updates = jax.tree_util.tree_map(
            lambda u: jnp.asarray(u) * scale.astype(jnp.asarray(u).dtype), updates
        )
        return updates, state

    return GradientTransformationExtraArgs(init_fn, update_fn)
