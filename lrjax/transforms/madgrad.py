"""Momentumized dual averaging: MADGRAD (Defazio & Jelassi, 2021)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation, ScalarOrSchedule

__all__ = ["ScaleByMadgradState", "scale_by_madgrad"]


class ScaleByMadgradState(NamedTuple):
    """State of :func:`scale_by_madgrad` (optax.contrib's ``MadgradState``
    plus the rate).

    Attributes:
      count: int32 number of updates made (saturating).
      learning_rate: the rate of the latest update (before any update: the
        schedule's value at step 0), read by :func:`lrjax.get_learning_rate`.
      grad_sum_sq: ``v``, the weighted sum of ``|g|**2`` (real values).
      s: the weighted sum of gradients.
      x0: the parameters given to ``init`` (the dual-averaging anchor).
    """

    count: jax.Array
    learning_rate: jax.Array
    grad_sum_sq: Any
    s: Any
    x0: Any


def scale_by_madgrad(
    learning_rate: ScalarOrSchedule,
    momentum: float = 0.9,
    eps: float = 1e-6,
) -> GradientTransformation:
    """MADGRAD's step: dual averaging with a cube-root adaptive scale.

    Defazio & Jelassi, 2021, "Adaptivity without Compromise: A Momentumized,
    Adaptive, Dual Averaged Gradient Method for Stochastic Optimization"
    (JMLR 2022), Algorithm 1. With ``k`` the number of earlier updates and
    ``x_0`` the parameters at ``init``::

        lam = (lr(k) + eps) * sqrt(k + 1)
        s <- s + lam * g
        v <- v + lam * |g|**2
        z = x_0 - s / (cbrt(v) + eps)
        x <- momentum * x + (1 - momentum) * z

    The returned update is that change of ``x`` (already a descent step:
    chain no learning-rate block after it). The rate sits inside the
    cube root's ratio (the step scales like ``lr**(2/3)``), so it cannot be
    a trailing multiplier; the block keeps it in its ``learning_rate``
    field instead. ``eps`` is added to ``lr`` as in optax.contrib (the
    paper adds it only to the denominator). For complex parameters ``v``
    sums ``|g|**2``. Arithmetic runs in at least float32.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      momentum: weight of the current iterate, in ``[0, 1)``. Default 0.9.
      eps: added to the rate and to ``cbrt(v)``, ``>= 0``. Default 1e-6.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByMadgradState`; its
      ``update`` needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_madgrad(learning_rate=0.01, momentum=0.0, eps=0.0)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([8.0, 1.0])}, state, params)
        >>> # lam = 0.01, s = lam * g, v = lam * g**2: z - x = -s / cbrt(v)
        >>> updates["w"]  # -lr**(2/3) * g / cbrt(g**2) = -0.0464 * [2, 1]
        Array([-0.09283179, -0.04641581], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.01
    """
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_in_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)

    def init_fn(params):
        count = num.zero_count()
        return ScaleByMadgradState(
            count,
            num.rate_at(learning_rate, count),
            num.tree_buffers(params, holds_real=True),
            num.tree_buffers(params),
            num.tree_copy(params),
        )

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_madgrad", updates, params)
        val.check_tree_structure("scale_by_madgrad", updates, state.s)
        rate = num.rate_at(learning_rate, state.count)
        lam = (rate + eps) * jnp.sqrt(jnp.asarray(state.count, rate.dtype) + 1)

        def step(g, v, s, x0, x):
            g = jnp.asarray(g)
            gc, s_new, x0c, xc = num.upcast(g, s, x0, x)
            v_new, g_sq = num.upcast(num.real_part(v), num.abs_sq(gc))
            s_new = s_new + lam * gc
            v_new = v_new + lam * g_sq
            z = x0c - s_new / (jnp.cbrt(v_new) + eps)
            u = (1 - momentum) * (z - xc)
            out = num.cast(u, num.update_dtype(g, s.dtype))
            return out, v_new.astype(v.dtype), s_new.astype(s.dtype)

        out = jax.tree_util.tree_map(
            step, updates, state.grad_sum_sq, state.s, state.x0, params
        )
        updates, grad_sum_sq, s = num.tree_unzip(updates, out, 3)
        count = num.safe_increment(state.count)
        return updates, ScaleByMadgradState(count, rate, grad_sum_sq, s, state.x0)

    return GradientTransformation(init_fn, update_fn)
