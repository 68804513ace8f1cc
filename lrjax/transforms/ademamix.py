"""AdEMAMix's moment blocks (Pagliardini et al., 2024; Morwani et al., 2025)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation, ScalarOrSchedule

__all__ = [
    "ScaleByAdemamixState",
    "ScaleBySimplifiedAdEMAMixState",
    "scale_by_ademamix",
    "scale_by_simplified_ademamix",
]


class ScaleByAdemamixState(NamedTuple):
    """State of :func:`scale_by_ademamix` (optax.contrib's fields).

    Attributes:
      count: int32 number of updates made (saturating); debiases ``m1``, ``nu``.
      count_m2: int32 step at which the ``b3`` and ``alpha`` schedules are
        read (equal to ``count``; kept apart as in optax.contrib).
      m1: fast EMA of gradients (decay ``b1``), dtype ``mu_dtype``.
      m2: slow EMA of gradients (decay ``b3``), dtype ``mu_dtype``.
      nu: EMA of ``|g|**2`` (decay ``b2``), dtype ``mu_dtype``.
    """

    count: jax.Array
    count_m2: jax.Array
    m1: Any
    m2: Any
    nu: Any


class ScaleBySimplifiedAdEMAMixState(NamedTuple):
    """State of :func:`scale_by_simplified_ademamix`.

    Attributes:
      count: int32 number of updates made (saturating); optax.contrib calls
        it ``t``.
      m: the undamped accumulator ``b1 * m + g``.
      n: EMA of ``|g|**2`` (decay ``b2``).
    """

    count: jax.Array
    m: Any
    n: Any


def _check_schedule_or(name: str, value: Any, check) -> None:
    """``check(name, value)`` unless ``value`` is a schedule (read per step)."""
    if not callable(value):
        check(name, value)


def _at(value: ScalarOrSchedule, count: jax.Array) -> Any:
    return value(count) if callable(value) else value


def scale_by_ademamix(
    b1: float = 0.9,
    b2: float = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 6.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """AdEMAMix's direction: Adam with a second, slow momentum mixed in.

    Pagliardini, Ablin & Grangier, 2024, "The AdEMAMix Optimizer: Better,
    Faster, Older". With ``t`` the number of updates including this one and
    ``b3``, ``alpha`` read at step ``t - 1`` when they are schedules::

        m1 <- b1 * m1 + (1 - b1) * g           (fast EMA, debiased)
        m2 <- b3 * m2 + (1 - b3) * g           (slow EMA, not debiased)
        nu <- b2 * nu + (1 - b2) * |g|**2
        u = (m1 / (1 - b1**t) + alpha * m2) / (sqrt(nu / (1 - b2**t) + eps_root) + eps)

    The slow EMA (``b3 = 0.9999`` keeps ~10k steps of gradients) lets old
    gradients keep pulling; the paper warms ``alpha`` up linearly and ``b3``
    along its log-scheduler over the first steps to avoid early instability:
    pass them as schedules. The default ``alpha`` is 6 here and 5 in
    :func:`lrjax.ademamix`, as in optax.contrib. Arithmetic runs in at least
    float32; for complex parameters ``nu`` is the EMA of ``|g|**2``.

    The output is the *ascent* direction; chain
    :func:`lrjax.scale_by_learning_rate` after it.

    Args:
      b1: fast-EMA decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      b3: slow-EMA decay, in ``[0, 1]``, or a schedule. Default 0.9999.
      alpha: weight of the slow EMA, ``>= 0``, or a schedule. Default 6.
      eps: added to the denominator outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      mu_dtype: dtype of ``m1``, ``m2`` and ``nu`` (default: the parameter's).

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByAdemamixState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_ademamix()
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> state.m2  # (1 - b3) * g: the slow EMA has barely moved
        Array([ 5.e-05, -2.e-04], dtype=float32)
        >>> [round(float(u), 4) for u in updates]  # (1 + alpha * (1 - b3)) * g / |g|
        [1.0006, -1.0006]
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    _check_schedule_or("b3", b3, lambda n, v: val.check_in_range(n, v, 0.0, 1.0))
    _check_schedule_or("alpha", alpha, val.check_non_negative)
    val.check_non_negative("eps", eps)
    val.check_non_negative("eps_root", eps_root)
    val.check_dtype("mu_dtype", mu_dtype)

    def init_fn(params):
        return ScaleByAdemamixState(
            num.zero_count(),
            num.zero_count(),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, mu_dtype, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_ademamix", updates, state.m1)
        b3_t, alpha_t = _at(b3, state.count_m2), _at(alpha, state.count_m2)
        count = num.safe_increment(state.count)
        m1_corr = num.bias_correction(b1, count)
        nu_corr = num.bias_correction(b2, count)

        def step(g, m1, m2, v):
            g = jnp.asarray(g)
            gc, m1_new, m2_new = num.upcast(g, m1, m2)
            v_new, g_sq = num.upcast(num.real_part(v), num.abs_sq(gc))
            m1_new = b1 * m1_new + (1 - b1) * gc
            m2_new = b3_t * m2_new + (1 - b3_t) * gc
            v_new = b2 * v_new + (1 - b2) * g_sq
            denom = jnp.sqrt(v_new * nu_corr + eps_root) + eps
            u = (m1_new * m1_corr + alpha_t * m2_new) / denom
            out = num.cast(u, num.update_dtype(g, m1.dtype))
            return (
                out,
                m1_new.astype(m1.dtype),
                m2_new.astype(m2.dtype),
                v_new.astype(v.dtype),
            )

        out = jax.tree_util.tree_map(step, updates, state.m1, state.m2, state.nu)
        updates, m1, m2, nu = num.tree_unzip(updates, out, 4)
        count_m2 = num.safe_increment(state.count_m2)
        return updates, ScaleByAdemamixState(count, count_m2, m1, m2, nu)

    return GradientTransformation(init_fn, update_fn)


def scale_by_simplified_ademamix(
    b1: float = 0.99,
    b2: float = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
) -> GradientTransformation:
    """Simplified AdEMAMix: one undamped momentum plus ``alpha`` times ``g``.

    Morwani et al., 2025, "Connections between Schedule-Free Optimizers,
    AdEMAMix, and Accelerated SGD Variants". With ``t`` the number of updates
    including this one and ``alpha`` read at step ``t - 1``::

        m <- b1 * m + g                       (no (1 - b1) factor)
        n <- b2 * n + (1 - b2) * |g|**2
        u = (m + alpha * g) / (sqrt(n / (1 - b2**t) + eps_root) + eps)

    With ``alpha = 0`` this is Adam with the rate scaled by ``1 / (1 - b1)``
    and no first-moment debiasing. For complex parameters ``n`` is the EMA
    of ``|g|**2`` (optax.contrib squares ``g`` itself there, which is not
    a magnitude). Arithmetic runs in at least float32.

    Args:
      b1: momentum decay, in ``[0, 1)``. Default 0.99.
      b2: second-moment decay, in ``[0, 1)``. Default 0.95.
      alpha: weight of the current gradient, ``>= 0``, or a schedule.
        Default 0.
      eps: added to the denominator outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleBySimplifiedAdEMAMixState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_simplified_ademamix(alpha=1.0)
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> updates  # m = g, n_hat = |g|**2: (1 + alpha) * g / |g|
        Array([ 2., -2.], dtype=float32)
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> state.m  # b1 * g + g: no (1 - b1) factor
        Array([ 0.995, -3.98 ], dtype=float32)
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    _check_schedule_or("alpha", alpha, val.check_non_negative)
    val.check_non_negative("eps", eps)
    val.check_non_negative("eps_root", eps_root)

    def init_fn(params):
        return ScaleBySimplifiedAdEMAMixState(
            num.zero_count(),
            num.tree_buffers(params),
            num.tree_buffers(params, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_simplified_ademamix", updates, state.m)
        alpha_t = _at(alpha, state.count)
        count = num.safe_increment(state.count)
        n_corr = num.bias_correction(b2, count)

        def step(g, m, n):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            n_new, g_sq = num.upcast(num.real_part(n), num.abs_sq(gc))
            m_new = b1 * m_new + gc
            n_new = b2 * n_new + (1 - b2) * g_sq
            u = (m_new + alpha_t * gc) / (jnp.sqrt(n_new * n_corr + eps_root) + eps)
            out = num.cast(u, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), n_new.astype(n.dtype)

        out = jax.tree_util.tree_map(step, updates, state.m, state.n)
        updates, m, n = num.tree_unzip(updates, out, 3)
        return updates, ScaleBySimplifiedAdEMAMixState(count, m, n)

    return GradientTransformation(init_fn, update_fn)
