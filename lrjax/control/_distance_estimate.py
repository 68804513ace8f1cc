"""The core Prodigy and D-Adaptation share: AdamW at a rate ``d * lr``.

Both methods keep a lower bound ``d`` of the distance from the initial point
to a solution, grow it from inner products of the gradients with the path
walked so far, and step with AdamW at rate ``d * lr``. They differ in what
the moments accumulate and in the estimate; what they share is here: the
argument checks, Adam's bias corrections folded into one scalar, the moment
update run in the compute dtype and stored rounded, the monotone growth of
``d``, and the decoupled AdamW step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val

__all__ = [
    "adam_bias_factor",
    "adamw_updates",
    "check_betas",
    "check_common",
    "grow_estimate",
    "update_moments",
]


def check_betas(betas: Any) -> tuple[Any, Any]:
    """``(beta1, beta2)`` from ``betas``, each checked to be in ``[0, 1)``."""
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError) as e:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}.") from e
    val.check_in_range("betas[0]", beta1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("betas[1]", beta2, 0.0, 1.0, high_inclusive=False)
    return beta1, beta2


def check_common(
    learning_rate: Any, eps: Any, estim_lr0: Any, weight_decay: Any
) -> None:
    """The arguments both methods take, checked under their names."""
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_non_negative("eps", eps)
    val.check_positive("estim_lr0", estim_lr0)
    val.check_non_negative("weight_decay", weight_decay)


def adam_bias_factor(beta1: Any, beta2: Any, count: jax.Array) -> jax.Array:
    """``sqrt(1 - beta2**t) / (1 - beta1**t)``: Adam's corrections as one scalar.

    In the exact ``expm1`` form (:func:`lrjax._numerics.bias_correction`):
    float32's ``1 - beta2**t`` is 1.3e-5 off, which the multiplicative ``d``
    carries on (4e-5 by step 20, where optax.contrib's form lands).
    """
    return num.bias_correction(beta1, count) / jnp.sqrt(
        num.bias_correction(beta2, count)
    )


def update_moments(
    moments: Callable[..., tuple[Any, Any, Any]], updates: Any, state: Any
) -> tuple[tuple[Any, Any, Any], tuple[Any, Any, Any]]:
    """Runs ``moments(g, m, v, s)`` on every leaf of the state's three moments.

    ``moments`` returns the new ``(m, v, s)`` of one leaf in the compute dtype
    (float32 or wider). Returns those trees unrounded, for this update's step
    (float16's ``|d g|**2`` underflows), and rounded to the state's dtypes,
    for the new state: ``((m, v, s), (exp_avg, exp_avg_sq, grad_sum))``.
    """
    out = jax.tree_util.tree_map(
        moments, updates, state.exp_avg, state.exp_avg_sq, state.grad_sum
    )
    m_c, v_c, s_c = num.tree_unzip(updates, out, 3)
    stored = (
        num.tree_cast_like(m_c, state.exp_avg),
        num.tree_cast_like(v_c, state.exp_avg_sq),
        num.tree_cast_like(s_c, state.grad_sum),
    )
    return (m_c, v_c, s_c), stored


def grow_estimate(
    d: jax.Array, estimate: jax.Array, denominator: jax.Array
) -> jax.Array:
    """``max(d, estimate)``; ``d`` unchanged while ``denominator`` is 0.

    ``estimate`` is a ratio over ``denominator`` (``||s||_1``), which is 0
    while every gradient so far was 0: ``d`` then stays put instead of
    becoming NaN. ``d`` never shrinks.
    """
    return jnp.where(denominator > 0, jnp.maximum(d, estimate), d)


def adamw_updates(
    updates: Any,
    params: Any,
    m: Any,
    v: Any,
    stored_m: Any,
    *,
    decay_rate: jax.Array,
    eps: Any,
    m_scale: jax.Array | None = None,
) -> Any:
    """The decoupled AdamW step ``-decay_rate * x - m_scale * m / (sqrt(v) + eps)``.

    Per leaf, in the compute dtype, from the unrounded moments ``m`` and
    ``v``; ``decay_rate`` is ``weight_decay`` times the rate. Without
    ``m_scale``, ``m`` already carries the rate. Each update comes back in
    the dtype of the gradient and the stored first moment ``stored_m``
    (:func:`lrjax._numerics.update_dtype`).
    """

    def step(g, p, mc, vc, m_stored):
        pc, mc, vc = num.upcast(p, mc, vc)
        denom = jnp.sqrt(num.real_part(vc)) + eps
        direction = mc / denom if m_scale is None else m_scale * mc / denom
        u = -decay_rate * pc - direction
        return num.cast(u, num.update_dtype(jnp.asarray(g), m_stored.dtype))

    return jax.tree_util.tree_map(step, updates, params, m, v, stored_m)
