"""Adam's moment block and Adamax, its infinity-norm variant (Kingma & Ba, 2015).

Both keep ``(count, mu, nu)`` in :class:`ScaleByAdamState`. The helpers they
share with the other Adam-like blocks (argument checks, bias-corrected first
moment) live in :mod:`lrjax.transforms._moments`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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

__all__ = ["ScaleByAdamState", "scale_by_adam", "scale_by_adamax"]


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam` (and of the blocks that reuse its layout).

    Attributes:
      count: int32 number of updates made (saturating).
      mu: first moment (EMA of gradients), dtype ``mu_dtype``.
      nu: second moment (EMA of squared gradients), dtype ``nu_dtype``.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """Rescales updates by Adam's bias-corrected moment ratio.

    With ``t`` the number of updates including this one::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * |g|**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        u = m_hat / (sqrt(v_hat + eps_root) + eps)

    For complex parameters ``m`` is complex and ``v`` the real EMA of
    ``|g|**2`` (kept, as in optax, in the parameter's complex dtype unless
    ``nu_dtype`` is given; a real ``nu_dtype`` works too). The arithmetic runs
    in at least float32 whatever the storage dtypes.

    ``eps`` is added outside the square root (Kingma & Ba, PyTorch, Keras);
    ``eps_root`` inside it (useful when differentiating through the update).
    With ``nesterov=True`` (NAdam, Dozat 2016, in optax's form)
    ``m_hat = b1 * m / (1 - b1**(t+1)) + (1 - b1) * g / (1 - b1**t)``.

    Args:
      b1: first-moment decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added to the denominator outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      mu_dtype: dtype of ``m`` (default: the parameter's).
      nesterov: use the NAdam momentum.
      nu_dtype: dtype of ``v`` (default: the parameter's). lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByAdamState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_adam()
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> updates  # m_hat / sqrt(v_hat) = g / |g| on the first step
        Array([ 1., -1.], dtype=float32)
        >>> state.count
        Array(1, dtype=int32)
        >>> tx = lrjax.chain(lrjax.scale_by_adam(), lrjax.scale_by_learning_rate(0.1))
        >>> updates, _ = tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))
        >>> updates  # the rate block scales by -lr
        Array([-0.1,  0.1], dtype=float32)
    """
    check_adam_args(b1, b2, eps, eps_root, mu_dtype, nu_dtype)
    val.check_type("nesterov", nesterov, bool)

    init_fn = moments_init(ScaleByAdamState, mu_dtype, nu_dtype)

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_adam", updates, state.mu)
        count = num.safe_increment(state.count)
        mu_corr, next_corr = first_moment_corrections(b1, count, nesterov)
        nu_corr = num.bias_correction(b2, count)

        def step(g, m, v):
            g = jnp.asarray(g)
            m_new, v_new, m_hat = adam_moments(b1, b2, g, m, v, mu_corr, next_corr)
            u = m_hat / (jnp.sqrt(v_new * nu_corr + eps_root) + eps)
            out = num.cast(u, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), v_new.astype(v.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdamState(count, mu, nu)

    return GradientTransformation(init_fn, update_fn)


def scale_by_adamax(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
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
      A ``GradientTransformation`` with :class:`ScaleByAdamState` (``nu``
      holds ``u``).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_adamax()
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> state.nu  # |g| + eps
        Array([0.5, 2. ], dtype=float32)
        >>> updates, state = block.update(jnp.array([0.25, -1.0]), state)
        >>> state.nu  # |g| fell below b2 * u: u decays by b2
        Array([0.4995, 1.998 ], dtype=float32)
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
