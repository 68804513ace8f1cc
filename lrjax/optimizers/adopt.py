"""ADOPT (Taniguchi et al., 2024): Adam normalised by the previous second moment."""

from __future__ import annotations

from collections.abc import Callable

import jax
from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.adopt import default_clip, scale_by_adopt
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["adopt"]


@checks_state
def adopt(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] | float = default_clip,
) -> GradientTransformationExtraArgs:
    """ADOPT (Taniguchi et al., NeurIPS 2024), as ``optax.contrib.adopt``.

    "ADOPT: Modified Adam Can Converge with Any beta2 with the Optimal
    Rate". With ``k`` the number of earlier updates::

        k = 0:  v <- |g|**2;  w unchanged
        k > 0:  r = clip(g / max(sqrt(v), eps), -k**0.25, k**0.25)
                m <- b1 * m + (1 - b1) * r
                v <- b2 * v + (1 - b2) * |g|**2
                w <- w - lr * m

    The normalisation uses the second moment of the *previous* steps, so it
    is independent of the current gradient (the paper's fix of Adam's
    non-convergence for small ``b2``). See :func:`lrjax.scale_by_adopt` for
    ``nesterov``, ``use_clipping`` and ``clip_value_fn``.

    PyTorch core and Keras have no ADOPT (the authors' ``adopt`` package
    provides ``ADOPT(params, lr, betas=(0.9, 0.9999), eps=1e-6)``).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: momentum decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.9999.
      eps: lower bound of ``sqrt(v)``, ``>= 0``. Default 1e-6.
      mu_dtype: dtype of the momentum (default: the param's).
      nesterov: Nesterov form of the momentum. Default False.
      use_clipping: clip the normalised gradient. Default True.
      clip_value_fn: ``step -> bound``. Default ``step**0.25``.

    Returns:
      ``chain(scale_by_adopt(...), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adopt(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> grads = {"w": jnp.array([0.5, -0.5])}
        >>> updates, state = tx.update(grads, state, params)
        >>> updates["w"]  # the first step only initialises v
        Array([-0., -0.], dtype=float32)
        >>> updates, state = tx.update(grads, state, params)
        >>> updates["w"]  # -lr * (1 - b1) * g / sqrt(v), v = g**2 from step 1
        Array([-0.01,  0.01], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adopt(
            b1,
            b2,
            eps,
            mu_dtype,
            nesterov=nesterov,
            use_clipping=use_clipping,
            clip_value_fn=clip_value_fn,
        ),
        scale_by_learning_rate(learning_rate),
    )
