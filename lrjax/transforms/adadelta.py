"""AdaDelta's block (Zeiler, 2012): RMS of past updates over RMS of gradients.

Computes in at least float32 and stores both averages in ``nu_dtype``.
Complex gradients are squared by modulus, ``|g|**2``; the averages are real,
kept in the parameter's (complex) dtype by default, as optax keeps them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation
from lrjax.transforms._moments import second_moment_inputs

__all__ = ["ScaleByAdaDeltaState", "scale_by_adadelta"]


class ScaleByAdaDeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`.

    Attributes:
      e_g: ``E[g**2]``, EMA of squared gradients, dtype ``nu_dtype``.
      e_x: ``E[dx**2]``, EMA of squared updates, dtype ``nu_dtype``.
    """

    e_g: Any
    e_x: Any


def scale_by_adadelta(
    rho: float = 0.9, eps: float = 1e-6, *, nu_dtype: DTypeLike | None = None
) -> GradientTransformation:
    """AdaDelta: the ratio of the RMS of past updates to the RMS of gradients.

    Zeiler's Algorithm 1, with ``RMS[y] = sqrt(E[|y|**2] + eps)`` and both
    averages starting at 0::

        E[g**2] <- rho * E[g**2] + (1 - rho) * |g|**2
        dx = RMS[dx]_{t-1} / RMS[g]_t * g
        E[dx**2] <- rho * E[dx**2] + (1 - rho) * |dx|**2

    Complex gradients are squared by modulus, so ``dx`` keeps the direction
    of ``g``. optax 0.2.8's ``scale_by_adadelta`` squares complex numbers
    (``g**2``), which rotates the step off the gradient; lrjax deliberately
    differs there (real parameters agree).

    The output is ``dx`` (positive along the gradient; the optimizer's
    learning-rate block flips the sign). ``E[dx**2]`` tracks ``dx`` before
    any learning rate is applied, as in optax, PyTorch and Keras. ``eps`` sits
    inside both roots and is also the first step's size (``sqrt(eps)/RMS[g]``),
    so it must be positive.

    Args:
      rho: decay of both averages, in ``[0, 1)``. Default 0.9.
      eps: ``> 0``. Default 1e-6.
      nu_dtype: dtype of ``e_g`` and ``e_x`` (default: the parameter's).
        lrjax addition.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByAdaDeltaState`.

    References:
      Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_adadelta()
        >>> state = block.init(jnp.zeros(2))
        >>> updates, state = block.update(jnp.array([0.5, -2.0]), state)
        >>> # sqrt(eps) * g / sqrt((1 - rho) g**2 + eps), about 0.00316 * sign(g)
        >>> [round(float(u), 6) for u in updates]
        [0.003162, -0.003162]
    """
    val.check_in_range("rho", rho, 0.0, 1.0, high_inclusive=False)
    val.check_positive("eps", eps)
    val.check_dtype("nu_dtype", nu_dtype)

    def init_fn(params):
        return ScaleByAdaDeltaState(
            e_g=num.tree_buffers(params, nu_dtype, holds_real=True),
            e_x=num.tree_buffers(params, nu_dtype, holds_real=True),
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_adadelta", updates, state.e_g)

        def step(g, e_g_old, e_x_old):
            g = jnp.asarray(g)
            g_c, e_g = second_moment_inputs(g, e_g_old)
            _, e_x = second_moment_inputs(g, e_x_old)
            e_g = rho * e_g + (1 - rho) * num.abs_sq(g_c)
            dx = jnp.sqrt(e_x + eps) * jax.lax.rsqrt(e_g + eps) * g_c
            e_x = rho * e_x + (1 - rho) * num.abs_sq(dx)
            return (
                num.cast(dx, num.update_dtype(g, e_g_old.dtype)),
                e_g.astype(e_g_old.dtype),
                e_x.astype(e_x_old.dtype),
            )

        out = jax.tree_util.tree_map(step, updates, state.e_g, state.e_x)
        updates, e_g, e_x = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdaDeltaState(e_g, e_x)

    return GradientTransformation(init_fn, update_fn)
