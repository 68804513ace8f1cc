"""Asynchronous SGD, simulated: stale gradients and a staleness-aware rate.

In asynchronous data-parallel training a worker reads the parameters, computes
a gradient and sends it back while the others keep updating, so the server
applies gradients computed ``tau`` updates ago. :func:`stale_gradients`
reproduces this on one device: it keeps the last ``max_delay + 1`` gradients
in a ring buffer and hands its inner optimizer the one computed ``tau`` steps
earlier. :func:`staleness_aware` divides the rate by that delay (Zhang, Gupta,
Lian and Liu, "Staleness-aware Async-SGD for Distributed Deep Learning",
IJCAI 2016), which keeps training stable where a rate tuned for fresh
gradients diverges::

    opt = lrjax.stale_gradients(lrjax.staleness_aware(lrjax.sgd(0.1)), max_delay=8)
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
)

__all__ = [
    "StaleGradientsState",
    "StalenessAwareState",
    "stale_gradients",
    "staleness_aware",
]


class StaleGradientsState(NamedTuple):
    """State of :func:`stale_gradients`.

    Attributes:
      count: int32 number of gradients received (saturating).
      delay: int32 staleness of the gradient applied at the last update
        (0 before any).
      history: per parameter, a ring buffer ``(max_delay + 1, *shape)`` of
        the latest gradients; gradient ``t`` sits in slot ``t % (max_delay + 1)``.
      inner_state: the wrapped optimizer's state.
    """

    count: jax.Array
    delay: jax.Array
    history: Any
    inner_state: Any


@checks_state
def stale_gradients(
    inner: GradientTransformation, max_delay: int, *, key: jax.Array | None = None
) -> GradientTransformationExtraArgs:
    """Applies, at step ``t``, the gradient received at step ``t - tau``.

    ``tau = max_delay`` at every step, or, with a PRNG ``key``, drawn
    uniformly from ``{0, ..., max_delay}`` at each step (``fold_in(key, t)``,
    so the delays are a pure function of the step). Before ``tau`` gradients
    have arrived the oldest one is used: the delay is ``min(tau, t)``, as in
    the first rounds of a real asynchronous run. The inner optimizer's
    ``update`` receives the stale gradient, the current parameters and the
    keyword ``delay=`` (int32) on top of any extra arguments passed in, which
    :func:`staleness_aware` reads.

    Args:
      inner: the optimizer the server runs.
      max_delay: largest staleness, integer ``>= 0`` (0: no staleness).
      key: PRNG key for random delays; ``None`` for a fixed delay.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`StaleGradientsState`.
      The ring buffer costs ``max_delay + 1`` copies of the gradients.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.stale_gradients(lrjax.sgd(1.0), max_delay=2)
        >>> params = jnp.zeros(1)
        >>> state = opt.init(params)
        >>> # Gradient t is t + 1; the one applied is min(2, t) steps old.
        >>> for t in range(4):
        ...     updates, state = opt.update(jnp.array([t + 1.0]), state, params)
        ...     print(int(state.delay), updates)
        0 [-1.]
        1 [-1.]
        2 [-1.]
        2 [-2.]
    """
    if not callable(getattr(inner, "update", None)):
        raise TypeError(
            f"inner must be a GradientTransformation, got {type(inner).__name__}."
        )
    val.check_non_negative_int("max_delay", max_delay)
    slots = int(max_delay) + 1
    original, inner = inner, optax.with_extra_args_support(inner)

    def init_fn(params):
        return StaleGradientsState(
            count=num.zero_count(),
            delay=jnp.zeros([], jnp.int32),
            history=num.tree_buffers(params, history=slots),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        # The ring buffers' trailing dims are the parameters' shapes.
        shapes = jax.tree_util.tree_map(
            lambda b: jax.ShapeDtypeStruct(b.shape[1:], b.dtype), state.history
        )
        val.check_tree_structure("updates", updates, shapes)
        updates = jax.tree_util.tree_map(jnp.asarray, updates)
        count = state.count
        if key is None:
            tau = jnp.asarray(max_delay, jnp.int32)
        else:
            tau = jax.random.randint(
                jax.random.fold_in(key, count), [], 0, slots, jnp.int32
            )
        tau = jnp.minimum(tau, count)
        write = count % slots
        read = (count - tau) % slots

        def push(buffer, g):
            return buffer.at[write].set(g.astype(buffer.dtype))

        history = jax.tree_util.tree_map(push, state.history, updates)
        # A stale gradient has the received one's dtype (and weak type: a
        # Python-scalar leaf stays weakly typed for the blocks downstream).
        stale = jax.tree_util.tree_map(
            lambda buffer, g: num.keep_weak(buffer[read].astype(g.dtype), g),
            history,
            updates,
        )
        new_updates, inner_state = inner.update(
            stale, state.inner_state, params, delay=tau, **extra_args
        )
        return new_updates, StaleGradientsState(
            count=num.safe_increment(count),
            delay=tau,
            history=history,
            inner_state=inner_state,
        )

    return inherit_elementwise(
        GradientTransformationExtraArgs(init_fn, update_fn), original
    )


class StalenessAwareState(NamedTuple):
    """State of :func:`staleness_aware`.

    Attributes:
      learning_rate_scale: float32 ``1 / max(delay, 1)`` applied at the last
        update (1 before any); :func:`lrjax.get_learning_rate` multiplies it
        into the inner optimizer's rate.
      inner_state: the wrapped optimizer's state.
    """

    learning_rate_scale: jax.Array
    inner_state: Any


@checks_state
def staleness_aware(inner: GradientTransformation) -> GradientTransformationExtraArgs:
    """Divides the inner optimizer's step by the staleness of its gradient.

    ``update`` takes ``delay=tau`` (as passed by :func:`stale_gradients`, or
    by a real asynchronous server that counts how many updates a gradient
    missed) and returns ``inner_update / max(tau, 1)``: the rate
    ``lr / tau`` of Zhang et al. (IJCAI 2016), with fresh gradients
    (``tau = 0``) at the full rate. For SGD this is exactly the modulated
    rate; for adaptive optimizers the division applies to the step, after the
    per-parameter scaling.

    Args:
      inner: the optimizer whose steps are scaled.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`StalenessAwareState`;
      its ``update`` requires ``delay=``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.staleness_aware(lrjax.sgd(0.1))
        >>> params = jnp.zeros(2)
        >>> state = opt.init(params)
        >>> updates, state = opt.update(jnp.array([1.0, -2.0]), state, params, delay=4)
        >>> updates  # -0.1 / 4 * g
        Array([-0.025,  0.05 ], dtype=float32)
        >>> print(f"{float(lrjax.get_learning_rate(state)):.4f}")  # lr / max(delay, 1)
        0.0250
    """
    if not callable(getattr(inner, "update", None)):
        raise TypeError(
            f"inner must be a GradientTransformation, got {type(inner).__name__}."
        )
    original, inner = inner, optax.with_extra_args_support(inner)

    def init_fn(params):
        return StalenessAwareState(jnp.ones([], jnp.float32), inner.init(params))

    def update_fn(updates, state, params=None, *, delay, **extra_args):
        new_updates, inner_state = inner.update(
            updates, state.inner_state, params, **extra_args
        )
        scale = 1.0 / jnp.maximum(jnp.asarray(delay, jnp.float32), 1.0)
        new_updates = jax.tree_util.tree_map(
            lambda u: num.cast(u * scale, u.dtype), new_updates
        )
        return new_updates, StalenessAwareState(scale, inner_state)

    return inherit_elementwise(
        GradientTransformationExtraArgs(init_fn, update_fn), original
    )
