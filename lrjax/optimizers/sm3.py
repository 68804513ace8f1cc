"""SM3 (Anil et al., 2019) as a chain of blocks."""

from __future__ import annotations

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.sm3 import scale_by_sm3

__all__ = ["sm3"]


@checks_state
def sm3(
    learning_rate: ScalarOrSchedule,
    momentum: float | None = 0.9,
) -> GradientTransformationExtraArgs:
    """SM3 (Anil et al., 2019, "Memory-Efficient Adaptive Optimization").

    Adagrad's per-element second moments, bounded by one accumulator per
    slice along each axis of a tensor (rows and columns of a matrix), so the
    optimizer state grows with ``sum(shape)`` rather than ``prod(shape)``::

        nu_i = min_{r covers i} mu(r) + g_i**2
        mu(r) <- max_{i in r} nu_i
        m <- momentum * m + (1 - momentum) * g / sqrt(nu + 1e-8)
        w <- w - lr * m

    Vectors get Adagrad exactly. ``momentum=None`` (or 0) uses none (optax
    0.2.8 documents ``None`` but fails on it). ``learning_rate`` may also be
    a schedule (optax's ``sm3`` takes a number only). PyTorch core and Keras
    have no SM3.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      momentum: momentum decay, in ``[0, 1)``, or ``None``. Default 0.9.

    Returns:
      ``chain(scale_by_sm3(momentum), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.sm3(learning_rate=0.1, momentum=None)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([3.0, -4.0])}, state, params)
        >>> updates["w"]  # a vector gets Adagrad: -lr * g / sqrt(g**2) = -lr * sign(g)
        Array([-0.1,  0.1], dtype=float32)
        >>> updates, state = tx.update({"w": jnp.array([4.0, 3.0])}, state, params)
        >>> updates["w"]  # -lr * g / sqrt(9 + 16), -lr * g / sqrt(16 + 9)
        Array([-0.08000001, -0.06      ], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    if momentum is not None:
        # scale_by_sm3 calls it `b1`: check it here under the user's name.
        val.check_in_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
    return chain(
        scale_by_sm3(0.0 if momentum is None else momentum),
        scale_by_learning_rate(learning_rate),
    )
