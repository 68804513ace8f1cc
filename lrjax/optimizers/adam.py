"""Adam and its decoupled-weight-decay variant AdamW."""

from __future__ import annotations

from typing import Any

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.adam import scale_by_adam
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["adam", "adamw"]


@elementwise_constructor()
def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Adam (Kingma & Ba, 2015).

    With ``t`` counting updates from 1::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g**2
        w <- w - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t) + eps_root) + eps)

    PyTorch: ``torch.optim.Adam(lr, betas=(b1, b2), eps)``; Keras:
    ``keras.optimizers.Adam(learning_rate, beta_1=b1, beta_2=b2, epsilon=eps)``
    (Keras adds ``epsilon`` to the root of the *uncorrected* ``v``, so its
    ``epsilon`` equals lrjax's ``eps * sqrt(1 - b2**t)``; identical for eps=0).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: second-moment decay in ``[0, 1)``. Default 0.999.
      eps: outside the square root, ``>= 0``. Default 1e-8.
      eps_root: inside the square root, ``>= 0``. Default 0.
      mu_dtype: dtype of the first moment (default: the param's).
      nesterov: NAdam momentum (see :func:`lrjax.nadam`). Default False.
      nu_dtype: dtype of the second moment (default: the param's). lrjax addition.

    Returns:
      ``chain(scale_by_adam(...), scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adam(
            b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
        ),
        scale_by_learning_rate(learning_rate),
    )


@elementwise_constructor(mask_args=("mask",))
def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    ``w <- w - lr * (adam_direction + weight_decay * w)``; the decay is not
    divided by Adam's denominator (unlike L2 regularisation added to ``g``).

    PyTorch: ``torch.optim.AdamW(lr, betas, eps, weight_decay)`` (PyTorch's
    default ``weight_decay`` is 1e-2; optax's and lrjax's is 1e-4). Keras:
    ``keras.optimizers.AdamW`` (default 4e-3).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype: as in :func:`adam`.
      weight_decay: ``>= 0`` or a schedule. Default 1e-4.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask),
      scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adam(
            b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
