"""Lion: evolved sign momentum (Chen et al., 2023)."""

from __future__ import annotations

from typing import Any

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.sign import scale_by_lion
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["lion"]


@elementwise_constructor(mask_args=("mask",))
def lion(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.99,
    mu_dtype: DTypeLike | None = None,
    weight_decay: ScalarOrSchedule = 1e-3,
    mask: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms").

    Only a momentum is kept; every coordinate moves by exactly ``lr`` (plus
    decay)::

        c = b1 * m + (1 - b1) * g
        w <- w - lr * (sign(c) + weight_decay * w)
        m <- b2 * m + (1 - b2) * g

    Because ``|sign(c)| = 1`` the update norm is larger than Adam's: the paper
    suggests a learning rate 3-10x smaller than AdamW's and a weight decay
    3-10x larger. The decay is multiplied by the full learning rate (as in
    PyTorch and Keras), not by a schedule multiplier only.

    Keras: ``keras.optimizers.Lion(learning_rate, beta_1=b1, beta_2=b2,
    weight_decay=weight_decay)`` (Keras's default ``weight_decay`` is None,
    i.e. 0). PyTorch core has no Lion.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: interpolation weight of the momentum, in ``[0, 1]``. Default 0.9.
      b2: momentum decay, in ``[0, 1)``. Default 0.99.
      mu_dtype: dtype of the momentum (default: the param's).
      weight_decay: decoupled decay, ``>= 0`` or a schedule. Default 1e-3.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_lion(b1, b2, mu_dtype), add_decayed_weights(weight_decay,
      mask), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.lion(learning_rate=0.1, weight_decay=0.5)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, 0.5])}, state, params)
        >>> updates["w"]  # -lr * (sign(c) + wd * w) = -0.1 * [1 + 0.5, 1 - 1]
        Array([-0.15, -0.  ], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_lion(b1, b2, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
