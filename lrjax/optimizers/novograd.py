"""NovoGrad (Ginsburg et al., 2019) as a chain of blocks."""

from __future__ import annotations

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.novograd import scale_by_novograd
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["novograd"]


@checks_state
def novograd(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.25,
    eps: float = 1e-6,
    eps_root: float = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
) -> GradientTransformationExtraArgs:
    """NovoGrad (Ginsburg et al., 2019, "Stochastic Gradient Methods with
    Layer-wise Adaptive Moments for Training of Deep Networks").

    Adam-like, with one second moment per layer (parameter leaf), of the
    leaf's squared gradient norm, and the weight decay inside the momentum::

        nu <- b2 * nu + (1 - b2) * ||g||**2         (nu = ||g||**2 at step 1)
        mu <- b1 * mu + g / (sqrt(nu + eps_root) + eps) + weight_decay * w
        w <- w - lr * mu

    Robust to the initial rate and initialisation; used for Jasper (Li et al.,
    2019). PyTorch core and Keras have no NovoGrad (NVIDIA NeMo's
    ``Novograd(lr, betas=(b1, b2), eps, weight_decay)`` is the same method,
    with ``grad_averaging=False``).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: momentum decay, in ``[0, 1)``. Default 0.9.
      b2: per-layer second-moment decay, in ``[0, 1)``. Default 0.25.
      eps: added outside the square root, ``>= 0``. Default 1e-6.
      eps_root: added inside the square root, ``>= 0``. Default 0.
      weight_decay: ``>= 0`` or a schedule. Default 0.

    Returns:
      ``chain(scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.novograd(learning_rate=0.1, eps=0.0)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([3.0, 4.0])}, state, params)
        >>> updates["w"]  # nu = ||g||**2 = 25: -lr * g / 5
        Array([-0.06      , -0.08000001], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_novograd(
            b1=b1, b2=b2, eps=eps, eps_root=eps_root, weight_decay=weight_decay
        ),
        scale_by_learning_rate(learning_rate),
    )
