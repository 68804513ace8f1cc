"""What the moment blocks share: argument checks, bias-corrected means, roots.

Module-internal API of :mod:`lrjax.transforms`: the Adam family (Adam,
Adamax, AMSGrad, AdaBelief, RAdam, optimistic Adam, the hypergradient
controller) builds on the first group, the squared-gradient family
(AdaGrad, RMSProp, AdaDelta) on the second. Every helper computes in the
dtype :func:`lrjax._numerics.upcast` picks (at least float32) and leaves the
cast back to the stored dtype to its caller.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val

__all__ = [
    "adam_moments",
    "check_adam_args",
    "debiased_first_moment",
    "first_moment_corrections",
    "inv_root",
    "moments_init",
    "second_moment_inputs",
]


# --------------------------------------------------------------------------
# The Adam family: m, v and the bias-corrected m_hat.


def check_adam_args(
    b1: Any,
    b2: Any,
    eps: Any,
    eps_root: Any,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> None:
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
    """``m_hat`` from the corrections of :func:`first_moment_corrections`."""
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


def moments_init(
    state_type: type, mu_dtype: DTypeLike | None, nu_dtype: DTypeLike | None
):
    """``init`` of a block whose state is ``(count, mu, nu)``.

    ``nu`` holds a real second moment, so a real ``nu_dtype`` stays real; a
    real ``mu_dtype`` for a complex parameter gives a complex buffer of that
    precision (:func:`lrjax._numerics.resolve_dtype`).
    """

    def init_fn(params):
        return state_type(
            num.zero_count(),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, nu_dtype, holds_real=True),
        )

    return init_fn


# --------------------------------------------------------------------------
# The squared-gradient family: where eps goes, and the real second moment.


def inv_root(s: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1 / sqrt(s + eps)`` (``eps_in_sqrt``) or ``1 / (sqrt(s) + eps)``."""
    if eps_in_sqrt:
        return jax.lax.rsqrt(s + eps)
    return 1.0 / (jnp.sqrt(s) + eps)


def second_moment_inputs(g: Any, s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``g`` and the real second moment ``s`` in their compute dtype."""
    g, s = num.upcast(g, num.real_part(s))
    return g, num.real_part(s)
