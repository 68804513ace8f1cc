"""Skip the updates whose gradient norm or loss spikes far above its history.

A single bad batch can throw a long run off: its gradient is many times the
usual size and one step moves the parameters where training never recovers
from. :func:`skip_spikes` watches a scalar per update (the global gradient
norm, or the loss passed as ``value=``), keeps its exponentially weighted
mean and variance, and turns an update whose value lies far above them into
no update at all. The idea is the ``SkipStep`` of the levanter training
library; PaLM (Chowdhery et al., 2022, section 5.1) handled loss spikes by
skipping the batches around them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    checks_state,
    inherit_elementwise,
    mark_elementwise,
)
from lrjax.control._tree_reductions import tree_sum_sq

__all__ = ["SkipSpikesState", "skip_spikes"]

_USES = ("grad_norm", "loss")


class SkipSpikesState(NamedTuple):
    """State of :func:`skip_spikes`.

    Attributes:
      count: int32 updates seen, skipped ones included (saturating).
      skip_count: int32 updates skipped.
      consecutive: int32 finite spikes skipped in a row up to the latest
        update (non-finite values leave it unchanged).
      accepted: int32 values that entered the statistics (saturating).
      mean: float32 running mean of the accepted values.
      variance: float32 running variance of the accepted values.
      value: float32 monitored value at the latest update (NaN before any).
      skipped: bool, whether the latest update was skipped.
      inner_state: the wrapped optimizer's state, as it was after the latest
        update that was not skipped.
    """

    count: jax.Array
    skip_count: jax.Array
    consecutive: jax.Array
    accepted: jax.Array
    mean: jax.Array
    variance: jax.Array
    value: jax.Array
    skipped: jax.Array
    inner_state: Any

    def metrics(self) -> dict[str, jax.Array]:
        """What :func:`lrjax.get_metrics` reports of this state."""
        return {
            "skip_count": self.skip_count,
            "skipped": self.skipped,
            "monitored_value": self.value,
            "monitored_mean": self.mean,
            "monitored_std": jnp.sqrt(self.variance),
        }


@checks_state
def skip_spikes(
    inner: GradientTransformation,
    *,
    threshold: float = 6.0,
    warmup: int = 100,
    decay: float = 0.99,
    use: str = "grad_norm",
    max_consecutive: int | None = 10,
    axis_name: num.AxisName = None,
) -> GradientTransformationExtraArgs:
    """Returns zero updates when the monitored value spikes; else ``inner``'s.

    The monitored value ``x`` is the global gradient norm
    ``sqrt(sum |g|**2)`` of the updates received (``use="grad_norm"``, in
    float32, ``|z|`` for complex leaves) or the loss passed to ``update`` as
    ``value=`` (``use="loss"``). With ``mean`` and ``var`` the running
    statistics of the values accepted so far, ``n`` of them, an update is
    skipped when::

        x is not finite,  or  n >= warmup and x > mean + threshold * sqrt(var)

    A skipped update returns zeros (in the dtypes of ``inner``'s updates) and
    leaves ``inner``'s state exactly as it was: its step count does not
    advance, so a schedule is not consumed by skipped steps, and rate
    controllers inside it decide nothing. Only the wrapper's ``count`` and
    ``skip_count`` advance. An accepted ``x`` (the ``n``-th) enters the
    statistics with weight ``a = max(1 - decay, 1 / n)``::

        delta = x - mean
        mean <- mean + a * delta
        var  <- (1 - a) * (var + a * delta**2)

    so the first values give their exact mean and (population) variance and
    later ones an exponentially weighted mean and variance over about
    ``1 / (1 - decay)`` updates. Skipped values never enter them.

    During ``warmup`` no finite value is skipped; a non-finite one is skipped
    at any step (applying it would make the parameters non-finite), and never
    enters the statistics. If the monitored level shifts for good, every
    update could stay above the limit and none would enter the statistics
    again: after ``max_consecutive`` spikes skipped in a row the next finite
    value is accepted whatever it is (``None``: never), so the statistics
    catch up. Non-finite values say nothing about the level: they neither
    count towards ``max_consecutive`` nor break a run of skipped spikes.

    Compose it outside what should not see skipped steps:
    ``skip_spikes(track_signals(adam))`` keeps the recorded signals of the
    last accepted update; ``track_signals(skip_spikes(adam))`` records the
    zero updates too.

    Args:
      inner: the optimizer whose updates are guarded.
      threshold: standard deviations above the mean that make a spike,
        ``> 0``. Default 6.
      warmup: values accepted before any finite value may be skipped, integer
        ``>= 1``. Default 100.
      decay: decay of the running statistics, in ``[0, 1)``. Default 0.99.
      use: ``"grad_norm"`` (default) or ``"loss"``; with ``"loss"`` every
        ``update`` needs ``value=`` (a scalar), which ``inner`` receives too.
      max_consecutive: spikes skipped in a row after which a finite value is
        accepted, integer ``>= 1``, or ``None``. Default 10.
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``; the gradient norm is then over
        the whole tree (see :func:`lrjax.global_norm`), so every device
        makes the same decision. With ``use="loss"`` pass the same loss on
        every device. Default None.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`SkipSpikesState`.
      :func:`lrjax.get_learning_rate` reads the rate of ``inner``'s state
      (the rate of the last accepted update); :func:`lrjax.get_metrics`
      reports ``skip_count``, ``skipped`` and the statistics.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> schedule = lrjax.linear_schedule(1.0, 0.0, transition_steps=10)
        >>> opt = lrjax.skip_spikes(lrjax.sgd(schedule), warmup=3)
        >>> params = jnp.zeros(1)
        >>> state = opt.init(params)
        >>> for g in (1.0, 1.2, 0.8, 50.0, 1.1):  # mean 1, std 0.16, then 50
        ...     updates, state = opt.update(jnp.array([g]), state, params)
        ...     lr = float(lrjax.get_learning_rate(state))
        ...     print(f"{float(updates[0]):+.2f} lr={lr:.1f} skipped={bool(state.skipped)}")
        -1.00 lr=1.0 skipped=False
        -1.08 lr=0.9 skipped=False
        -0.64 lr=0.8 skipped=False
        +0.00 lr=0.8 skipped=True
        -0.77 lr=0.7 skipped=False
        >>> int(state.count), int(state.skip_count)  # the schedule saw 4 steps
        (5, 1)
    """
    if not callable(getattr(inner, "update", None)):
        raise TypeError(
            f"inner must be a GradientTransformation, got {type(inner).__name__}."
        )
    val.check_positive("threshold", threshold)
    val.check_positive_int("warmup", warmup)
    val.check_in_range("decay", decay, 0.0, 1.0, high_inclusive=False)
    val.check_one_of("use", use, _USES)
    if max_consecutive is not None:
        val.check_positive_int("max_consecutive", max_consecutive)
    val.check_axis_name("axis_name", axis_name)
    original, inner = inner, optax.with_extra_args_support(inner)

    def monitored(updates: Any, extra_args: dict[str, Any]) -> jax.Array:
        if use == "grad_norm":
            return jnp.sqrt(tree_sum_sq(updates, axis_name))
        value = extra_args.get("value")
        if value is None:
            raise ValueError(
                "skip_spikes(use='loss'): update needs the loss as value=, "
                "e.g. opt.update(grads, state, params, value=loss)."
            )
        if jnp.shape(value) != ():
            raise ValueError(
                "skip_spikes(use='loss'): value must be a scalar loss, got shape "
                f"{jnp.shape(value)}."
            )
        return jnp.asarray(value, jnp.float32)

    def init_fn(params):
        zero = jnp.zeros([], jnp.float32)
        return SkipSpikesState(
            count=num.zero_count(),
            skip_count=num.zero_count(),
            consecutive=num.zero_count(),
            accepted=num.zero_count(),
            mean=zero,
            variance=zero,
            value=jnp.full([], jnp.nan, jnp.float32),
            skipped=jnp.zeros([], bool),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        x = monitored(updates, extra_args)
        finite = jnp.isfinite(x)
        limit = state.mean + threshold * jnp.sqrt(state.variance)
        spike = finite & (state.accepted >= warmup) & (x > limit)
        if max_consecutive is not None:
            spike &= state.consecutive < max_consecutive
        skip = ~finite | spike

        new_updates, inner_state = inner.update(
            updates, state.inner_state, params, **extra_args
        )
        new_updates = jax.tree_util.tree_map(
            lambda u: jnp.where(skip, jnp.zeros_like(u), u), new_updates
        )
        inner_state = jax.tree_util.tree_map(
            lambda old, new: jnp.where(skip, old, new).astype(jnp.asarray(new).dtype),
            state.inner_state,
            inner_state,
        )

        n = num.safe_increment(state.accepted)
        weight = jnp.maximum(
            jnp.asarray(1.0 - decay, jnp.float32), 1.0 / n.astype(jnp.float32)
        )
        delta = x - state.mean
        mean = state.mean + weight * delta
        variance = (1.0 - weight) * (state.variance + weight * delta * delta)
        keep = lambda old, new: jnp.where(skip, old, new)  # noqa: E731
        return new_updates, SkipSpikesState(
            count=num.safe_increment(state.count),
            skip_count=keep(num.safe_increment(state.skip_count), state.skip_count),
            consecutive=jnp.where(
                spike,
                num.safe_increment(state.consecutive),
                jnp.where(finite, 0, state.consecutive),
            ).astype(jnp.int32),
            accepted=keep(state.accepted, n),
            mean=keep(state.mean, mean).astype(jnp.float32),
            variance=keep(state.variance, variance).astype(jnp.float32),
            value=x,
            skipped=skip,
            inner_state=inner_state,
        )

    tx = GradientTransformationExtraArgs(init_fn, update_fn)
    if use == "grad_norm":
        return mark_elementwise(tx, "it skips on the global gradient norm")
    return inherit_elementwise(tx, original)
