"""Optimistic gradients: extrapolation from the previous gradient (min-max games)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation
from lrjax.transforms._moments import (
    adam_moments,
    check_adam_args,
    first_moment_corrections,
)

__all__ = [
    "ScaleByOptimisticAdamState",
    "ScaleByOptimisticGradientState",
    "scale_by_optimistic_adam",
    "scale_by_optimistic_gradient",
]


class ScaleByOptimisticGradientState(NamedTuple):
    """State of :func:`scale_by_optimistic_gradient` (optax's fields and order).

    Attributes:
      is_initial_step: bool scalar, True before the first update.
      previous_gradient: the gradient of the previous update (zeros before
        the first), in the parameter's dtype.
    """

    is_initial_step: jax.Array
    previous_gradient: Any


def scale_by_optimistic_gradient(
    alpha: ArrayLike = 1.0, beta: ArrayLike = 1.0
) -> GradientTransformation:
    """Generalised optimistic gradient: ``u_t = (alpha + beta) g_t - beta g_{t-1}``.

    Mokhtari, Ozdaglar & Pattathil, 2019, "A Unified Analysis of
    Extra-gradient and Optimistic Gradient Methods for Saddle Point Problems:
    Proximal Point Approach". ``alpha = beta = 1`` is the optimistic gradient
    ``2 g_t - g_{t-1}`` of Daskalakis et al., 2017 ("Training GANs with
    Optimism"): a cheap stand-in for the extra-gradient step that converges in
    the last iterate on bilinear games, where plain gradient descent-ascent
    cycles or diverges. At the first update there is no previous gradient and
    ``g_{-1} = g_0`` is used (``u_0 = alpha g_0``, as optax since its issue
    1082).

    Args:
      alpha: weight of the current gradient, ``>= 0``. Default 1.
      beta: weight of the gradient's change ``g_t - g_{t-1}`` (the
        "negative momentum"), ``>= 0``. Default 1.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByOptimisticGradientState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_optimistic_gradient()
        >>> state = tx.init({"w": jnp.zeros(2)})
        >>> updates, state = tx.update({"w": jnp.array([1.0, 1.0])}, state)
        >>> updates["w"]  # alpha * g_0
        Array([1., 1.], dtype=float32)
        >>> updates, state = tx.update({"w": jnp.array([2.0, 0.0])}, state)
        >>> updates["w"]  # 2 * g_1 - g_0
        Array([ 3., -1.], dtype=float32)
    """
    val.check_non_negative("alpha", alpha)
    val.check_non_negative("beta", beta)

    def init_fn(params):
        return ScaleByOptimisticGradientState(
            jnp.asarray(True), num.tree_buffers(params)
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure(
            "scale_by_optimistic_gradient", updates, state.previous_gradient
        )
        first = state.is_initial_step

        def step(g, prev):
            g = jnp.asarray(g)
            gc, prev_c = num.upcast(g, prev)
            prev_c = jnp.where(first, gc, prev_c)
            u = (alpha + beta) * gc - beta * prev_c
            return num.cast(u, num.update_dtype(g, prev.dtype)), gc.astype(prev.dtype)

        out = jax.tree_util.tree_map(step, updates, state.previous_gradient)
        updates, previous = num.tree_unzip(updates, out, 2)
        return updates, ScaleByOptimisticGradientState(jnp.asarray(False), previous)

    return GradientTransformation(init_fn, update_fn)


class ScaleByOptimisticAdamState(NamedTuple):
    """State of :func:`scale_by_optimistic_adam`.

    Attributes:
      count: int32 number of updates made (saturating).
      mu: Adam's first moment, dtype ``mu_dtype``.
      nu: Adam's second moment (real values), in the parameter's dtype.
      previous_direction: Adam's direction ``r_{t-1}`` at the previous
        update, in the parameter's dtype.
    """

    count: jax.Array
    mu: Any
    nu: Any
    previous_direction: Any


def scale_by_optimistic_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = True,
    alpha: ArrayLike = 1.0,
    beta: ArrayLike = 1.0,
) -> GradientTransformation:
    """The optimistic gradient of Adam's direction, computed in one block.

    Daskalakis et al., 2017, "Training GANs with Optimism"::

        r_t = m_hat / (sqrt(v_hat + eps_root) + eps)     (Adam's, as
                                                         scale_by_adam)
        u_t = (alpha + beta) * r_t - beta * r_{t-1}     (r_{-1} = r_0)

    This is ``chain(scale_by_adam(...), scale_by_optimistic_gradient(alpha,
    beta))`` (optax's composition) with ``r_t`` kept in float32 between the
    two: chained, ``r_t`` is rounded to a float16/bfloat16 parameter's dtype
    first, and ``(alpha + beta) r_t - beta r_{t-1}`` cancels, multiplying
    that rounding error (3x for ``alpha = beta = 1``) when ``r_t`` is close to
    ``r_{t-1}``. Here the update is rounded once.

    Args:
      b1: first-moment decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      mu_dtype: dtype of ``m`` (default: the parameter's).
      nesterov: NAdam's momentum in ``m_hat``. Default True (as optax's
        optimistic Adam).
      alpha: weight of ``r_t``, ``>= 0``. Default 1.
      beta: weight of ``r_t - r_{t-1}``, ``>= 0``. Default 1.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByOptimisticAdamState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_optimistic_adam(eps=0.0, nesterov=False, beta=0.5)
        >>> state = tx.init({"w": jnp.zeros(2)})
        >>> updates, state = tx.update({"w": jnp.array([0.5, -3.0])}, state)
        >>> [round(float(u), 4) for u in updates["w"]]  # r_0 = sign(g), alpha * r_0
        [1.0, -1.0]
    """
    check_adam_args(b1, b2, eps, eps_root, mu_dtype)
    val.check_type("nesterov", nesterov, bool)
    val.check_non_negative("alpha", alpha)
    val.check_non_negative("beta", beta)

    def init_fn(params):
        return ScaleByOptimisticAdamState(
            num.zero_count(),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, holds_real=True),
            num.tree_buffers(params),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_optimistic_adam", updates, state.mu)
        first = state.count == 0
        count = num.safe_increment(state.count)
        mu_corr, next_corr = first_moment_corrections(b1, count, nesterov)
        nu_corr = num.bias_correction(b2, count)

        def step(g, m, v, r_prev):
            g = jnp.asarray(g)
            m_new, v_new, m_hat = adam_moments(b1, b2, g, m, v, mu_corr, next_corr)
            r = m_hat / (jnp.sqrt(v_new * nu_corr + eps_root) + eps)
            r, r_prev_c = num.upcast(r, r_prev)
            r_prev_c = jnp.where(first, r, r_prev_c)
            u = (alpha + beta) * r - beta * r_prev_c
            return (
                num.cast(u, num.update_dtype(g, m.dtype)),
                m_new.astype(m.dtype),
                v_new.astype(v.dtype),
                num.cast(r, r_prev.dtype),
            )

        out = jax.tree_util.tree_map(
            step, updates, state.mu, state.nu, state.previous_direction
        )
        updates, mu, nu, previous = num.tree_unzip(updates, out, 4)
        return updates, ScaleByOptimisticAdamState(count, mu, nu, previous)

    return GradientTransformation(init_fn, update_fn)
