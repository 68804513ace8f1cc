"""SGD with Polyak's step size (Loizou et al., 2021)."""

from __future__ import annotations

from typing import Literal

import jax

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
    max_learning_rate: float | jax.Array = 1.0,
    scaling: ScalarOrSchedule = 1.0,
    f_min: float | jax.Array = 0.0,
    eps: float | jax.Array = 0.0,
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
    """
    val.check_learning_rate("scaling", scaling)
    return chain(
        scale_by_polyak(f_min, max_learning_rate, eps, variant),
        scale_by_learning_rate(scaling),
    )
