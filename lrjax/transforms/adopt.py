"""ADOPT's moment block (Taniguchi et al., 2024)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["ScaleByAdoptState", "scale_by_adopt"]


class ScaleByAdoptState(NamedTuple):
    """State of :func:`scale_by_adopt` (the fields of optax's Adam state).

    Attributes:
      count: int32 number of updates made (saturating).
      mu: momentum of the normalised gradients, dtype ``mu_dtype``.
      nu: second moment (EMA of ``|g|**2``), the parameter's dtype.
    """

    count: jax.Array
    mu: Any
    nu: Any


def default_clip(count: jax.Array) -> jax.Array:
    """ADOPT's default bound on the normalised gradient: ``count**0.25``."""
    return count**0.25


def scale_by_adopt(
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] | float = default_clip,
) -> GradientTransformation:
    """ADOPT's direction: momentum of gradients normalised by the *previous* v.

    Taniguchi et al., 2024, "ADOPT: Modified Adam Can Converge with Any beta2
    with the Optimal Rate" (NeurIPS 2024). Adam divides by a second moment
    that already contains the current gradient, which correlates numerator
    and denominator; ADOPT normalises with ``v`` from the step before and
    applies momentum after the normalisation. With ``k`` the number of
    updates made before this one (``count``)::

        k = 0:  v <- |g|**2;  m unchanged (0);  u = 0     (v's warm start)
        k > 0:  r = g / max(sqrt(v), eps)                 (the old v)
                r = clip(r, -c(k), c(k))                  if use_clipping
                m <- b1 * m + (1 - b1) * r
                v <- b2 * v + (1 - b2) * |g|**2
                u = m           (nesterov: b1 * m + (1 - b1) * r)

    ``c = clip_value_fn`` (default ``k**0.25``) bounds the normalised
    gradient while ``v`` is still a poor estimate (the paper's practical
    form, as optax.contrib's). The first update is always zero, as in
    optax.contrib: the paper spends step 0 on initialising ``v``. For complex
    parameters the clip bounds ``|r|`` and keeps its phase. Arithmetic runs
    in at least float32. Unlike optax, step 0 never multiplies ``g / eps`` by
    zero (a ``where`` selects), so a huge first ratio cannot give ``inf * 0``.

    The output is the *ascent* direction; chain
    :func:`lrjax.scale_by_learning_rate` after it (as :func:`lrjax.adopt`).

    Args:
      b1: momentum decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.9999.
      eps: lower bound of ``sqrt(v)`` in the denominator, ``>= 0``.
        Default 1e-6.
      mu_dtype: dtype of ``m`` (default: the parameter's).
      nesterov: use the Nesterov form of the momentum. Default False.
      use_clipping: clip the normalised gradient to ``[-c(k), c(k)]``.
        Default True.
      clip_value_fn: ``k -> c(k)`` for the int32 step ``k``, or a number
        ``>= 0`` (a constant bound; what ``optax.inject_hyperparams`` passes
        after evaluating the callable at the step). Default ``k**0.25``.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByAdoptState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_adopt()
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> updates  # step 0 only sets v = |g|**2
        Array([0., 0.], dtype=float32)
        >>> state.nu
        Array([0.25, 4.  ], dtype=float32)
        >>> updates, state = block.update(jnp.array([1.0, -1.0]), state)
        >>> updates  # (1 - b1) * clip(g / sqrt(v), -1, 1) with the old v
        Array([ 0.1 , -0.05], dtype=float32)
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_dtype("mu_dtype", mu_dtype)
    val.check_type("nesterov", nesterov, bool)
    val.check_type("use_clipping", use_clipping, bool)
    if not callable(clip_value_fn):
        # A number is a constant bound: optax.inject_hyperparams evaluates a
        # callable hyperparameter at the step and passes its value here.
        if clip_value_fn is None or isinstance(clip_value_fn, str):
            raise TypeError(
                "clip_value_fn must be a callable step -> bound or a number "
                f">= 0, got {clip_value_fn!r}."
            )
        val.check_non_negative("clip_value_fn", clip_value_fn)

    def init_fn(params):
        return ScaleByAdoptState(
            num.zero_count(),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_adopt", updates, state.mu)
        started = state.count > 0
        bound = None
        if use_clipping:
            bound = (
                clip_value_fn(state.count) if callable(clip_value_fn) else clip_value_fn
            )

        def step(g, m, v):
            g = jnp.asarray(g)
            gc, m_old = num.upcast(g, m)
            v_old, g_sq = num.upcast(num.real_part(v), num.abs_sq(gc))
            r = gc / jnp.maximum(jnp.sqrt(v_old), eps)
            if bound is not None:
                r = num.clip_modulus(r, jnp.asarray(bound, v_old.dtype))
            m_new = jnp.where(started, b1 * m_old + (1 - b1) * r, m_old)
            v_new = jnp.where(started, b2 * v_old + (1 - b2) * g_sq, g_sq)
            u = (
                jnp.where(started, b1 * m_new + (1 - b1) * r, m_new)
                if nesterov
                else m_new
            )
            out = num.cast(u, num.update_dtype(g, m.dtype, v.dtype))
            return out, m_new.astype(m.dtype), v_new.astype(v.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdoptState(num.safe_increment(state.count), mu, nu)

    return GradientTransformation(init_fn, update_fn)
