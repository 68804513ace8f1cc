"""Optimistic methods for min-max games: OGD and optimistic Adam."""

from __future__ import annotations

from jax.typing import ArrayLike, DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.optimistic import (
    scale_by_optimistic_adam,
    scale_by_optimistic_gradient,
)
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["optimistic_adam", "optimistic_adam_v2", "optimistic_gradient_descent"]


@checks_state
def optimistic_gradient_descent(
    learning_rate: ScalarOrSchedule,
    alpha: ArrayLike = 1.0,
    beta: ArrayLike = 1.0,
) -> GradientTransformationExtraArgs:
    """Optimistic gradient descent (Mokhtari et al., 2019; Daskalakis et al.,
    2017)::

        u_t = (alpha + beta) * g_t - beta * g_{t-1}     (g_{-1} = g_0)
        w <- w - lr * u_t

    Approximates the extra-gradient method with one gradient per step; on
    min-max games (descend in one player, ascend in the other) its last
    iterate converges where gradient descent-ascent cycles. PyTorch and
    Keras have no equivalent.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      alpha: weight of the current gradient, ``>= 0``. Default 1.
      beta: weight of the gradient's change, ``>= 0``. Default 1.

    Returns:
      ``chain(scale_by_optimistic_gradient(alpha, beta),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.optimistic_gradient_descent(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([1.0, 1.0])}, state, params)
        >>> updates["w"]  # first step: -lr * alpha * g
        Array([-0.1, -0.1], dtype=float32)
        >>> updates, state = tx.update({"w": jnp.array([2.0, 0.0])}, state, params)
        >>> updates["w"]  # -lr * (2 * g_t - g_{t-1}) = -0.1 * [3, -1]
        Array([-0.3,  0.1], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_optimistic_gradient(alpha, beta),
        scale_by_learning_rate(learning_rate),
    )


@checks_state
def optimistic_adam(
    learning_rate: ArrayLike,
    optimism: ArrayLike | None = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = True,
) -> GradientTransformationExtraArgs:
    """Optimistic Adam (Daskalakis et al., 2017, "Training GANs with Optimism")::

        r_t = Adam's direction m_hat / (sqrt(v_hat + eps_root) + eps)
        w <- w - lr * r_t - optimism * (r_t - r_{t-1})     (r_{-1} = r_0)

    optax's first interface (deprecated there in favour of
    :func:`lrjax.optimistic_adam_v2`, which lrjax has too): a constant rate,
    ``optimism`` defaulting to the rate as in the paper. The rate is one of
    the two weights of the optimistic block, and the final block applies 1
    (the sign flip), as in optax: :func:`lrjax.get_learning_rate` reports
    that global factor 1. ``optimistic_adam_v2(lr, alpha=1, beta=optimism /
    lr)`` is the same update with the rate in the learning-rate block (and a
    schedule allowed). Nesterov momentum (NAdam's ``m_hat``) is on by
    default, as in optax. PyTorch and Keras have no equivalent.

    Args:
      learning_rate: a number ``>= 0`` (no schedule). Required.
      optimism: weight of ``r_t - r_{t-1}``, ``>= 0``; None (default) means
        ``learning_rate``.
      b1: first-moment decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      mu_dtype: dtype of the first moment (default: the parameter's).
      nesterov: NAdam's momentum. Default True.

    Returns:
      ``chain(scale_by_optimistic_adam(b1, b2, eps, eps_root, mu_dtype,
      nesterov=nesterov, alpha=learning_rate, beta=optimism),
      scale_by_learning_rate(1.0))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.optimistic_adam(learning_rate=0.1, optimism=0.05, nesterov=False)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -3.0])}, state, params)
        >>> [round(float(u), 4) for u in updates["w"]]  # -lr * r_0, r_0 = sign(g)
        [-0.1, 0.1]
        >>> print(lrjax.get_learning_rate(state))  # the rate is inside the block
        1.0
    """
    if callable(learning_rate):
        raise TypeError(
            f"learning_rate must be a number >= 0 (optimistic_adam takes no "
            f"schedule: use optimistic_adam_v2), got {learning_rate!r}."
        )
    val.check_learning_rate("learning_rate", learning_rate)
    if optimism is None:
        optimism = learning_rate
    val.check_non_negative("optimism", optimism)
    return chain(
        scale_by_optimistic_adam(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            nesterov=nesterov,
            alpha=learning_rate,
            beta=optimism,
        ),
        scale_by_learning_rate(1.0),
    )


@checks_state
def optimistic_adam_v2(
    learning_rate: ScalarOrSchedule,
    *,
    alpha: ArrayLike = 1.0,
    beta: ArrayLike = 1.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    nesterov: bool = True,
) -> GradientTransformationExtraArgs:
    """Optimistic Adam, optax's second interface (Daskalakis et al., 2017)::

        r_t = Adam's direction m_hat / (sqrt(v_hat + eps_root) + eps)
        w <- w - lr * ((alpha + beta) * r_t - beta * r_{t-1})   (r_{-1} = r_0)

    The paper's form is ``alpha = 1, beta = optimism / lr``. Takes schedules.
    PyTorch and Keras have no equivalent.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      alpha: weight of the current direction, ``>= 0``. Default 1.
      beta: weight of the direction's change, ``>= 0``. Default 1.
      b1: first-moment decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      mu_dtype: dtype of the first moment (default: the parameter's).
      nesterov: NAdam's momentum. Default True.

    Returns:
      ``chain(scale_by_optimistic_adam(b1, b2, eps, eps_root, mu_dtype,
      nesterov=nesterov, alpha=alpha, beta=beta),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.optimistic_adam_v2(learning_rate=0.1, beta=0.5, nesterov=False)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -3.0])}, state, params)
        >>> [round(float(u), 4) for u in updates["w"]]  # -lr * alpha * sign(g)
        [-0.1, 0.1]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_optimistic_adam(
            b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, alpha=alpha, beta=beta
        ),
        scale_by_learning_rate(learning_rate),
    )
