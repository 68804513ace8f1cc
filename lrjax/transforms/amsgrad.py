"""AMSGrad's moment block (Reddi, Kale & Kumar, 2018): a non-decreasing denominator.

As :func:`lrjax.scale_by_adam`: one fused per-leaf step, arithmetic in at
least float32, moments stored in ``mu_dtype``/``nu_dtype``, the update
returned in the gradient's dtype. Complex parameters get a complex ``m`` and
real second moments (``|g|**2``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation
from lrjax.transforms._moments import adam_moments, check_adam_args

__all__ = ["ScaleByAmsgradState", "scale_by_amsgrad"]


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


def scale_by_amsgrad(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    nu_dtype: DTypeLike | None = None,
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_amsgrad()
        >>> state = block.init(jnp.zeros(1))
        >>> updates, state = block.update(jnp.array([2.0]), state)
        >>> updates, state = block.update(jnp.array([0.5]), state)
        >>> [round(float(v), 4) for v in state.nu_max]  # step 1's v_hat = 2.0**2
        [4.0]
        >>> [round(float(u), 4) for u in updates]  # m_hat / 2 = (0.23 / 0.19) / 2
        [0.6053]
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
