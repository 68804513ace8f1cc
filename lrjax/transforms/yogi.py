"""Yogi's moment block (Zaheer et al., 2018): an additively updated second moment."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation
from lrjax.transforms.adam import ScaleByAdamState

__all__ = ["scale_by_yogi"]


def scale_by_yogi(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-3,
    eps_root: float = 0.0,
    initial_accumulator_value: float = 1e-6,
) -> GradientTransformation:
    """Rescales updates by Yogi's additively updated second moment.

    Zaheer et al., 2018, "Adaptive Methods for Nonconvex Optimization". Adam's
    multiplicative EMA of ``g**2`` lets ``v`` fall fast when gradients shrink,
    so the effective rate can explode; Yogi moves ``v`` towards ``g**2`` by at
    most ``(1 - b2) * g**2`` per step. With ``t`` the number of updates
    including this one::

        m <- b1 * m + (1 - b1) * g
        v <- v - (1 - b2) * sign(v - |g|**2) * |g|**2
        u = (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t) + eps_root) + eps)

    Both ``m`` and ``v`` start at ``initial_accumulator_value`` (the paper's
    ``v_0 = 1e-6``; optax starts ``m`` there too, and debiases both as Adam
    does). The defaults are the paper's and optax's: note ``eps = 1e-3``.
    For complex parameters ``m`` is complex and ``v`` tracks ``|g|**2``.

    Args:
      b1: first-moment decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added to the denominator outside the root, ``>= 0``. Default 1e-3.
      eps_root: added inside the root, ``>= 0``. Default 0.
      initial_accumulator_value: start of ``m`` and ``v``, ``> 0``. Default 1e-6.

    Returns:
      A ``GradientTransformation`` with :class:`lrjax.ScaleByAdamState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_yogi(b2=0.9, initial_accumulator_value=1.0)
        >>> state = block.init(jnp.zeros(1))
        >>> updates, state = block.update(jnp.array([2.0]), state)
        >>> state.nu  # 1 - 0.1 * sign(1 - 4) * 4; Adam's EMA would give 1.3
        Array([1.4], dtype=float32)
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_non_negative("eps_root", eps_root)
    val.check_positive("initial_accumulator_value", initial_accumulator_value)

    def init_fn(params):
        fill = initial_accumulator_value
        return ScaleByAdamState(
            num.zero_count(),
            num.tree_buffers(params, fill=fill),
            num.tree_buffers(params, fill=fill, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_yogi", updates, state.mu)
        count = num.safe_increment(state.count)
        mu_corr = num.bias_correction(b1, count)
        nu_corr = num.bias_correction(b2, count)

        def step(g, m, v):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            m_new = b1 * m_new + (1 - b1) * gc
            v_new, g_sq = num.upcast(num.real_part(v), num.abs_sq(gc))
            v_new = v_new - (1 - b2) * jnp.sign(v_new - g_sq) * g_sq
            u = m_new * mu_corr / (jnp.sqrt(v_new * nu_corr + eps_root) + eps)
            out = num.cast(u, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), v_new.astype(v.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdamState(count, mu, nu)

    return GradientTransformation(init_fn, update_fn)
