"""Moment blocks of Adam's variants: AMSGrad, Adamax, AdaBelief, RAdam.

Each block follows :func:`lrjax.scale_by_adam`: one fused per-leaf step,
arithmetic in at least float32, moments stored in their own dtype
(``mu_dtype``/``nu_dtype``), the update returned in the gradient's dtype, bias
corrections computed once per step as float32 scalars. Complex parameters get
a complex ``m`` and a real second moment (``|g|**2``, ``|g|``), as in optax.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation
from lrjax.transforms.adam import (
    ScaleByAdamState,
    adam_moments,
    check_adam_args,
    debiased_first_moment,
    first_moment_corrections,
    moments_init,
)

__all__ = [
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "scale_by_amsgrad",
    "scale_by_adamax",
    "scale_by_belief",
    "scale_by_radam",
]


class ScaleByAmsgradState(NamedTuple):
    """State of :func:`scale_by_amsgrad`.

    Attributes:
      count: int32 number of updates made (saturating).
      mu: first moment, dtype ``mu_dtype``.
      nu: second moment, dtype ``nu_dtype``.
      nu_max: running maximum of the (optionally debiased) second moment,
        dtype ``nu_dtype``.
    """

    count: jax.Array
    mu: Any
    nu: Any
    nu_max: Any


class ScaleByBeliefState(NamedTuple):
    """State of :func:`scale_by_belief`.

    Attributes:
      count: int32 number of updates made (saturating).
      mu: first moment (EMA of gradients), dtype ``mu_dtype``.
      nu: EMA of the squared prediction error ``(g - m)**2``, dtype ``nu_dtype``.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_amsgrad(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    nu_dtype: Any | None = None,
) -> GradientTransformation:
    """Rescales updates by AMSGrad's non-decreasing second moment.

    With ``t`` the number of updates including this one::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * |g|**2
        v_max <- max(v_max, v / (1 - b2**t))        (bias_correction_nu=True)
        v_max <- max(v_max, v)                      (bias_correction_nu=False)
        u = m_hat / (sqrt(v_max + eps_root) + eps),  m_hat = m / (1 - b1**t)

    (``m_hat = m`` with ``bias_correction_mu=False``). Both flags ``False``
    give the algorithm of Reddi et al. (2018) exactly; the defaults (both
    ``True``) are optax's.

    Args:
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: second-moment decay in ``[0, 1)``. Default 0.999.
      eps: added outside the square root, ``>= 0``. Default 1e-8.
      eps_root: added inside the square root, ``>= 0``. Default 0.
      mu_dtype: dtype of ``m`` (default: the parameter's).
      bias_correction_mu: debias ``m``. Default True.
      bias_correction_nu: debias ``v`` before taking the maximum. Default True.
      nu_dtype: dtype of ``v`` and ``v_max`` (default: the parameter's).
        lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByAmsgradState`.
    """
    check_adam_args(b1, b2, eps, eps_root, mu_dtype, nu_dtype)
    val.check_type("bias_correction_mu", bias_correction_mu, bool)
    val.check_type("bias_correction_nu", bias_correction_nu, bool)

    def init_fn(params):
        return ScaleByAmsgradState(
            count=num.zero_count(),
            mu=num.tree_buffers(params, mu_dtype),
            nu=num.tree_buffers(params, nu_dtype, holds_real=True),
            nu_max=num.tree_buffers(params, nu_dtype, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_amsgrad", updates, state.mu)
        count = num.safe_increment(state.count)
        mu_corr = num.bias_correction(b1, count) if bias_correction_mu else None
        nu_corr = num.bias_correction(b2, count)

        def step(g, m, v, v_max):
            g = jnp.asarray(g)
            m_new, v_new, m_hat = adam_moments(b1, b2, g, m, v, mu_corr, None)
            v_seen = v_new * nu_corr if bias_correction_nu else v_new
            v_max_new = jnp.maximum(num.real_part(v_max), v_seen)
            u = m_hat / (jnp.sqrt(v_max_new + eps_root) + eps)
            return (
                num.cast(u, num.update_dtype(g, m.dtype)),
                m_new.astype(m.dtype),
                v_new.astype(v.dtype),
                v_max_new.astype(v_max.dtype),
            )

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu, state.nu_max)
        updates, mu, nu, nu_max = num.tree_unzip(updates, out, 4)
        return updates, ScaleByAmsgradState(count, mu, nu, nu_max)

    return GradientTransformation(init_fn, update_fn)


def scale_by_adamax(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> GradientTransformation:
    """Rescales updates by Adamax's exponentially weighted infinity norm.

    Kingma & Ba (2015), section 7.1, with ``t`` counting updates from 1::

        m <- b1 * m + (1 - b1) * g
        u <- max(b2 * u, |g| + eps)
        update = m / (1 - b1**t) / u

    ``eps`` sits inside the maximum (optax, and PyTorch's ``Adamax``), so
    ``u >= eps`` and a parameter whose gradients were always zero gets a zero
    update; with ``eps=0`` such a parameter gets ``0 / 0 = NaN``. Keras
    divides by ``u + eps`` instead, the same up to a term of order ``eps``.
    The infinity norm needs no bias correction.

    Args:
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: decay of the infinity norm in ``[0, 1)``. Default 0.999.
      eps: ``>= 0``, added to ``|g|`` inside the maximum. Default 1e-8.
      mu_dtype: dtype of ``m`` (default: the parameter's). lrjax addition.
      nu_dtype: dtype of ``u`` (default: the parameter's). lrjax addition.

    Returns:
      A ``GradientTransformation`` with ``ScaleByAdamState`` (``nu`` holds ``u``).
    """
    check_adam_args(b1, b2, eps, 0.0, mu_dtype, nu_dtype)

    init_fn = moments_init(ScaleByAdamState, mu_dtype, nu_dtype)

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_adamax", updates, state.mu)
        count = num.safe_increment(state.count)
        mu_corr = num.bias_correction(b1, count)

        def step(g, m, u):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            m_new = b1 * m_new + (1 - b1) * gc
            # |g| is the modulus for complex g; u stays real.
            u_new, g_abs = num.upcast(num.real_part(u), jnp.abs(gc))
            u_new = jnp.maximum(b2 * u_new, g_abs + eps)
            out = num.cast(m_new * mu_corr / u_new, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), u_new.astype(u.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdamState(count, mu, nu)

    return GradientTransformation(init_fn, update_fn)


def scale_by_belief(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
    *,
    nesterov: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> GradientTransformation:
    """Rescales updates by AdaBelief's "belief" in the gradient.

    Zhuang et al. (2020): the second moment tracks how far the gradient is
    from its prediction ``m``, not the gradient itself. With ``t`` counting
    updates from 1::

        m <- b1 * m + (1 - b1) * g
        s <- b2 * s + (1 - b2) * |g - m|**2 + eps_root
        u = (m / (1 - b1**t)) / (sqrt(s / (1 - b2**t)) + eps)

    ``eps_root`` is added to the stored ``s``, as in the paper's algorithm,
    where one constant serves as both ``eps`` and ``eps_root``. With ``nesterov=True`` the debiased momentum is
    ``b1 * m / (1 - b1**(t+1)) + (1 - b1) * g / (1 - b1**t)``.

    Args:
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: decay of the prediction-error moment in ``[0, 1)``. Default 0.999.
      eps: added outside the square root, ``>= 0``. Default 1e-16.
      eps_root: added to ``s`` at every step, ``>= 0``. Default 1e-16.
      nesterov: use NAdam-style momentum. Default False.
      mu_dtype: dtype of ``m`` (default: the parameter's). lrjax addition.
      nu_dtype: dtype of ``s`` (default: the parameter's). lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByBeliefState`.
    """
    check_adam_args(b1, b2, eps, eps_root, mu_dtype, nu_dtype)
    val.check_type("nesterov", nesterov, bool)

    init_fn = moments_init(ScaleByBeliefState, mu_dtype, nu_dtype)

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_belief", updates, state.mu)
        count = num.safe_increment(state.count)
        mu_corr, next_corr = first_moment_corrections(b1, count, nesterov)
        nu_corr = num.bias_correction(b2, count)

        def step(g, m, s):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            m_new = b1 * m_new + (1 - b1) * gc
            s_new, err_sq = num.upcast(num.real_part(s), num.abs_sq(gc - m_new))
            s_new = b2 * s_new + (1 - b2) * err_sq + eps_root
            m_hat = debiased_first_moment(b1, m_new, gc, mu_corr, next_corr)
            u = m_hat / (jnp.sqrt(s_new * nu_corr) + eps)
            out = num.cast(u, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), s_new.astype(s.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByBeliefState(count, mu, nu)

    return GradientTransformation(init_fn, update_fn)


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
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
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
    :func:`scale_by_belief`.

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
      A ``GradientTransformation`` with ``ScaleByAdamState``.
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
