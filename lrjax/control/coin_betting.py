"""Coin betting: COCOB-Backprop (Orabona & Tommasi, 2017), no learning rate at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.control._tree_reductions import tree_sum_sq
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["COCOBState", "cocob", "scale_by_cocob"]


class COCOBState(NamedTuple):
    """State of :func:`scale_by_cocob` (per-parameter buffers in its dtype).

    Attributes:
      init_particles: the initial parameters ``x_0``.
      cumulative_gradients: ``C = -sum g``.
      scale: ``L``, the largest ``|g|`` seen per coordinate (from ``eps``).
      subgradients: ``G = sum |g|``.
      reward: ``R = max(R - g (x - x_0), 0)``, the gambler's winnings.
      learning_rate: float32 ``||x_{t+1} - x_0|| / ||C||``: the single rate
        ``eta`` for which ``x_{t+1} = x_0 - eta * sum g`` has the step's
        length (0 before the first update or while ``C = 0``).
    """

    init_particles: Any
    cumulative_gradients: Any
    scale: Any
    subgradients: Any
    reward: Any
    learning_rate: jax.Array


def scale_by_cocob(
    alpha: float = 100.0, eps: float = 1e-8, *, axis_name: num.AxisName = None
) -> GradientTransformation:
    """COCOB-Backprop's update (Algorithm 2 of Orabona & Tommasi, 2017).

    Per coordinate, with ``L_0 = eps`` and ``C, G, R`` starting at 0::

        L <- max(L, |g|);   G <- G + |g|;   R <- max(R - g (x - x_0), 0)
        C <- C - g
        x_{t+1} = x_0 + C / (L max(G + L, alpha L)) * (L + R)

    The update returned is ``x_{t+1} - x_t`` (already a descent step: no
    learning rate, no sign flip).

    The rate is per coordinate: ``x_{t+1} = x_0 - eta * sum g`` with
    ``eta = (L + R) / (L max(G + L, alpha L))``. As one number to log, the
    ``learning_rate`` field holds ``||x_{t+1} - x_0|| / ||sum g||`` (the
    ``|sum g|``-weighted root mean square of ``eta``): coordinates that never
    saw a gradient, whose ``eta`` is huge but unused, do not count. A plain
    mean of ``eta`` would be dominated by them.

    Args:
      alpha: ``> 0``; bounds the first bets (``alpha L`` in the
        denominator). Default 100.
      eps: initial ``L``, ``> 0``. Default 1e-8.
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``. The step is per coordinate and
        needs no collective; only the logged ``learning_rate`` (a ratio of
        two norms over the tree) does (see :func:`lrjax.global_norm`).
        Default None.

    Returns:
      A ``GradientTransformation`` with :class:`COCOBState`; its ``update``
      needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_cocob(alpha=100.0)
        >>> params = jnp.zeros(2)
        >>> state = block.init(params)
        >>> updates, state = block.update(jnp.array([3.0, -4.0]), state, params)
        >>> updates  # the first bet: -sign(g) / alpha
        Array([-0.01,  0.01], dtype=float32)
    """
    val.check_positive("alpha", alpha)
    val.check_positive("eps", eps)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        return COCOBState(
            init_particles=num.tree_copy(params),
            cumulative_gradients=num.tree_buffers(params),
            scale=num.tree_buffers(params, fill=eps),
            subgradients=num.tree_buffers(params),
            reward=num.tree_buffers(params),
            learning_rate=jnp.zeros([], jnp.float32),
        )

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_cocob", updates, params)
        val.check_tree_structure("scale_by_cocob", updates, state.init_particles)

        def leaf(g, p, p0, c, lsc, gsum, r):
            g_, p_, p0_, c_, l_, s_, r_ = num.upcast(g, p, p0, c, lsc, gsum, r)
            mag = jnp.abs(g_)
            l_ = jnp.maximum(num.real_part(l_), mag)
            s_ = num.real_part(s_) + mag
            bet = num.real_part(jnp.conj(g_) * (p_ - p0_))
            r_ = jnp.maximum(num.real_part(r_) - bet, 0.0)
            c_ = c_ - g_
            disp = c_ / (l_ * jnp.maximum(s_ + l_, alpha * l_)) * (l_ + r_)
            update = (p0_ + disp) - p_
            return (
                num.cast(update, num.update_dtype(jnp.asarray(g), c.dtype)),
                c_.astype(c.dtype),
                l_.astype(lsc.dtype),
                s_.astype(gsum.dtype),
                r_.astype(r.dtype),
                disp,
            )

        out = jax.tree_util.tree_map(
            leaf,
            updates,
            params,
            state.init_particles,
            state.cumulative_gradients,
            state.scale,
            state.subgradients,
            state.reward,
        )
        new_updates, cum, scale, subgrads, reward, disp = num.tree_unzip(
            updates, out, 6
        )
        cum_sq = tree_sum_sq(cum, axis_name)
        ratio = jnp.sqrt(
            tree_sum_sq(disp, axis_name) / jnp.where(cum_sq > 0, cum_sq, 1.0)
        )
        ratio = jnp.where(cum_sq > 0, ratio, 0.0).astype(jnp.float32)
        return new_updates, COCOBState(
            init_particles=state.init_particles,
            cumulative_gradients=cum,
            scale=scale,
            subgradients=subgrads,
            reward=reward,
            learning_rate=ratio,
        )

    return GradientTransformation(init_fn, update_fn)


@elementwise_constructor(
    "the learning_rate it records is a ratio of whole-tree norms; packing changes their summation order"
)
def cocob(
    learning_rate: ScalarOrSchedule = 1.0,
    alpha: float = 100.0,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    mask: Any | Callable[[Any], Any] | None = None,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """COCOB-Backprop (Orabona & Tommasi, 2017): SGD by betting, no rate to tune.

    ``chain(add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate, flip_sign=False),
    scale_by_cocob(alpha, eps))``: the gradient (plus weight decay) is scaled
    by ``learning_rate`` and fed to :func:`scale_by_cocob`. COCOB's step is
    nearly invariant to that scale; ``learning_rate`` is kept for optax
    compatibility (to inject a schedule).

    :func:`lrjax.get_learning_rate` multiplies ``learning_rate`` with the
    rate :func:`scale_by_cocob` records, ``||x_{t+1} - x_0|| / ||sum g||``,
    the length-matching rate of the dual-averaging form
    ``x_{t+1} = x_0 - eta * sum g`` (COCOB has one rate per coordinate; see
    :func:`scale_by_cocob`). Exact for a constant ``learning_rate``.

    Same arguments and defaults as ``optax.contrib.cocob``; PyTorch (the
    authors' code): ``COCOBBackprop(params, alpha)``.

    Args:
      learning_rate: multiplier of the gradients, ``>= 0`` or a schedule.
        Default 1.0.
      alpha: see :func:`scale_by_cocob`, ``> 0``. Default 100.
      eps: initial ``L``, ``> 0``. Default 1e-8.
      weight_decay: L2 penalty added to the gradient, ``>= 0``. Default 0.
      mask: which parameters decay. Default ``None`` (all).
      axis_name: lrjax addition (keyword-only): see :func:`scale_by_cocob`.

    Returns:
      A ``GradientTransformation``.

    References:
      Orabona & Tommasi, "Training Deep Networks without Learning Rates
      Through Coin Betting", NeurIPS 2017 (arXiv:1705.07795).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.cocob()
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # Before the first update: 0.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        0
        >>> for _ in range(10):  # the quadratic |w|**2 / 2: the gradient is w
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> # After 10 updates: ||x - x_0|| / ||sum g||.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        0.0094
    """
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_non_negative("weight_decay", weight_decay)
    return chain(
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate, flip_sign=False),
        scale_by_cocob(alpha, eps, axis_name=axis_name),
    )
