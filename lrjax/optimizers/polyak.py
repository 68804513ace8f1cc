"""SGD with Polyak's step size (Loizou et al., 2021)."""

from __future__ import annotations

from typing import Literal

from jax.typing import ArrayLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.polyak import scale_by_polyak
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["polyak_sgd"]


@checks_state
def polyak_sgd(
    max_learning_rate: ArrayLike = 1.0,
    scaling: ScalarOrSchedule = 1.0,
    f_min: ArrayLike = 0.0,
    eps: ArrayLike = 0.0,
    variant: Literal["sps", "sps+"] = "sps",
) -> GradientTransformationExtraArgs:
    """SGD with the stochastic Polyak step size (Loizou et al., 2021;
    Berrada et al., 2020; "sps+": Garrigos et al., 2023)::

        gamma = s * min((f - f_min) / (||g||**2 + eps), max_learning_rate)
        w <- w - gamma * g

    with the loss ``f`` passed as ``update(grads, state, params, value=f)``
    (``jax.value_and_grad`` gives both) and ``s = scaling`` (a number or a
    schedule). ``f_min`` must be a lower bound of the loss (0 for models that
    interpolate their data); a wrong one makes the steps too long or short.
    :func:`lrjax.get_learning_rate` reports ``gamma``, the rate applied.

    ``s`` multiplies the step as in optax's documented formula. (optax 0.2.8
    chains ``sgd(scaling)`` before ``scale_by_polyak``, whose norm then sees
    ``s * g``: its step is ``min(gap / (s * ||g||**2), s * max_learning_rate)``
    for ``eps = 0``, the same as the formula only for ``s = 1``.) PyTorch and
    Keras have no equivalent.

    Args:
      max_learning_rate: the cap ``gamma_max``, ``>= 0``. Default 1.
      scaling: ``s``, a number ``>= 0`` or a schedule. Default 1.
      f_min: a lower bound of the loss, a real number. Default 0.
      eps: added to ``||g||**2``, ``>= 0``. Default 0.
      variant: ``"sps"``, or ``"sps+"`` to use ``max(f - f_min, 0)``.

    Returns:
      ``chain(scale_by_polyak(f_min, max_learning_rate, eps, variant),
      scale_by_learning_rate(scaling))``, whose ``update`` requires
      ``value=``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> def loss(params):
        ...     return 0.5 * jnp.sum(params["w"] ** 2)
        >>> tx = lrjax.polyak_sgd(max_learning_rate=10.0)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> value, grads = jax.value_and_grad(loss)(params)
        >>> updates, state = tx.update(grads, state, params, value=value)
        >>> print(lrjax.get_learning_rate(state))  # (f - 0) / ||g||**2 = 2.5 / 5
        0.5
        >>> updates["w"]  # -0.5 * g: halfway to the minimum
        Array([-0.5,  1. ], dtype=float32)
    """
    val.check_learning_rate("scaling", scaling)
    return chain(
        scale_by_polyak(f_min, max_learning_rate, eps, variant),
        scale_by_learning_rate(scaling),
    )
