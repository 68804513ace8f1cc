"""AdaDelta (Zeiler, 2012): steps sized by the RMS of past steps, no rate needed.

Accepts complex parameters (squares are ``|g|**2``; the averages are real,
kept in the parameter's dtype as optax keeps them) and float16/bfloat16 ones
(arithmetic in at least float32, state stored in the declared dtype).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.adadelta import scale_by_adadelta
from lrjax.transforms.scaling import identity, scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["adadelta"]


@elementwise_constructor(mask_args=("weight_decay_mask",))
def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any | None = None,
    *,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """AdaDelta (Zeiler, 2012).

    With ``RMS[y] = sqrt(E[y**2] + eps)`` and both averages starting at 0::

        g <- g + weight_decay * w                 (L2 form, before the scaling)
        E[g**2] <- rho * E[g**2] + (1 - rho) * g**2
        dx = RMS[dx]_{t-1} / RMS[g]_t * g
        E[dx**2] <- rho * E[dx**2] + (1 - rho) * dx**2
        w <- w - lr * dx

    Complex gradients: the averages hold ``|g|**2`` and ``|dx|**2``. optax
    0.2.8 squares complex numbers here (``g**2``), so its complex steps differ.

    .. warning:: **``learning_rate=None`` differs from optax.** In lrjax it
       means a rate of 1.0 (Zeiler's method has no rate) and still descends:
       ``lrjax.adadelta(None)`` is ``optax.adadelta(1.0)``. optax's ``None``
       applies ``+dx`` without the sign flip, so ``optax.adadelta()`` climbs
       the gradient.

    PyTorch: ``torch.optim.Adadelta(lr, rho, eps, weight_decay)`` is
    ``lrjax.adadelta(lr, rho, eps, weight_decay)`` (PyTorch's defaults:
    ``lr=1.0``, ``rho=0.9``, ``eps=1e-6``, both with eps inside the roots,
    weight decay added to the gradient). Keras:
    ``keras.optimizers.Adadelta(learning_rate, rho, epsilon)`` is
    ``lrjax.adadelta(learning_rate, rho, epsilon)`` (Keras's defaults:
    ``learning_rate=1e-3``, ``rho=0.95``, ``epsilon=1e-7``).

    Args:
      learning_rate: a number ``>= 0``, a schedule, or ``None`` for 1.0.
        Default None.
      rho: decay of both averages, in ``[0, 1)``. Default 0.9.
      eps: ``> 0``. Default 1e-6.
      weight_decay: L2 coefficient ``>= 0`` or a schedule. Default 0.
      weight_decay_mask: tree of bools or callable ``params -> tree`` marking
        the decayed params; ``None`` decays all.
      nu_dtype: dtype of both averages (default: the param's). lrjax addition.

    Returns:
      ``chain(add_decayed_weights(weight_decay, weight_decay_mask),
      scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adadelta()
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # -sqrt(eps) * g / sqrt((1 - rho) g**2 + eps), about -0.00316 * sign(g)
        >>> [round(float(u), 6) for u in updates["w"]]
        [-0.003162, 0.003162]
        >>> print(lrjax.get_learning_rate(state))  # None means a rate of 1
        1.0
    """
    val.check_learning_rate("learning_rate", learning_rate, allow_none=True)
    val.check_learning_rate("weight_decay", weight_decay)
    no_decay = val.is_checkable(weight_decay) and not np.any(weight_decay)
    return chain(
        # Without decay, skip the block so that `update` needs no params.
        identity()
        if no_decay
        else add_decayed_weights(
            weight_decay, weight_decay_mask, mask_name="weight_decay_mask"
        ),
        scale_by_adadelta(rho, eps, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )
