"""AdaGrad's block (Duchi et al., 2011): the root of the sum of squared gradients.

Computes in at least float32 (float16 squares of small gradients underflow)
and stores in ``nu_dtype``. Complex gradients are squared by modulus,
``|g|**2``; the sum is real, kept in the parameter's (complex) dtype by
default, as optax keeps it.
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

__all__ = ["ScaleByRssState", "scale_by_rss"]


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
    nu_dtype: DTypeLike | None = None,
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_rss(initial_accumulator_value=0.0)
        >>> state = block.init(jnp.zeros(2))
        >>> g = jnp.array([0.5, -2.0])
        >>> updates, state = block.update(g, state)
        >>> [round(float(u), 4) for u in updates]  # g / sqrt(g**2)
        [1.0, -1.0]
        >>> updates, state = block.update(g, state)
        >>> [round(float(u), 4) for u in updates]  # g / sqrt(2 g**2)
        [0.7071, -0.7071]
        >>> state.sum_of_squares
        Array([0.5, 8. ], dtype=float32)
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
            g_c, s = second_moment_inputs(g, s_old)
            s = s + num.abs_sq(g_c)
            # The guard keeps 0 / 0 out; a NaN gradient still gives NaN via `* g`.
            scale = jnp.where(s > 0, inv_root(s, eps, eps_in_sqrt), 0.0)
            return num.cast(g_c * scale, num.update_dtype(g, s_old.dtype)), s.astype(
                s_old.dtype
            )

        out = jax.tree_util.tree_map(step, updates, state.sum_of_squares)
        updates, sum_of_squares = num.tree_unzip(updates, out, 2)
        return updates, ScaleByRssState(sum_of_squares)

    return GradientTransformation(init_fn, update_fn)
