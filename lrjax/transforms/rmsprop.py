"""RMSProp's blocks: the root of an EMA of squared gradients, plain or centered.

``eps`` placement: ``eps_in_sqrt=True`` divides by ``sqrt(s + eps)`` (optax's
and Keras's default), ``eps_in_sqrt=False`` by ``sqrt(s) + eps`` (the papers'
and PyTorch's form). The two differ noticeably only while ``s`` is tiny.

Both blocks compute in at least float32 (float16 squares of small gradients
underflow) and store in the declared dtypes. Complex gradients are squared by
modulus, ``|g|**2``; the averages are real and kept in the parameter's
(complex) dtype by default, as optax keeps them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation
from lrjax.transforms._moments import inv_root, second_moment_inputs

__all__ = [
    "ScaleByRmsState",
    "ScaleByRStdDevState",
    "scale_by_rms",
    "scale_by_stddev",
]


def _check_rms_args(decay, eps, initial_scale, eps_in_sqrt, bias_correction) -> None:
    val.check_in_range("decay", decay, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_non_negative("initial_scale", initial_scale)
    val.check_type("eps_in_sqrt", eps_in_sqrt, bool)
    val.check_type("bias_correction", bias_correction, bool)


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
    nu_dtype: DTypeLike | None = None,
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_rms(decay=0.75, eps=0.0)
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> state.nu  # (1 - decay) * g**2
        Array([0.0625, 1.    ], dtype=float32)
        >>> updates  # g / sqrt(0.25 g**2) = 2 * sign(g)
        Array([ 2., -2.], dtype=float32)
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
            g_c, s = second_moment_inputs(g, s_old)
            s = decay * s + (1 - decay) * num.abs_sq(g_c)
            s_hat = s * corr if bias_correction else s
            u = g_c * inv_root(s_hat, eps, eps_in_sqrt)
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
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_stddev(decay=0.5, eps=0.0)
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> state.mu, state.nu  # m = 0.5 g, s = 0.5 g**2
        (Array([ 0.25, -1.  ], dtype=float32), Array([0.125, 2.   ], dtype=float32))
        >>> updates  # var = s - m**2 = 0.25 g**2: g / (0.5 |g|)
        Array([ 2., -2.], dtype=float32)
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
            g_c, s = second_moment_inputs(g, s_old)
            m = m_old.astype(num.compute_dtype(m_old.dtype, g_c.dtype))
            m = decay * m + (1 - decay) * g_c
            s = decay * s + (1 - decay) * num.abs_sq(g_c)
            if bias_correction:
                var = s * corr - num.abs_sq(m * corr)
            else:
                var = s - num.abs_sq(m)
            u = g_c * inv_root(jnp.maximum(var, 0), eps, eps_in_sqrt)
            out = num.cast(u, num.update_dtype(g, m_old.dtype, s_old.dtype))
            return out, m.astype(m_old.dtype), s.astype(s_old.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByRStdDevState(count, mu, nu)

    return GradientTransformation(init_fn, update_fn)
