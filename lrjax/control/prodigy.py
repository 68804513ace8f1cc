"""Prodigy (Mishchenko & Defazio, 2024): D-Adaptation with a faster-growing ``d``.

AdamW at the rate ``d * learning_rate``, ``d`` a lower bound of the distance
from the initial point to a solution that grows from inner products of the
gradients with the path walked so far; Prodigy weights each term by ``d``
itself, so the estimate grows faster than D-Adaptation's
(:mod:`lrjax.control.dadaptation`, with which it shares
:mod:`lrjax.control._distance_estimate`). ``d * learning_rate`` is the rate
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

__all__ = ["ProdigyState", "prodigy"]


class ProdigyState(NamedTuple):
    """State of :func:`prodigy`.

    Attributes:
      count: int32 number of updates made (saturating).
      exp_avg: EMA of ``d * g`` (parameter dtype).
      exp_avg_sq: EMA of ``|d * g|**2`` (parameter dtype).
      grad_sum: the weighted sum ``s`` of ``d * g`` (parameter dtype).
      params0: the initial parameters ``x_0``.
      estim_lr: float32 distance estimate ``d`` for the next update.
      numerator_weighted: float32 weighted sum of ``<g, x_0 - x>``.
      learning_rate: float32 ``d * lr(t)`` applied at the latest update
        (before any: ``estim_lr0 * lr(0)``).
    """

    count: jax.Array
    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    params0: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    learning_rate: jax.Array


@elementwise_constructor(
    "its step size d is estimated from sums over the whole tree; packing changes their summation order"
)
def prodigy(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    beta3: float | None = None,
    eps: float = 1e-8,
    estim_lr0: float = 1e-6,
    estim_lr_coef: float = 1.0,
    weight_decay: float = 0.0,
    safeguard_warmup: bool = False,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformationExtraArgs:
    """Prodigy (Mishchenko & Defazio, 2024): AdamW at the rate ``d * lr``.

    With ``t`` the update number (from 1), ``lr_t`` the schedule's value at
    ``t - 1``, ``x_0`` the initial parameters and ``d_0 = estim_lr0``::

        dlr  = d * lr_t * sqrt(1 - beta2**t) / (1 - beta1**t)
        m    = beta1 m + (1 - beta1) d g
        v    = beta2 v + (1 - beta2) d**2 |g|**2
        s    = beta3 s + (d / d_0) * dlr * g       (d instead of dlr when
                                                    safeguard_warmup)
        r    = beta3 r + (d / d_0) * dlr * <g, x_0 - x>
        d    <- max(d, estim_lr_coef * r / ||s||_1)
        x    <- x - dlr * (m / (sqrt(v) + d eps) + weight_decay x)

    :func:`lrjax.get_learning_rate` returns ``d * lr_t`` with the ``d`` of
    that update: the rate AdamW would need to take the same steps (Adam's
    bias corrections, folded into ``dlr`` above, are not part of AdamW's rate
    either). Until the first update it is ``estim_lr0 * lr_0``.

    Same arguments and defaults as ``optax.contrib.prodigy``; the PyTorch
    counterpart is ``prodigyopt.Prodigy(lr, betas, beta3, eps, weight_decay,
    d0=estim_lr0, d_coef=estim_lr_coef, safeguard_warmup, decouple=True,
    use_bias_correction=True)`` (not compared numerically here). Differences
    from optax: ``d`` and the other scalars are float32 whatever the parameter
    dtype (optax keeps them in the lowest parameter dtype, bf16 included),
    per-element arithmetic runs in float32, and ``d`` stays unchanged while
    ``||s||_1 = 0`` (all gradients zero so far) instead of becoming NaN.
    Adam's corrections use the exact ``expm1`` form (optax's float32
    ``1 - beta2**t`` is 1.3e-5 off, and ``d`` carries that on). Complex
    parameters: ``v`` holds ``|d g|**2`` and ``r`` the real part of the
    inner product (optax.contrib squares ``g`` instead).

    Args:
      learning_rate: multiplier of ``d``, a number ``>= 0`` or a schedule
        (1.0 as the peak, e.g. a warmup then linear decay). Default 1.0.
      betas: ``(beta1, beta2)``, each in ``[0, 1)``. Default (0.9, 0.999).
      beta3: decay of ``s`` and ``r``, in ``[0, 1)``; ``None`` means
        ``sqrt(beta2)``. Default ``None``.
      eps: added to ``sqrt(v)`` (times ``d``), ``>= 0``. Default 1e-8.
      estim_lr0: initial estimate ``d_0``, ``> 0``. Default 1e-6.
      estim_lr_coef: multiplier of the estimate, ``> 0``. Default 1.
      weight_decay: decoupled weight decay, ``>= 0``. Default 0.
      safeguard_warmup: leave ``lr_t`` out of ``s`` (helps during a warmup).
        Default False.
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``; the inner product and
        ``||s||_1`` are then over the whole tree, so every device keeps the
        same ``d`` (see :func:`lrjax.global_norm`). Default None.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`ProdigyState`; its
      ``update`` needs ``params``.

    References:
      Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive
      Parameter-Free Learner", ICML 2024 (arXiv:2306.06101).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.prodigy()
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
        1.11e-05
    """
    check_common(learning_rate, eps, estim_lr0, weight_decay)
    beta1, beta2 = check_betas(betas)
    if beta3 is None:
        beta3 = beta2**0.5
    val.check_in_range("beta3", beta3, 0.0, 1.0, high_inclusive=False)
    val.check_positive("estim_lr_coef", estim_lr_coef)
    val.check_type("safeguard_warmup", safeguard_warmup, bool)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        count = num.zero_count()
        d0 = jnp.asarray(estim_lr0, jnp.float32)
        return ProdigyState(
            count=count,
            exp_avg=num.tree_buffers(params),
            exp_avg_sq=num.tree_buffers(params),
            grad_sum=num.tree_buffers(params),
            params0=num.tree_copy(params),
            estim_lr=d0,
            numerator_weighted=jnp.zeros([], jnp.float32),
            learning_rate=d0 * num.rate_at(learning_rate, count, jnp.float32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        val.check_params("prodigy", updates, params)
        val.check_tree_structure("prodigy", updates, state.exp_avg)
        count = num.safe_increment(state.count)
        lr = num.rate_at(learning_rate, state.count, jnp.float32)
        d = state.estim_lr
        dlr = d * lr * adam_bias_factor(beta1, beta2, count)
        s_coef = (d if safeguard_warmup else dlr) / estim_lr0

        def moments(g, m, v, s):
            gc, mc, vc, sc = num.upcast(g, m, v, s)
            dg = d * gc
            mc = beta1 * mc + (1 - beta1) * dg
            vc = beta2 * vc + (1 - beta2) * num.abs_sq(dg)
            sc = beta3 * sc + s_coef * dg
            # Stored rounded; the step below uses the unrounded values
            # (float16's |d g|**2 underflows).
            return mc, vc, sc

        (m_c, v_c, s_c), (exp_avg, exp_avg_sq, grad_sum) = update_moments(
            moments, updates, state
        )
        walked = jax.tree_util.tree_map(
            lambda p0, p: jnp.subtract(*num.upcast(p0, p)), state.params0, params
        )
        numerator = beta3 * state.numerator_weighted + (
            d / estim_lr0
        ) * dlr * tree_real_dot(updates, walked, axis_name)
        denominator = tree_abs_sum(s_c, axis_name)
        estimate = estim_lr_coef * numerator / denominator
        new_d = grow_estimate(d, estimate, denominator)
        new_updates = adamw_updates(
            updates,
            params,
            m_c,
            v_c,
            state.exp_avg,
            decay_rate=weight_decay * dlr,
            eps=new_d * eps,
            m_scale=dlr,
        )
        return new_updates, ProdigyState(
            count=count,
            exp_avg=exp_avg,
            exp_avg_sq=exp_avg_sq,
            grad_sum=grad_sum,
            params0=state.params0,
            estim_lr=new_d.astype(jnp.float32),
            numerator_weighted=numerator.astype(jnp.float32),
            learning_rate=(d * lr).astype(jnp.float32),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
