"""Polyak's step size from the loss value (stochastic Polyak step, SPS)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs

__all__ = ["ScaleByPolyakState", "scale_by_polyak"]

_VARIANTS = ("sps", "sps+")


class ScaleByPolyakState(NamedTuple):
    """State of :func:`scale_by_polyak`.

    Attributes:
      learning_rate: the Polyak step size applied at the latest update (0
        before the first), a scalar of :func:`lrjax._numerics.float_dtype`;
        :func:`lrjax.get_learning_rate` reads it.
    """

    learning_rate: jax.Array


def scale_by_polyak(
    f_min: ArrayLike = 0.0,
    max_learning_rate: ArrayLike = 1.0,
    eps: ArrayLike = 0.0,
    variant: Literal["sps", "sps+"] = "sps",
) -> GradientTransformationExtraArgs:
    """Multiplies the gradient by Polyak's step size, computed from the loss.

    Stochastic Polyak step (Loizou et al., 2021, "Stochastic Polyak Step-size
    for SGD: An Adaptive Learning Rate for Fast Convergence"; Berrada et al.,
    2020), from the loss value ``f`` passed as ``update(..., value=f)``::

        gap = f - f_min                ("sps+": max(f - f_min, 0), Garrigos
                                        et al., 2023)
        gamma = min(gap / (||g||**2 + eps), max_learning_rate)
        u = gamma * g

    ``||g||`` is the L2 norm of the whole tree (the modulus for complex
    leaves), summed in at least float32. Where ``||g||**2 + eps`` is within
    float64's machine epsilon of 0, ``gamma = 0`` (as optax). The step size
    applied is kept in the state's ``learning_rate``. The output is the
    *ascent* direction: chain :func:`lrjax.scale_by_learning_rate` after it
    (as :func:`lrjax.polyak_sgd` does).

    Args:
      f_min: a lower bound of the loss (``f*``), a real number. Default 0,
        right for models that interpolate their data.
      max_learning_rate: the cap ``gamma_max``, ``>= 0``. Default 1.
      eps: added to ``||g||**2``, ``>= 0``. Default 0.
      variant: ``"sps"`` or ``"sps+"``. Default ``"sps"``.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`ScaleByPolyakState`,
      whose ``update`` requires the keyword ``value``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_polyak(f_min=0.0, max_learning_rate=10.0)
        >>> g = {"w": jnp.array([1.0, -2.0])}  # ||g||**2 = 5
        >>> updates, state = tx.update(g, tx.init(g), value=2.5)
        >>> updates["w"]  # gamma * g with gamma = (2.5 - 0) / 5
        Array([ 0.5, -1. ], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.5
    """
    val.check_number("f_min", f_min)
    val.check_non_negative("max_learning_rate", max_learning_rate)
    val.check_non_negative("eps", eps)
    val.check_one_of("variant", variant, _VARIANTS)

    def init_fn(params):
        del params
        return ScaleByPolyakState(jnp.zeros([], num.float_dtype()))

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError(
                "scale_by_polyak needs the loss: call update(updates, state, "
                "params, value=loss)."
            )
        dtype = num.float_dtype()
        leaves = jax.tree_util.tree_leaves(updates)
        sq_norm = sum(
            (jnp.sum(num.abs_sq(num.upcast(x)[0])).astype(dtype) for x in leaves),
            jnp.zeros([], dtype),
        )
        gap = jnp.asarray(value, dtype) - jnp.asarray(f_min, dtype)
        if variant == "sps+":
            gap = jnp.maximum(gap, 0.0)
        denominator = sq_norm + jnp.asarray(eps, dtype)
        safe = jnp.where(denominator > 0, denominator, 1.0)
        step = jnp.where(
            denominator <= jnp.finfo(jnp.float64).eps,
            jnp.zeros([], dtype),
            jnp.minimum(gap / safe, jnp.asarray(max_learning_rate, dtype)),
        ).astype(dtype)

        def scaled(g):
            g = jnp.asarray(g)
            gc, s = num.upcast(g, step)
            return num.keep_weak((gc * s).astype(g.dtype), g)

        return jax.tree_util.tree_map(scaled, updates), ScaleByPolyakState(step)

    return GradientTransformationExtraArgs(init_fn, update_fn)
