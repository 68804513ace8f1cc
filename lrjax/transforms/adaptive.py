"""Per-parameter step sizes from squared gradients: AdaGrad, RMSProp, AdaDelta.

``eps`` placement: ``eps_in_sqrt=True`` divides by ``sqrt(s + eps)`` (optax's
and Keras's default), ``eps_in_sqrt=False`` by ``sqrt(s) + eps`` (the papers'
and PyTorch's form). The two differ noticeably only while ``s`` is tiny.

Number kinds: every step computes in at least float32 (float16 squares of
small gradients underflow) and stores in the declared dtypes. Complex
gradients are squared by modulus, ``|g|**2``; the averages are real and kept
in the parameter's (complex) dtype by default, as optax keeps them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = [
    "ScaleByRssState",
    "ScaleByRmsState",
    "ScaleByRStdDevState",
    "ScaleByAdaDeltaState",
    "scale_by_rss",
    "scale_by_rms",
    "scale_by_stddev",
    "scale_by_adadelta",
]


def _inv_root(s: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1 / sqrt(s + eps)`` or ``1 / (sqrt(s) + eps)``."""
    if eps_in_sqrt:
        return jax.lax.rsqrt(s + eps)
    return 1.0 / (jnp.sqrt(s) + eps)


def _second_moment_inputs(g: Any, s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``g`` and the real second moment ``s`` in their compute dtype."""
    g, s = num.upcast(g, num.real_part(s))
    return g, num.real_part(s)


def _check_rms_args(decay, eps, initial_scale, eps_in_sqrt, bias_correction) -> None:
    val.check_in_range("decay", decay, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_non_negative("initial_scale", initial_scale)
    val.check_type("eps_in_sqrt", eps_in_sqrt, bool)
    val.check_type("bias_correction", bias_correction, bool)


class ScaleByRssState(NamedTuple):
    """State of :func:`scale_by_rss`.

    Attributes:
      sum_of_squares: ``G``, the running sum of squared gradients (plus the
        initial value), dtype ``nu_dtype``.
    """

    sum_of_squares: Any


def scale_by_rss(
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: Any | None = None,
) -> GradientTransformation:
    """AdaGrad's rescaling by the root of the sum of squared gradients.

    With ``G_0 = initial_accumulator_value``::

        G <- G + |g|**2                    (the gradient squared, not the step)
        u = g / sqrt(G + eps)              (eps_in_sqrt=True, optax's default)
        u = g / (sqrt(G) + eps)            (eps_in_sqrt=False, Duchi et al.)

    Where ``G == 0`` (a coordinate that has only seen zero gradients, with a
    zero initial value) the update is ``0 * g`` instead of ``0 / 0``.

    Args:
      initial_accumulator_value: ``G_0``, ``>= 0``. Default 0.1 (optax, Keras).
      eps: ``>= 0``; where it goes is set by ``eps_in_sqrt``. Default 1e-7.
      eps_in_sqrt: add ``eps`` inside the root (optax/Keras) or outside it
        (PyTorch). lrjax addition. Default True.
      nu_dtype: dtype of ``G`` (default: the parameter's). lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByRssState`.

    References:
      Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning
      and Stochastic Optimization", JMLR 2011.
    """
    val.check_non_negative("initial_accumulator_value", initial_accumulator_value)
    val.check_non_negative("eps", eps)
    val.check_type("eps_in_sqrt", eps_in_sqrt, bool)
    val.check_dtype("nu_dtype", nu_dtype)

    def init_fn(params):
        return ScaleByRssState(
            num.tree_buffers(
                params, nu_dtype, initial_accumulator_value, holds_real=True
            )
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_rss", updates, state.sum_of_squares)

        def step(g, s_old):
            g = jnp.asarray(g)
            g_c, s = _second_moment_inputs(g, s_old)
            s = s + num.abs_sq(g_c)
            # The guard keeps 0 / 0 out; a NaN gradient still gives NaN via `* g`.
            scale = jnp.where(s > 0, _inv_root(s, eps, eps_in_sqrt), 0.0)
            return num.cast(g_c * scale, num.update_dtype(g, s_old.dtype)), s.astype(
                s_old.dtype
            )

        out = jax.tree_util.tree_map(step, updates, state.sum_of_squares)
        updates, sum_of_squares = num.tree_unzip(updates, out, 2)
        return updates, ScaleByRssState(sum_of_squares)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`.

    Attributes:
      count: int32 number of updates made (saturating); read by the bias
        correction.
      nu: EMA of squared gradients, dtype ``nu_dtype``.
    """

    count: jax.Array
    nu: Any


def scale_by_rms(
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
    *,
    nu_dtype: Any | None = None,
) -> GradientTransformation:
    """RMSProp's rescaling by the root of an EMA of squared gradients.

    With ``s_0 = initial_scale`` and ``t`` the number of updates so far::

        s <- decay * s + (1 - decay) * |g|**2
        s_hat = s / (1 - decay**t)   if bias_correction else s
        u = g / sqrt(s_hat + eps)    (eps_in_sqrt=True)
        u = g / (sqrt(s_hat) + eps)  (eps_in_sqrt=False)

    The average is *not* divided by ``decay`` (one source article's error);
    only the optional bias correction divides, by ``1 - decay**t``.
    ``scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True)`` is
    :func:`lrjax.scale_by_adam` with ``b1=0``.

    Args:
      decay: EMA decay, in ``[0, 1)``. Default 0.9.
      eps: ``>= 0``; where it goes is set by ``eps_in_sqrt``. Default 1e-8.
        With ``eps=0`` a coordinate whose gradients are all zero gives NaN.
      initial_scale: ``s_0``, ``>= 0``. Default 0.
      eps_in_sqrt: add ``eps`` inside the root (optax/Keras) or outside
        (Tieleman & Hinton, PyTorch). Default True.
      bias_correction: divide ``s`` by ``1 - decay**t``. Default False.
      nu_dtype: dtype of ``s`` (default: the parameter's). lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByRmsState`.

    References:
      Tieleman & Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for
      Machine Learning, 2012.
    """
    _check_rms_args(decay, eps, initial_scale, eps_in_sqrt, bias_correction)
    val.check_dtype("nu_dtype", nu_dtype)

    def init_fn(params):
        return ScaleByRmsState(
            count=num.zero_count(),
            nu=num.tree_buffers(params, nu_dtype, initial_scale, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_rms", updates, state.nu)
        count = num.safe_increment(state.count)
        if bias_correction:
            corr = num.bias_correction(decay, count)

        def step(g, s_old):
            g = jnp.asarray(g)
            g_c, s = _second_moment_inputs(g, s_old)
            s = decay * s + (1 - decay) * num.abs_sq(g_c)
            s_hat = s * corr if bias_correction else s
            u = g_c * _inv_root(s_hat, eps, eps_in_sqrt)
            return num.cast(u, num.update_dtype(g, s_old.dtype)), s.astype(s_old.dtype)

        out = jax.tree_util.tree_map(step, updates, state.nu)
        updates, nu = num.tree_unzip(updates, out, 2)
        return updates, ScaleByRmsState(count, nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRStdDevState(NamedTuple):
    """State of :func:`scale_by_stddev`.

    Attributes:
      count: int32 number of updates made (saturating).
      mu: EMA of gradients, dtype ``mu_dtype``.
      nu: EMA of squared gradients, dtype ``nu_dtype``.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_stddev(
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> GradientTransformation:
    """Centered RMSProp: rescales by the root of an EMA estimate of the variance.

    With ``m_0 = 0``, ``s_0 = initial_scale``::

        m <- decay * m + (1 - decay) * g
        s <- decay * s + (1 - decay) * |g|**2
        (m_hat, s_hat) = (m, s) / (1 - decay**t)   if bias_correction
        var = max(s_hat - |m_hat|**2, 0)
        u = g / sqrt(var + eps)    (eps_in_sqrt=True)
        u = g / (sqrt(var) + eps)  (eps_in_sqrt=False)

    ``var`` is mathematically ``>= 0``; the ``max`` only stops float rounding
    from taking the root of a tiny negative number (optax gives NaN there).

    Args:
      decay: EMA decay, in ``[0, 1)``. Default 0.9.
      eps: ``>= 0``; see ``eps_in_sqrt``. Default 1e-8.
      initial_scale: ``s_0``, ``>= 0``. Default 0.
      eps_in_sqrt: add ``eps`` inside the root (optax/Keras) or outside
        (Graves, PyTorch). Default True.
      bias_correction: divide both EMAs by ``1 - decay**t``. Default False.
      mu_dtype: dtype of ``m`` (default: the parameter's). lrjax addition.
      nu_dtype: dtype of ``s`` (default: the parameter's). lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByRStdDevState`.

    References:
      Graves, "Generating Sequences With Recurrent Neural Networks", 2013,
      eq. 38-40.
    """
    _check_rms_args(decay, eps, initial_scale, eps_in_sqrt, bias_correction)
    val.check_dtype("mu_dtype", mu_dtype)
    val.check_dtype("nu_dtype", nu_dtype)

    def init_fn(params):
        return ScaleByRStdDevState(
            count=num.zero_count(),
            mu=num.tree_buffers(params, mu_dtype),
            nu=num.tree_buffers(params, nu_dtype, initial_scale, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_stddev", updates, state.nu)
        count = num.safe_increment(state.count)
        if bias_correction:
            corr = num.bias_correction(decay, count)

        def step(g, m_old, s_old):
            g = jnp.asarray(g)
            g_c, s = _second_moment_inputs(g, s_old)
            m = m_old.astype(num.compute_dtype(m_old.dtype, g_c.dtype))
            m = decay * m + (1 - decay) * g_c
            s = decay * s + (1 - decay) * num.abs_sq(g_c)
            if bias_correction:
                var = s * corr - num.abs_sq(m * corr)
            else:
                var = s - num.abs_sq(m)
            u = g_c * _inv_root(jnp.maximum(var, 0), eps, eps_in_sqrt)
            out = num.cast(u, num.update_dtype(g, m_old.dtype, s_old.dtype))
            return out, m.astype(m_old.dtype), s.astype(s_old.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByRStdDevState(count, mu, nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByAdaDeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`.

    Attributes:
      e_g: ``E[g**2]``, EMA of squared gradients, dtype ``nu_dtype``.
      e_x: ``E[dx**2]``, EMA of squared updates, dtype ``nu_dtype``.
    """

    e_g: Any
    e_x: Any


def scale_by_adadelta(
    rho: float = 0.9, eps: float = 1e-6, *, nu_dtype: Any | None = None
) -> GradientTransformation:
    """AdaDelta: the ratio of the RMS of past updates to the RMS of gradients.

    Zeiler's Algorithm 1, with ``RMS[y] = sqrt(E[|y|**2] + eps)`` and both
    averages starting at 0::

        E[g**2] <- rho * E[g**2] + (1 - rho) * |g|**2
        dx = RMS[dx]_{t-1} / RMS[g]_t * g
        E[dx**2] <- rho * E[dx**2] + (1 - rho) * |dx|**2

    Complex gradients are squared by modulus, so ``dx`` keeps the direction
    of ``g``. optax 0.2.8's ``scale_by_adadelta`` squares complex numbers
    (``g**2``), which rotates the step off the gradient; lrjax deliberately
    differs there (real parameters agree).

    The output is ``dx`` (positive along the gradient; the optimizer's
    learning-rate block flips the sign). ``E[dx**2]`` tracks ``dx`` before
    any learning rate is applied, as in optax, PyTorch and Keras. ``eps`` sits
    inside both roots and is also the first step's size (``sqrt(eps)/RMS[g]``),
    so it must be positive.

    Args:
      rho: decay of both averages, in ``[0, 1)``. Default 0.9.
      eps: ``> 0``. Default 1e-6.
      nu_dtype: dtype of ``e_g`` and ``e_x`` (default: the parameter's).
        lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByAdaDeltaState`.

    References:
      Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
    """
    val.check_in_range("rho", rho, 0.0, 1.0, high_inclusive=False)
    val.check_positive("eps", eps)
    val.check_dtype("nu_dtype", nu_dtype)

    def init_fn(params):
        return ScaleByAdaDeltaState(
            e_g=num.tree_buffers(params, nu_dtype, holds_real=True),
            e_x=num.tree_buffers(params, nu_dtype, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_adadelta", updates, state.e_g)

        def step(g, e_g_old, e_x_old):
            g = jnp.asarray(g)
            g_c, e_g = _second_moment_inputs(g, e_g_old)
            _, e_x = _second_moment_inputs(g, e_x_old)
            e_g = rho * e_g + (1 - rho) * num.abs_sq(g_c)
            dx = jnp.sqrt(e_x + eps) * jax.lax.rsqrt(e_g + eps) * g_c
            e_x = rho * e_x + (1 - rho) * num.abs_sq(dx)
            return (
                num.cast(dx, num.update_dtype(g, e_g_old.dtype)),
                e_g.astype(e_g_old.dtype),
                e_x.astype(e_x_old.dtype),
            )

        out = jax.tree_util.tree_map(step, updates, state.e_g, state.e_x)
        updates, e_g, e_x = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdaDeltaState(e_g, e_x)

    return GradientTransformation(init_fn, update_fn)
