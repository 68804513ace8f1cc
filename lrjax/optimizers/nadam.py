"""NAdam and NAdamW (Dozat, 2016): Adam with Nesterov momentum, in optax's form."""

from __future__ import annotations

from typing import Any

from jax.typing import DTypeLike

from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    elementwise_constructor,
)
from lrjax.optimizers.adam import adam, adamw

__all__ = ["nadam", "nadamw"]


@elementwise_constructor()
def nadam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = True,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, in optax's form.

    :func:`lrjax.adam` with ``nesterov=True``. With ``t`` counting from 1::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g**2
        m_hat = b1 * m / (1 - b1**(t+1)) + (1 - b1) * g / (1 - b1**t)
        w <- w - lr * m_hat / (sqrt(v / (1 - b2**t) + eps_root) + eps)

    PyTorch's ``torch.optim.NAdam`` and Keras's ``Nadam`` follow Dozat's
    momentum *schedule* instead: ``b1`` is replaced at step ``t`` by
    ``mu_t = b1 * (1 - 0.5 * 0.96**(0.004 t))`` and the debiasing uses
    ``prod(mu_1..mu_t)``. lrjax follows optax (constant ``b1``); the two
    differ mainly in the first few thousand steps.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`lrjax.adam`.
      nesterov: ``False`` gives plain Adam. Default True.

    Returns:
      ``chain(scale_by_adam(..., nesterov=True), scale_by_learning_rate(...))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.nadam(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # first step: m_hat = (1 + b1 / (1 + b1)) * g, so -lr * 1.4737 * sign(g)
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.1474, 0.1474]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    return adam(
        learning_rate,
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        nesterov=nesterov,
        nu_dtype=nu_dtype,
    )


@elementwise_constructor(mask_args=("mask",))
def nadamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | None = None,
    *,
    nesterov: bool = True,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """NAdamW: :func:`nadam` with decoupled weight decay.

    ``w <- w - lr * (nadam_direction + weight_decay * w)``: :func:`lrjax.adamw`
    with ``nesterov=True``. PyTorch: ``torch.optim.NAdam(...,
    weight_decay=wd, decoupled_weight_decay=True)``, with PyTorch's momentum
    schedule (see :func:`nadam`).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype: as in :func:`nadam`.
      weight_decay: ``>= 0`` or a schedule. Default 1e-4.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_adam(..., nesterov=True), add_decayed_weights(...),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.nadamw(learning_rate=0.1, weight_decay=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # -lr * (1.4737 * sign(g) + weight_decay * w), as in lrjax.nadam
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.1574, 0.1674]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    return adamw(
        learning_rate,
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        weight_decay,
        mask,
        nesterov=nesterov,
        nu_dtype=nu_dtype,
    )
