"""AdaBelief (Zhuang et al., 2020): Adam's step scaled by belief in the gradient."""

from __future__ import annotations

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.adabelief import scale_by_belief
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["adabelief"]


@elementwise_constructor()
def adabelief(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
    *,
    nesterov: bool = False,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """AdaBelief (Zhuang et al., 2020): steps scaled by belief in the gradient.

    With ``t`` counting updates from 1::

        m <- b1 * m + (1 - b1) * g
        s <- b2 * s + (1 - b2) * (g - m)**2 + eps_root
        w <- w - lr * (m / (1 - b1**t)) / (sqrt(s / (1 - b2**t)) + eps)

    A gradient close to its prediction ``m`` gives a small ``s`` and a large
    step. Defaults are optax's (``eps = eps_root = 1e-16``). The paper's
    algorithm adds one constant to ``s`` and to the denominator: pass
    ``eps = eps_root``. No PyTorch or Keras built-in; the authors'
    ``adabelief_pytorch.AdaBelief(lr, betas, eps, weight_decouple=False,
    rectify=False)`` is this update with ``eps_root = eps``.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: decay of the prediction-error moment in ``[0, 1)``. Default 0.999.
      eps: outside the square root, ``>= 0``. Default 1e-16.
      eps_root: added to ``s`` every step, ``>= 0``. Default 1e-16.
      nesterov: NAdam-style momentum. Default False.
      mu_dtype, nu_dtype: dtypes of ``m`` and ``s`` (default: the param's).
        lrjax additions.

    Returns:
      ``chain(scale_by_belief(...), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adabelief(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> updates["w"]  # g - m = b1 * g on step 1, so -lr * sign(g) / b1
        Array([-0.11111112,  0.11111112], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_belief(
            b1,
            b2,
            eps,
            eps_root,
            nesterov=nesterov,
            mu_dtype=mu_dtype,
            nu_dtype=nu_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )
