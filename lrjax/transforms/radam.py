"""Rectified Adam's moment block (Liu et al., 2020).

Adam's moments in :class:`lrjax.ScaleByAdamState`; the rectification term
``r_t`` and the switch step are computed without cancellation (see
:func:`scale_by_radam`).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation
from lrjax.transforms._moments import (
    adam_moments,
    check_adam_args,
    first_moment_corrections,
    moments_init,
)
from lrjax.transforms.adam import ScaleByAdamState

__all__ = ["scale_by_radam"]


def _gap(a: jax.Array) -> jax.Array:
    """``1 / a - 1 / expm1(a)`` for ``a > 0``, to float32 precision.

    Below ``a = 1`` the two terms nearly cancel; there the Bernoulli series
    of ``a / expm1(a)`` gives ``1/2 - a/12 + a**3/720 - ...`` instead
    (truncation error below ``a**11 / 1.2e9``).
    """
    small = jnp.minimum(a, 1.0)
    sq = small * small
    series = 0.5 - small * (
        1 / 12 - sq * (1 / 720 - sq * (1 / 30240 - sq * (1 / 1209600 - sq / 47900160)))
    )
    big = jnp.maximum(a, 1.0)
    direct = 1.0 / big - 1.0 / jnp.expm1(big)
    return jnp.where(a < 1.0, series, direct)


def _rectification(b2: Any, count: jax.Array, threshold: Any):
    """RAdam's ``(rho_t >= threshold, r_t, 1 / (1 - b2**t))`` as float32 scalars.

    With ``L = -log(b2)`` and ``a = t L``, ``b2**t / (1 - b2**t) =
    1 / expm1(a)``, so ``rho_t = (rho_inf - 2 / L) + 2 t (1 / a - 1 /
    expm1(a))``: the constant in brackets is formed in float64 at
    construction (when ``b2`` is concrete) and the second term by
    :func:`_gap`, so nothing cancels. The plain form subtracts two numbers
    near ``2 / (1 - b2)``: for ``b2 = 0.9999`` float32 then puts ``rho_5``
    (4.9996) above 5 and rectifies one step early.
    """
    if val.is_checkable(b2):
        # Concrete b2: every constant in float64, rounded once.
        one_minus_b2 = 1.0 - float(b2)
        log_b2 = math.log1p(-one_minus_b2) if one_minus_b2 < 1.0 else -math.inf
        rho_inf = 2.0 / one_minus_b2 - 1.0
        offset = rho_inf + 2.0 / log_b2
        bottom = (rho_inf - 4.0) * (rho_inf - 2.0)
        # rho_inf <= 4 never rectifies (rho_t < rho_inf): any finite scale.
        scale = rho_inf / bottom if bottom > 0 else 0.0
    else:
        one_minus_b2 = 1.0 - jnp.asarray(b2, jnp.float32)
        log_b2 = jnp.log1p(-one_minus_b2)
        rho_inf = 2.0 / one_minus_b2 - 1.0
        offset = rho_inf + 2.0 / log_b2
        bottom = (rho_inf - 4.0) * (rho_inf - 2.0)
        scale = jnp.where(bottom > 0, rho_inf / jnp.where(bottom > 0, bottom, 1.0), 0.0)
    t = count.astype(jnp.float32)
    a = -t * log_b2
    rho = offset + 2.0 * t * _gap(a)
    nu_corr = -1.0 / jnp.expm1(-a)
    rectify = rho >= threshold
    ratio = (rho - 4.0) * (rho - 2.0) / jnp.where(rho > 0, rho, 1.0) * scale
    # Where rectification is off the ratio is unused: keep it finite anyway so
    # that gradients taken through the update stay finite.
    r = jnp.sqrt(jnp.where(rectify, jnp.maximum(ratio, 0.0), 1.0))
    return rectify, r.astype(jnp.float32), nu_corr.astype(jnp.float32)


def scale_by_radam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    threshold: float = 5.0,
    *,
    nesterov: bool = False,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """Rescales updates by Rectified Adam's variance-corrected ratio.

    Liu et al. (2020). With ``t`` counting updates from 1, Adam's moments
    ``m``, ``v`` and their debiased ``m_hat``, ``v_hat``::

        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        r_t = sqrt((rho_t - 4) (rho_t - 2) rho_inf
                   / ((rho_inf - 4) (rho_inf - 2) rho_t))
        u = r_t * m_hat / (sqrt(v_hat + eps_root) + eps)   if rho_t >= threshold
        u = m_hat                                          otherwise

    While the adaptive rate's variance is intractable (``rho_t`` small, the
    first ~5 steps for ``b2 = 0.999``) the update is plain momentum SGD. The
    paper switches at ``rho_t > 4``; optax and PyTorch use 5 (PyTorch with
    ``>``, optax and lrjax with ``>=``). ``r_t`` is undefined for
    ``2 < rho_t < 4``, so ``threshold`` must be ``>= 4``. ``rho_t`` and the
    second-moment correction ``1 / (1 - b2**t)`` are computed without
    cancellation (constants in float64 at construction, ``expm1`` and a
    series for the rest), so the switch step is right for every ``b2``
    (optax's plain float32 form switches at step 5 instead of 6 for
    ``b2 = 0.9999``). ``nesterov=True`` uses NAdam-style ``m_hat`` as in
    :func:`lrjax.scale_by_belief`.

    Args:
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: second-moment decay in ``[0, 1)``. Default 0.999.
      eps: added outside the square root, ``>= 0``. Default 1e-8.
      eps_root: added inside the square root, ``>= 0``. Default 0.
      threshold: ``rho_t`` from which the adaptive step is used, ``>= 4``.
        Default 5.
      nesterov: use NAdam-style momentum. Default False.
      mu_dtype: dtype of ``m`` (default: the parameter's). lrjax addition.
      nu_dtype: dtype of ``v`` (default: the parameter's). lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`lrjax.ScaleByAdamState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_radam()
        >>> state = block.init(jnp.zeros(2))
        >>> g = jnp.array([0.5, -2.0])
        >>> updates, state = block.update(g, state)
        >>> [round(float(u), 4) for u in updates]  # momentum phase: m_hat = g
        [0.5, -2.0]
        >>> for _ in range(5):
        ...     updates, state = block.update(g, state)
        >>> [round(float(u), 4) for u in updates]  # step 6: r_6 * g / |g|
        [0.0258, -0.0258]
    """
    check_adam_args(b1, b2, eps, eps_root, mu_dtype, nu_dtype)
    val.check_in_range("threshold", threshold, 4.0, math.inf)
    val.check_type("nesterov", nesterov, bool)

    init_fn = moments_init(ScaleByAdamState, mu_dtype, nu_dtype)

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_radam", updates, state.mu)
        count = num.safe_increment(state.count)
        mu_corr, next_corr = first_moment_corrections(b1, count, nesterov)
        # 1 / (1 - b2**t) from the same expm1 as rho_t: float32 ``b2**t``
        # is off by 2e-4 relative for b2 = 0.9999 at t = 1.
        rectify, r, nu_corr = _rectification(b2, count, threshold)

        def step(g, m, v):
            g = jnp.asarray(g)
            m_new, v_new, m_hat = adam_moments(b1, b2, g, m, v, mu_corr, next_corr)
            adaptive = r * m_hat / (jnp.sqrt(v_new * nu_corr + eps_root) + eps)
            u = jnp.where(rectify, adaptive, m_hat)
            out = num.cast(u, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), v_new.astype(v.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdamState(count, mu, nu)

    return GradientTransformation(init_fn, update_fn)
