"""Adan (Xie et al., 2022): adaptive Nesterov momentum from gradient differences."""

from __future__ import annotations

from typing import Any

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.adan import scale_by_adan
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["adan"]


@checks_state
def adan(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.98,
    b2: float = 0.92,
    b3: float = 0.99,
    eps: float = 1e-8,
    eps_root: float = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Adan (Xie et al., 2022, "Adan: Adaptive Nesterov Momentum Algorithm").

    A Nesterov momentum estimated from the gradient and its last difference
    ``d = g_t - g_{t-1}``, without evaluating the gradient at an
    extrapolated point::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * d
        n <- b3 * n + (1 - b3) * (g + (1 - b2) * d)**2
        w <- w - lr * ((m_hat + (1 - b2) * v_hat) / (sqrt(n_hat + eps_root) + eps)
                       + weight_decay * w)

    with each average debiased (``x_hat = x / (1 - b**t)``). Weight decay is
    decoupled and added to the direction before the rate, as in optax (the
    paper applies it proximally, ``w / (1 + lr * weight_decay)``: the two
    agree to first order in ``lr * weight_decay``). ``b1, b2, b3`` weigh the
    old averages (the paper's ``beta_k`` is ``1 - b_k``: its 0.02, 0.08, 0.01).
    As in optax, the difference ``d`` is weighed by ``1 - b2`` where the paper
    weighs it by ``b2`` (see :func:`lrjax.scale_by_adan`).
    PyTorch core and Keras have no Adan.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: decay of the gradient average, in ``[0, 1)``. Default 0.98.
      b2: decay of the gradient-difference average, in ``[0, 1)``. Default 0.92.
      b3: decay of the squared-term average, in ``[0, 1)``. Default 0.99.
      eps: added outside the square root, ``>= 0``. Default 1e-8.
      eps_root: added inside the square root, ``>= 0``. Default 1e-8.
      weight_decay: decoupled decay, ``>= 0`` or a schedule. Default 0.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_adan(b1, b2, b3, eps, eps_root), add_decayed_weights(
      weight_decay, mask), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adan(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # no gradient difference yet: -lr * g / |g| on the first step
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.1, 0.1]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adan(b1=b1, b2=b2, b3=b3, eps=eps, eps_root=eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
