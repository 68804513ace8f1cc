"""Rectified Adam (Liu et al., 2020): momentum SGD until Adam's rate is tractable."""

from __future__ import annotations

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.radam import scale_by_radam
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["radam"]


@elementwise_constructor()
def radam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    threshold: float = 5.0,
    *,
    nesterov: bool = False,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Rectified Adam (Liu et al., 2020).

    Adam whose adaptive step is scaled by ``r_t`` once the variance of the
    adaptive rate is tractable, and plain momentum SGD before::

        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 t b2**t / (1 - b2**t)
        w <- w - lr * r_t * m_hat / (sqrt(v_hat + eps_root) + eps)  if rho_t >= threshold
        w <- w - lr * m_hat                                          otherwise

    with ``r_t`` and the rest as in :func:`lrjax.scale_by_radam`. For
    ``b2 = 0.999`` the adaptive step starts at step 6.

    PyTorch: ``torch.optim.RAdam(lr, betas=(b1, b2), eps)`` has the same
    rectification (threshold 5, tested with ``>``: for ``b2 = 0.999`` both
    switch at step 6) but adds ``eps`` to ``sqrt(v)`` *before* debiasing,
    ``sqrt(1 - b2**t) / (sqrt(v) + eps)``: its ``eps`` acts as lrjax's
    ``eps / sqrt(1 - b2**t)``, 12.9x larger at step 6, 3.2x at step 100,
    1.26x at step 1000. The updates differ only where ``sqrt(v_hat)`` is not
    large next to ``eps`` (``|g|`` of about ``1e-6`` or less for the default
    ``eps = 1e-8``). With ``eps=0`` they are equal; PyTorch's ``eps=e`` is
    ``optax.inject_hyperparams(radam)(lr, eps=lambda n: e / sqrt(1 - b2**(n
    + 1)))``. Keras has no built-in RAdam.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: second-moment decay in ``[0, 1)``. Default 0.999.
      eps: outside the square root, ``>= 0``. Default 1e-8.
      eps_root: inside the square root, ``>= 0``. Default 0.
      threshold: ``rho_t`` from which the adaptive step is used, ``>= 4``.
        Default 5.
      nesterov: NAdam-style momentum. Default False.
      mu_dtype, nu_dtype: dtypes of ``m`` and ``v`` (default: the param's).
        lrjax additions.

    Returns:
      ``chain(scale_by_radam(...), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.radam(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # steps 1-5 are momentum SGD: -lr * m_hat, which is -lr * g on step 1
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.05, 0.05]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_radam(
            b1,
            b2,
            eps,
            eps_root,
            threshold,
            nesterov=nesterov,
            mu_dtype=mu_dtype,
            nu_dtype=nu_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )
