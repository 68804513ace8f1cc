"""Research optimizers from optax.contrib: ADOPT, AdEMAMix, MADGRAD."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs, ScalarOrSchedule, chain
from lrjax.transforms.adopt import _default_clip, scale_by_adopt
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["adopt"]


def adopt(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] | float = _default_clip,
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
