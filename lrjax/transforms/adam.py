"""Adam's moment block (Kingma & Ba, 2015)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["ScaleByAdamState", "scale_by_adam", "check_adam_args"]


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`.

    Attributes:
      count: int32 number of updates made (saturating).
      mu: first moment (EMA of gradients), dtype ``mu_dtype``.
      nu: second moment (EMA of squared gradients), dtype ``nu_dtype``.
    """

    count: jax.Array
    mu: Any
    nu: Any


def check_adam_args(b1, b2, eps, eps_root, mu_dtype=None, nu_dtype=None) -> None:
    """The checks every Adam-like block shares."""
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_non_negative("eps_root", eps_root)
    val.check_dtype("mu_dtype", mu_dtype)
    val.check_dtype("nu_dtype", nu_dtype)


def first_moment_corrections(b1: Any, count: jax.Array, nesterov: bool):
    """Scalars that turn ``(m, g)`` into Adam's (or NAdam's) ``m_hat``."""
    mu_corr = num.bias_correction(b1, count)
    if not nesterov:
        return mu_corr, None
    return mu_corr, num.bias_correction(b1, num.safe_increment(count))


def debiased_first_moment(
    b1: Any, m: jax.Array, g: jax.Array, mu_corr, next_corr
) -> jax.Array:
    if mu_corr is None:  # no debiasing (AMSGrad's paper form)
        return m
    if next_corr is None:
        return m * mu_corr
    # NAdam in optax's form: the momentum looks one step ahead.
    return b1 * m * next_corr + (1 - b1) * g * mu_corr


def adam_moments(b1, b2, g, m, v, mu_corr, next_corr):
    """Adam's new ``(m, v, m_hat)`` in the compute dtype, not yet stored.

    ``m`` runs in the gradient's kind (complex for complex parameters), ``v``
    is the real EMA of ``|g|**2``, both in at least float32.
    """
    g, m = num.upcast(g, m)
    m = b1 * m + (1 - b1) * g
    v, g_sq = num.upcast(num.real_part(v), num.abs_sq(g))
    v = b2 * v + (1 - b2) * g_sq
    return m, v, debiased_first_moment(b1, m, g, mu_corr, next_corr)


def moments_init(state_type: type, mu_dtype: Any, nu_dtype: Any):
    """``init`` of a block whose state is ``(count, mu, nu)``.

    ``nu`` holds a real second moment, so a real ``nu_dtype`` stays real; a
    real ``mu_dtype`` for a complex parameter gives a complex buffer of that
    precision (:func:`num.resolve_dtype`).
    """

    def init_fn(params):
        return state_type(
            num.zero_count(),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, nu_dtype, holds_real=True),
        )

    return init_fn


def scale_by_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any | None = None,
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
