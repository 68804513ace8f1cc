"""D-Adaptation: AdamW whose rate is an estimate of the distance to the solution.

Both methods keep a lower bound ``d`` of the distance from the initial point to
a solution, grow it from inner products of gradients with the path walked so
far, and step with AdamW at rate ``d * learning_rate``. That product is the
rate :func:`lrjax.get_learning_rate` reads: the rate an AdamW run would have
to be given to take the same steps.
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
from lrjax.control._reduce import tree_abs_sum, tree_real_dot

__all__ = ["DAdaptAdamWState", "ProdigyState", "dadapt_adamw", "prodigy"]


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


def _check_betas(betas: Any) -> tuple[Any, Any]:
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError) as e:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}.") from e
    val.check_in_range("betas[0]", beta1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("betas[1]", beta2, 0.0, 1.0, high_inclusive=False)
    return beta1, beta2


def _check_common(learning_rate, eps, estim_lr0, weight_decay) -> None:
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_non_negative("eps", eps)
    val.check_positive("estim_lr0", estim_lr0)
    val.check_non_negative("weight_decay", weight_decay)


def _adam_bias_factor(beta1: Any, beta2: Any, count: jax.Array) -> jax.Array:
    """``sqrt(1 - beta2**t) / (1 - beta1**t)``: Adam's corrections as one scalar.

    In the exact ``expm1`` form (:func:`lrjax._numerics.bias_correction`):
    float32's ``1 - beta2**t`` is 1.3e-5 off, which the multiplicative ``d``
    carries on (4e-5 by step 20, where optax.contrib's form lands).
    """
    return num.bias_correction(beta1, count) / jnp.sqrt(
        num.bias_correction(beta2, count)
    )


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
    """
    _check_common(learning_rate, eps, estim_lr0, weight_decay)
    beta1, beta2 = _check_betas(betas)
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
        dlr = d * lr * _adam_bias_factor(beta1, beta2, count)
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

        out = jax.tree_util.tree_map(
            moments, updates, state.exp_avg, state.exp_avg_sq, state.grad_sum
        )
        m_c, v_c, s_c = num.tree_unzip(updates, out, 3)
        exp_avg = num.tree_cast_like(m_c, state.exp_avg)
        exp_avg_sq = num.tree_cast_like(v_c, state.exp_avg_sq)
        grad_sum = num.tree_cast_like(s_c, state.grad_sum)
        walked = jax.tree_util.tree_map(
            lambda p0, p: jnp.subtract(*num.upcast(p0, p)), state.params0, params
        )
        numerator = beta3 * state.numerator_weighted + (
            d / estim_lr0
        ) * dlr * tree_real_dot(updates, walked, axis_name)
        denominator = tree_abs_sum(s_c, axis_name)
        estimate = estim_lr_coef * numerator / denominator
        new_d = jnp.where(denominator > 0, jnp.maximum(d, estimate), d)

        def step(g, p, m, v, m_stored):
            pc, mc, vc = num.upcast(p, m, v)
            denom = jnp.sqrt(num.real_part(vc)) + new_d * eps
            u = -weight_decay * dlr * pc - dlr * mc / denom
            return num.cast(u, num.update_dtype(jnp.asarray(g), m_stored.dtype))

        new_updates = jax.tree_util.tree_map(
            step, updates, params, m_c, v_c, state.exp_avg
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
    """
    _check_common(learning_rate, eps, estim_lr0, weight_decay)
    beta1, beta2 = _check_betas(betas)
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
        dlr = d * lr * _adam_bias_factor(beta1, beta2, count)
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

        out = jax.tree_util.tree_map(
            moments, updates, state.exp_avg, state.exp_avg_sq, state.grad_sum
        )
        m_c, v_c, s_c = num.tree_unzip(updates, out, 3)
        exp_avg = num.tree_cast_like(m_c, state.exp_avg)
        exp_avg_sq = num.tree_cast_like(v_c, state.exp_avg_sq)
        grad_sum = num.tree_cast_like(s_c, state.grad_sum)
        numerator = b * state.numerator_weighted + (1 - b) * dlr * tree_real_dot(
            updates, s_weighted, axis_name
        )
        l1 = tree_abs_sum(s_c, axis_name)
        new_d = jnp.where(l1 > 0, jnp.maximum(d, numerator / ((1 - b) * l1)), d)

        def step(g, p, m, v, m_stored):
            pc, mc, vc = num.upcast(p, m, v)
            u = -weight_decay * dlr * pc - mc / (jnp.sqrt(num.real_part(vc)) + eps)
            return num.cast(u, num.update_dtype(jnp.asarray(g), m_stored.dtype))

        new_updates = jax.tree_util.tree_map(
            step, updates, params, m_c, v_c, state.exp_avg
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
