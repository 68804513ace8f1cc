"""MADGRAD (Defazio & Jelassi, 2021): momentumized, adaptive dual averaging."""

from __future__ import annotations

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.madgrad import scale_by_madgrad
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["madgrad"]


@checks_state
def madgrad(
    learning_rate: ScalarOrSchedule,
    momentum: float = 0.9,
    weight_decay: ScalarOrSchedule = 0.0,
    eps: float = 1e-6,
) -> GradientTransformationExtraArgs:
    """MADGRAD (Defazio & Jelassi, 2021), as ``optax.contrib.madgrad``.

    "Adaptivity without Compromise: A Momentumized, Adaptive, Dual Averaged
    Gradient Method for Stochastic Optimization". With ``k`` the number of
    earlier updates, ``x_0`` the parameters at ``init`` and ``g`` the
    gradient plus ``weight_decay * x`` (coupled L2, as in the paper)::

        lam = (lr + eps) * sqrt(k + 1)
        s <- s + lam * g;   v <- v + lam * |g|**2
        z = x_0 - s / (cbrt(v) + eps)
        x <- momentum * x + (1 - momentum) * z

    The learning rate enters inside the dual-averaging ratio, so the chain
    ends in :func:`lrjax.scale_by_madgrad`, which keeps the rate in its
    ``learning_rate`` field for :func:`lrjax.get_learning_rate`. The state
    holds a copy of the initial parameters. PyTorch core and Keras have no
    MADGRAD (the authors' ``madgrad`` package provides
    ``MADGRAD(params, lr=1e-2, momentum=0.9, weight_decay=0, eps=1e-6)``).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      momentum: weight of the current iterate, in ``[0, 1)``. Default 0.9.
      weight_decay: L2 coefficient added to the gradient, ``>= 0`` or a
        schedule. Default 0.
      eps: added to the rate and to ``cbrt(v)``, ``>= 0``. Default 1e-6.

    Returns:
      ``chain(add_decayed_weights(weight_decay), scale_by_madgrad(...))``;
      its ``update`` needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.madgrad(learning_rate=0.001)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
        >>> # first step: -(1 - momentum) * lam * g / cbrt(lam * g**2), lam = lr + eps
        >>> [round(float(u), 5) for u in updates["w"]]
        [-0.001, 0.001]
        >>> print(lrjax.get_learning_rate(state))
        0.001
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_madgrad(learning_rate, momentum, eps),
    )
