"""Adam, AdamW (Kingma & Ba, 2015; Loshchilov & Hutter, 2019) and Adamax(W).

Each is a short chain: a moment block, optionally decoupled weight decay,
then :func:`lrjax.scale_by_learning_rate` (which records the rate applied, so
:func:`lrjax.get_learning_rate` reads it from the state). Names, argument
order and defaults are optax's; lrjax's additions are keyword-only.
"""

from __future__ import annotations

from typing import Any

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.adam import scale_by_adam, scale_by_adamax
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["adam", "adamw", "adamax", "adamaxw"]


@elementwise_constructor()
def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Adam (Kingma & Ba, 2015).

    With ``t`` counting updates from 1::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g**2
        w <- w - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t) + eps_root) + eps)

    PyTorch: ``torch.optim.Adam(lr, betas=(b1, b2), eps)``; Keras:
    ``keras.optimizers.Adam(learning_rate, beta_1=b1, beta_2=b2, epsilon=eps)``
    (Keras adds ``epsilon`` to the root of the *uncorrected* ``v``, so its
    ``epsilon`` equals lrjax's ``eps * sqrt(1 - b2**t)``; identical for eps=0).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: second-moment decay in ``[0, 1)``. Default 0.999.
      eps: outside the square root, ``>= 0``. Default 1e-8.
      eps_root: inside the square root, ``>= 0``. Default 0.
      mu_dtype: dtype of the first moment (default: the param's).
      nesterov: NAdam momentum (see :func:`lrjax.nadam`). Default False.
      nu_dtype: dtype of the second moment (default: the param's). lrjax addition.

    Returns:
      ``chain(scale_by_adam(...), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adam(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> updates["w"]  # first step: -lr * g / (|g| + eps), about -lr * sign(g)
        Array([-0.1,  0.1], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adam(
            b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
        ),
        scale_by_learning_rate(learning_rate),
    )


@elementwise_constructor(mask_args=("mask",))
def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    ``w <- w - lr * (adam_direction + weight_decay * w)``; the decay is not
    divided by Adam's denominator (unlike L2 regularisation added to ``g``).

    PyTorch: ``torch.optim.AdamW(lr, betas, eps, weight_decay)`` (PyTorch's
    default ``weight_decay`` is 1e-2; optax's and lrjax's is 1e-4). Keras:
    ``keras.optimizers.AdamW`` (default 4e-3).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype: as in :func:`adam`.
      weight_decay: ``>= 0`` or a schedule. Default 1e-4.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adamw(learning_rate=0.1, weight_decay=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # first step: -lr * (sign(g) + weight_decay * w)
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.11, 0.12]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adam(
            b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@elementwise_constructor()
def adamax(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Adamax (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm.

    With ``t`` counting updates from 1::

        m <- b1 * m + (1 - b1) * g
        u <- max(b2 * u, |g| + eps)
        w <- w - lr * m / ((1 - b1**t) * u)

    PyTorch: ``torch.optim.Adamax(lr, betas=(b1, b2), eps)``, the same update
    (``eps`` inside the maximum; PyTorch's default ``lr`` is 2e-3). Keras:
    ``keras.optimizers.Adamax(learning_rate, beta_1, beta_2, epsilon)``
    computes ``u <- max(b2 * u, |g|)`` and divides by ``u + epsilon``: equal
    up to a term of order ``eps``.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: infinity-norm decay in ``[0, 1)``. Default 0.999.
      eps: ``>= 0``, added to ``|g|`` in the maximum. Default 1e-8.
      mu_dtype, nu_dtype: dtypes of ``m`` and ``u`` (default: the param's).
        lrjax additions.

    Returns:
      ``chain(scale_by_adamax(...), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adamax(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> [round(float(u), 4) for u in updates["w"]]  # -lr * g / (|g| + eps)
        [-0.1, 0.1]
        >>> updates, state = tx.update({"w": jnp.array([0.25, -0.25])}, state, params)
        >>> # u = max(b2 * 0.5, 0.25) keeps the larger past |g|: -lr * (0.07 / 0.19) / u
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.0738, 0.0738]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


@elementwise_constructor(mask_args=("mask",))
def adamaxw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | None = None,
    *,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Adamax with decoupled weight decay (Loshchilov & Hutter, 2019).

    ``w <- w - lr * (adamax_direction + weight_decay * w)`` (see
    :func:`adamax`); the decay is scaled by the learning rate, as in PyTorch's
    ``AdamW``. PyTorch has no ``AdamaxW``; Keras:
    ``keras.optimizers.Adamax(..., weight_decay=wd)`` applies
    ``w <- w - lr * wd * w`` before the step, the same to first order.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1, b2, eps, mu_dtype, nu_dtype: as in :func:`adamax`.
      weight_decay: ``>= 0`` or a schedule. Default 1e-4.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_adamax(...), add_decayed_weights(weight_decay, mask),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adamaxw(learning_rate=0.1, weight_decay=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # first step: -lr * (sign(g) + weight_decay * w)
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.11, 0.12]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
