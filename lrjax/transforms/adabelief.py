"""AdaBelief's moment block (Zhuang et al., 2020): steps scaled by belief in ``g``.

As :func:`lrjax.scale_by_adam`: one fused per-leaf step, arithmetic in at
least float32, moments stored in ``mu_dtype``/``nu_dtype``. Complex
parameters get a complex ``m`` and a real second moment (``|g - m|**2``).
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
    check_adam_args,
    debiased_first_moment,
    first_moment_corrections,
    moments_init,
)

__all__ = ["ScaleByBeliefState", "scale_by_belief"]


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


def scale_by_belief(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
    *,
    nesterov: bool = False,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """Rescales updates by AdaBelief's "belief" in the gradient.

    Zhuang et al. (2020): the second moment tracks how far the gradient is
    from its prediction ``m``, not the gradient itself. With ``t`` counting
    updates from 1::

        m <- b1 * m + (1 - b1) * g
        s <- b2 * s + (1 - b2) * |g - m|**2 + eps_root
        u = (m / (1 - b1**t)) / (sqrt(s / (1 - b2**t)) + eps)

    ``eps_root`` is added to the stored ``s``, as in the paper's algorithm,
    where one constant serves as both ``eps`` and ``eps_root``. With
    ``nesterov=True`` the debiased momentum is
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.chain(lrjax.scale_by_belief(), lrjax.scale_by_learning_rate(0.1))
        >>> state = tx.init(jnp.zeros(2))
        >>> updates, state = tx.update(jnp.array([0.5, -2.0]), state)
        >>> updates  # g - m = b1 * g on the first step: -lr * sign(g) / b1
        Array([-0.11111112,  0.11111112], dtype=float32)
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
