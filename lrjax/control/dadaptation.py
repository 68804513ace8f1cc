"""D-Adaptation AdamW (Defazio & Mishchenko, 2023): the rate estimates a distance.

AdamW at the rate ``d * learning_rate``, ``d`` a lower bound of the distance
from the initial point to a solution that grows from inner products of the
gradients with the path walked so far. Prodigy (:mod:`lrjax.control.prodigy`)
is its faster-growing successor; both share
:mod:`lrjax.control._distance_estimate`. ``d * learning_rate`` is the rate
:func:`lrjax.get_learning_rate` reads: the rate an AdamW run would have to be
given to take the same steps.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    elementwise_constructor,
)
from lrjax.control._distance_estimate import (
    adam_bias_factor,
    adamw_updates,
    check_betas,
    check_common,
    grow_estimate,
    update_moments,
)
from lrjax.control._tree_reductions import tree_abs_sum, tree_real_dot

__all__ = ["DAdaptAdamWState", "dadapt_adamw"]


class DAdaptAdamWState(NamedTuple):
    """State of :func:`dadapt_adamw`.

    Attributes:
      count: int32 number of updates made (saturating).
      exp_avg: EMA of ``dlr * g`` (parameter dtype).
      exp_avg_sq: EMA of ``|g|**2`` (parameter dtype).
      grad_sum: EMA ``s`` of ``dlr * g`` (parameter dtype).
      estim_lr: float32 distance estimate ``d`` for the next update.
      numerator_weighted: float32 EMA of ``dlr * <g, s / (sqrt(v) + eps)>``.
      learning_rate: float32 ``d * lr(t)`` applied at the latest update
        (before any: ``estim_lr0 * lr(0)``).
    """

    count: jax.Array
    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    learning_rate: jax.Array


@elementwise_constructor(
    "its step size d is estimated from sums over the whole tree; packing changes their summation order"
)
def dadapt_adamw(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    estim_lr0: float = 1e-6,
    weight_decay: float = 0.0,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformationExtraArgs:
    """D-Adaptation AdamW (Defazio & Mishchenko, 2023): AdamW at rate ``d * lr``.

    With ``t`` the update number (from 1), ``lr_t`` the schedule's value at
    ``t - 1``, ``b = sqrt(beta2)`` and ``d_0 = estim_lr0``::

        dlr  = d * lr_t * sqrt(1 - beta2**t) / (1 - beta1**t)
        r    = b r + (1 - b) dlr <g, s / (sqrt(v) + eps)>     (old s, v)
        m    = beta1 m + (1 - beta1) dlr g
        v    = beta2 v + (1 - beta2) |g|**2
        s    = b s + (1 - b) dlr g
        d    <- max(d, r / ((1 - b) ||s||_1))
        x    <- x - m / (sqrt(v) + eps) - weight_decay dlr x

    :func:`lrjax.get_learning_rate` returns ``d * lr_t`` with the ``d`` of
    that update (the AdamW rate, without Adam's bias corrections); until the
    first update ``estim_lr0 * lr_0``.

    Same arguments and defaults as ``optax.contrib.dadapt_adamw`` (whose
    formulation this follows); the PyTorch counterpart is
    ``dadaptation.DAdaptAdam(lr, betas, eps, weight_decay, d0=estim_lr0,
    decouple=True, use_bias_correction=True)``, whose later versions differ in
    details (not compared numerically here). As in :func:`prodigy`, the scalars are float32, the
    arithmetic runs in float32 and ``d`` stays put while ``||s||_1 = 0``.

    Args:
      learning_rate: multiplier of ``d``, a number ``>= 0`` or a schedule.
        Default 1.0.
      betas: ``(beta1, beta2)``, each in ``[0, 1)``. Default (0.9, 0.999).
      eps: added to ``sqrt(v)``, ``>= 0``. Default 1e-8.
      estim_lr0: initial estimate ``d_0``, ``> 0``. Default 1e-6.
      weight_decay: decoupled weight decay, ``>= 0``. Default 0.
      axis_name: lrjax addition (keyword-only): as in :func:`prodigy`.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`DAdaptAdamWState`;
      its ``update`` needs ``params``.

    References:
      Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation",
      ICML 2023 (arXiv:2301.07733).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.dadapt_adamw()
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # Before the first update: estim_lr0 * lr.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        1e-06
        >>> for _ in range(10):  # the quadratic |w|**2 / 2: the gradient is w
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> # After 10 updates: d has grown.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        0.000269
    """
    check_common(learning_rate, eps, estim_lr0, weight_decay)
    beta1, beta2 = check_betas(betas)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        count = num.zero_count()
        d0 = jnp.asarray(estim_lr0, jnp.float32)
        return DAdaptAdamWState(
            count=count,
            exp_avg=num.tree_buffers(params),
            exp_avg_sq=num.tree_buffers(params),
            grad_sum=num.tree_buffers(params),
            estim_lr=d0,
            numerator_weighted=jnp.zeros([], jnp.float32),
            learning_rate=d0 * num.rate_at(learning_rate, count, jnp.float32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        val.check_params("dadapt_adamw", updates, params)
        val.check_tree_structure("dadapt_adamw", updates, state.exp_avg)
        count = num.safe_increment(state.count)
        lr = num.rate_at(learning_rate, state.count, jnp.float32)
        d = state.estim_lr
        dlr = d * lr * adam_bias_factor(beta1, beta2, count)
        b = beta2**0.5

        def weighted(s, v):
            sc, vc = num.upcast(s, v)
            return sc / (jnp.sqrt(num.real_part(vc)) + eps)

        s_weighted = jax.tree_util.tree_map(weighted, state.grad_sum, state.exp_avg_sq)

        def moments(g, m, v, s):
            gc, mc, vc, sc = num.upcast(g, m, v, s)
            mc = beta1 * mc + (1 - beta1) * dlr * gc
            vc = beta2 * vc + (1 - beta2) * num.abs_sq(gc)
            sc = b * sc + (1 - b) * dlr * gc
            # Stored rounded; the step below uses the unrounded values.
            return mc, vc, sc

        (m_c, v_c, s_c), (exp_avg, exp_avg_sq, grad_sum) = update_moments(
            moments, updates, state
        )
        numerator = b * state.numerator_weighted + (1 - b) * dlr * tree_real_dot(
            updates, s_weighted, axis_name
        )
        l1 = tree_abs_sum(s_c, axis_name)
        new_d = grow_estimate(d, numerator / ((1 - b) * l1), l1)
        new_updates = adamw_updates(
            updates,
            params,
            m_c,
            v_c,
            state.exp_avg,
            decay_rate=weight_decay * dlr,
            eps=eps,
        )
        return new_updates, DAdaptAdamWState(
            count=count,
            exp_avg=exp_avg,
            exp_avg_sq=exp_avg_sq,
            grad_sum=grad_sum,
            estim_lr=new_d.astype(jnp.float32),
            numerator_weighted=numerator.astype(jnp.float32),
            learning_rate=(d * lr).astype(jnp.float32),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
