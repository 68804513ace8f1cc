"""Stochastic gradient descent, with heavy-ball, EMA or Nesterov momentum, or
with annealed gradient noise."""

from __future__ import annotations

from jax.typing import ArrayLike, DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
    elementwise_constructor,
)
from lrjax.transforms.momentum import trace
from lrjax.transforms.noise import add_noise
from lrjax.transforms.scaling import identity, scale_by_learning_rate

__all__ = ["noisy_sgd", "sgd"]


@elementwise_constructor()
def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: float | None = None,
    nesterov: bool = False,
    accumulator_dtype: DTypeLike | None = None,
    *,
    dampening: float = 0.0,
) -> GradientTransformationExtraArgs:
    """Stochastic gradient descent (Robbins & Monro, 1951), optionally with momentum.

    Without momentum: ``w <- w - lr * g``. With momentum ``b``::

        v <- b * v + (1 - dampening) * g          (v_0 = 0)
        w <- w - lr * v                           (heavy ball, Polyak 1964)
        w <- w - lr * ((1 - dampening) * g + b * v)   (nesterov=True, Sutskever 2013)

    ``dampening=0`` (default) is PyTorch's and optax's convention;
    ``dampening=momentum`` is the EMA form ``v <- b*v + (1-b)*g``.

    PyTorch: ``torch.optim.SGD(lr, momentum, dampening, nesterov)`` (PyTorch
    starts ``v_1 = g``; identical to lrjax when ``dampening=0``).
    Keras: ``keras.optimizers.SGD(learning_rate, momentum, nesterov)`` with the
    same update when its momentum form is rewritten in terms of ``v``.

    Args:
      learning_rate: a number ``>= 0`` or a schedule ``step -> rate``.
      momentum: in ``[0, 1]``, or ``None`` for plain SGD. Default ``None``.
      nesterov: Nesterov momentum. Default False.
      accumulator_dtype: dtype of the momentum buffer (default: the param's).
      dampening: in ``[0, 1]``; lrjax addition (keyword-only). Default 0.

    Returns:
      ``chain(trace(momentum, nesterov, dampening=...), scale_by_learning_rate(lr))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.sgd(learning_rate=0.1, momentum=0.9)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> grads = {"w": jnp.array([0.5, 0.5])}
        >>> updates, state = tx.update(grads, state, params)
        >>> updates["w"]  # v = g, -lr * v
        Array([-0.05, -0.05], dtype=float32)
        >>> updates, state = tx.update(grads, state, params)
        >>> updates["w"]  # v = 0.9 * 0.5 + 0.5 = 0.95, -lr * v
        Array([-0.095, -0.095], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_type("nesterov", nesterov, bool)
    if momentum is None:
        if nesterov:
            raise ValueError("nesterov=True needs a momentum, got momentum=None.")
        val.check_in_range("dampening", dampening, 0.0, 1.0)
        first = identity()
    else:
        # trace calls it `decay`: check it here under the name the user passed.
        val.check_in_range("momentum", momentum, 0.0, 1.0)
        first = trace(momentum, nesterov, accumulator_dtype, dampening=dampening)
    return chain(first, scale_by_learning_rate(learning_rate))


@checks_state
def noisy_sgd(
    learning_rate: ScalarOrSchedule,
    eta: ArrayLike = 0.01,
    gamma: ArrayLike = 0.55,
    key: ArrayLike | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformationExtraArgs:
    """SGD on gradients with annealed Gaussian noise (Neelakantan et al., 2015,
    "Adding Gradient Noise Improves Learning for Very Deep Networks")::

        w <- w - lr * (g + n_t),   n_t ~ N(0, eta / (1 + t)**gamma)

    ``t`` counts earlier updates (0 at the first). The noise is a pure
    function of ``key`` and the step, the same draws as optax's ``noisy_sgd``
    (see :func:`lrjax.add_noise`). PyTorch and Keras have no equivalent.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      eta: the initial noise variance, ``>= 0``. Default 0.01.
      gamma: the decay exponent of the variance, ``>= 0``. Default 0.55.
      key: a JAX PRNG key or an integer seed. Default None (seed 0, as optax).
      seed: optax's deprecated spelling of an integer ``key``.

    Returns:
      ``chain(add_noise(eta, gamma, key, seed=seed),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> grads = {"w": jnp.array([0.5, 0.5])}
        >>> tx = lrjax.noisy_sgd(learning_rate=0.1, eta=0.0)
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> updates["w"]  # eta = 0: no noise, SGD's -lr * g
        Array([-0.05, -0.05], dtype=float32)
        >>> tx = lrjax.noisy_sgd(learning_rate=0.1, eta=0.01, key=0)
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> noise = updates["w"] / -0.1 - grads["w"]  # n_0 ~ N(0, eta): std 0.1
        >>> [round(float(n), 3) for n in noise]
        [0.02, -0.077]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        add_noise(eta, gamma, key, seed=seed), scale_by_learning_rate(learning_rate)
    )
