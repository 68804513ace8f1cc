"""Sign-based optimizers: signSGD, Signum (Bernstein et al., 2018) and Rprop."""

from __future__ import annotations

from jax.typing import ArrayLike, DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.rprop import scale_by_rprop
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.sign import scale_by_lion, scale_by_sign

__all__ = ["rprop", "sign_sgd", "signum"]


@checks_state
def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformationExtraArgs:
    """signSGD (Bernstein et al., 2018, "signSGD: Compressed Optimisation for
    Non-Convex Problems")::

        w <- w - lr * sign(g)

    Every coordinate moves by exactly ``lr`` (0 where ``g = 0``); a complex
    coordinate moves by ``lr`` along ``g / |g|``. PyTorch and Keras have no
    signSGD.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.

    Returns:
      ``chain(scale_by_sign(), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.sign_sgd(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0, 3.0])}
        >>> state = tx.init(params)
        >>> grads = {"w": jnp.array([0.5, -30.0, 0.0])}
        >>> updates, state = tx.update(grads, state, params)
        >>> updates["w"]  # -lr * sign(g), whatever |g| (no move where g = 0)
        Array([-0.1,  0.1, -0. ], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


@checks_state
def signum(
    learning_rate: ScalarOrSchedule,
    beta: float = 0.9,
    accumulator_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Signum: signSGD on an EMA of the gradients (Bernstein et al., 2018)::

        m <- beta * m + (1 - beta) * g       (m_0 = 0, not debiased)
        w <- w - lr * sign(m)

    Debiasing would divide ``m`` by a positive number, which leaves its sign
    unchanged. Zhao et al., 2024 ("Deconstructing What Makes a Good Optimizer
    for Language Models") find it on par with Adam for language models.
    PyTorch and Keras have no Signum.

    Signum is Lion with ``b1 = b2 = beta`` (Lion's interpolation with the old
    momentum is then the new momentum), so it is built on
    :func:`lrjax.scale_by_lion`: the sign is taken of the momentum computed in
    float32, before it is rounded to a float16 ``accumulator_dtype`` (optax
    chains ``ema`` and ``scale_by_sign``, whose sign reads the rounded value,
    0 for a float16 momentum below 3e-8).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      beta: decay of the EMA, in ``[0, 1)``. Default 0.9.
      accumulator_dtype: dtype of ``m`` (default: the parameter's).

    Returns:
      ``chain(scale_by_lion(b1=beta, b2=beta, mu_dtype=accumulator_dtype),
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.signum(learning_rate=0.1, beta=0.9)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> updates["w"]  # m = 0.1 * g: -lr * sign(m)
        Array([-0.1,  0.1], dtype=float32)
        >>> updates, state = tx.update({"w": jnp.array([-0.01, -0.01])}, state, params)
        >>> updates["w"]  # m = 0.9 * m + 0.1 * g = [0.044, -0.046]: signs kept
        Array([-0.1,  0.1], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_in_range("beta", beta, 0.0, 1.0, high_inclusive=False)
    val.check_dtype("accumulator_dtype", accumulator_dtype)
    return chain(
        scale_by_lion(beta, beta, accumulator_dtype),
        scale_by_learning_rate(learning_rate),
    )


@checks_state
def rprop(
    learning_rate: ArrayLike,
    eta_minus: ArrayLike = 0.5,
    eta_plus: ArrayLike = 1.2,
    min_step_size: ArrayLike = 1e-6,
    max_step_size: ArrayLike = 50.0,
) -> GradientTransformationExtraArgs:
    """Rprop (Riedmiller & Braun, 1993), in the iRprop- form (Igel & Huesken,
    2003), per element::

        s = g_t * u_{t-1}
        Delta_t = clip(Delta_{t-1} * (eta_plus if s > 0 else eta_minus),
                       min_step_size, max_step_size)   (unchanged if s == 0)
        u_t = 0 if s < 0 else Delta_t * sign(g_t)
        w <- w - u_t

    ``learning_rate`` is only the initial step size ``Delta_0``: the step
    sizes then adapt per element, and are in ``state[0].step_sizes``. The
    final block applies a rate of 1 (the sign flip), so
    :func:`lrjax.get_learning_rate` reports 1, the global factor. Full-batch
    gradients suit Rprop; minibatch noise flips signs at random.

    Unlike optax 0.2.8 (whose updates lag one step, see
    :func:`lrjax.scale_by_rprop`), the update uses the current gradient.
    PyTorch: ``torch.optim.Rprop(lr=learning_rate, etas=(eta_minus,
    eta_plus), step_sizes=(min_step_size, max_step_size))``; Keras has none.

    Args:
      learning_rate: the initial step size, ``>= 0``. Required.
      eta_minus: step-size factor on a sign flip, in ``(0, 1]``. Default 0.5.
      eta_plus: step-size factor when the sign is kept, ``>= 1``. Default 1.2.
      min_step_size: smallest step size, ``>= 0``. Default 1e-6.
      max_step_size: largest step size, ``>= min_step_size``. Default 50.

    Returns:
      ``chain(scale_by_rprop(learning_rate, eta_minus, eta_plus,
      min_step_size, max_step_size), scale_by_learning_rate(1.0))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.rprop(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, 0.5])}, state, params)
        >>> updates["w"]  # first step: -Delta_0 * sign(g)
        Array([-0.1, -0.1], dtype=float32)
        >>> updates, state = tx.update({"w": jnp.array([0.3, -0.3])}, state, params)
        >>> updates["w"]  # sign kept: 0.1 * 1.2; sign flipped: step skipped
        Array([-0.12, -0.  ], dtype=float32)
        >>> state[0].step_sizes["w"]  # the flip halved its step size
        Array([0.12, 0.05], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))  # the global factor
        1.0
    """
    return chain(
        scale_by_rprop(
            learning_rate, eta_minus, eta_plus, min_step_size, max_step_size
        ),
        scale_by_learning_rate(1.0),
    )
