"""Adan's moment block (Xie et al., 2022): Nesterov momentum from gradient steps."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["ScaleByAdanState", "scale_by_adan"]


class ScaleByAdanState(NamedTuple):
    """State of :func:`scale_by_adan` (optax's fields, ``t`` named ``count``).

    Attributes:
      m: EMA of gradients (decay ``b1``).
      v: EMA of gradient differences ``g_t - g_{t-1}`` (decay ``b2``).
      n: EMA of ``|g_t + b2' * (g_t - g_{t-1})|**2`` (decay ``b3``), real values.
      g: the previous gradient.
      count: int32 number of updates made (saturating); also readable as ``t``.
    """

    m: Any
    v: Any
    n: Any
    g: Any
    count: jax.Array

    @property
    def t(self) -> jax.Array:
        """optax's name for :attr:`count`."""
        return self.count


def scale_by_adan(
    b1: float = 0.98,
    b2: float = 0.92,
    b3: float = 0.99,
    eps: float = 1e-8,
    eps_root: float = 0.0,
) -> GradientTransformation:
    """Rescales updates by Adan's Nesterov moment estimate.

    Xie et al., 2022, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
    Optimizing Deep Models", Algorithm 1, in optax's convention where each
    ``b`` weighs the *old* average (the paper's ``beta_k`` is ``1 - b_k``).
    With ``d = g_t - g_{t-1}`` (``d = 0`` at the first step) and ``t`` the
    number of updates including this one::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * d
        n <- b3 * n + (1 - b3) * |g + (1 - b2) * d|**2
        u = (m_hat + (1 - b2) * v_hat) / (sqrt(n_hat + eps_root) + eps)

    where ``x_hat = x / (1 - b_x**t)`` debiases each average. This is optax's
    form, which differs from the paper in two ways: the paper starts ``m`` and
    ``n`` at the first gradient (no debiasing), and it weighs the difference
    by ``1 - beta_2`` with its ``beta_2 = 1 - b2``, i.e. by ``b2`` (0.92 at
    the defaults) where optax, and lrjax for parity, use ``1 - b2`` (0.08).

    Args:
      b1: decay of the gradient average, in ``[0, 1)``. Default 0.98.
      b2: decay of the gradient-difference average, in ``[0, 1)``. Default 0.92.
      b3: decay of the squared-term average, in ``[0, 1)``. Default 0.99.
      eps: added to the denominator outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByAdanState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_adan()
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> [round(float(u), 4) for u in updates]  # d = 0 at step 1: g / |g|
        [1.0, -1.0]
        >>> state.g  # kept for the next step's difference
        Array([ 0.5, -2. ], dtype=float32)
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b3", b3, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_non_negative("eps_root", eps_root)

    def init_fn(params):
        return ScaleByAdanState(
            num.tree_buffers(params),
            num.tree_buffers(params),
            num.tree_buffers(params, holds_real=True),
            num.tree_buffers(params),
            num.zero_count(),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_adan", updates, state.m)
        count = num.safe_increment(state.count)
        first = state.count == 0
        m_corr = num.bias_correction(b1, count)
        v_corr = num.bias_correction(b2, count)
        n_corr = num.bias_correction(b3, count)

        def step(g, m, v, n, g_prev):
            g = jnp.asarray(g)
            gc, m_new, v_new, g_old = num.upcast(g, m, v, g_prev)
            d = jnp.where(first, jnp.zeros_like(gc), gc - g_old)
            m_new = b1 * m_new + (1 - b1) * gc
            v_new = b2 * v_new + (1 - b2) * d
            n_new, sq = num.upcast(num.real_part(n), num.abs_sq(gc + (1 - b2) * d))
            n_new = b3 * n_new + (1 - b3) * sq
            direction = m_new * m_corr + (1 - b2) * v_new * v_corr
            u = direction / (jnp.sqrt(n_new * n_corr + eps_root) + eps)
            return (
                num.cast(u, num.update_dtype(g, m.dtype)),
                m_new.astype(m.dtype),
                v_new.astype(v.dtype),
                n_new.astype(n.dtype),
                gc.astype(g_prev.dtype),
            )

        out = jax.tree_util.tree_map(step, updates, state.m, state.v, state.n, state.g)
        updates, m, v, n, g = num.tree_unzip(updates, out, 5)
        return updates, ScaleByAdanState(m, v, n, g, count)

    return GradientTransformation(init_fn, update_fn)
