"""Adam's variants: AMSGrad, Adamax(W), NAdam(W), RAdam and AdaBelief.

Each is a short chain: a moment block, optionally decoupled weight decay,
then :func:`lrjax.scale_by_learning_rate` (which records the rate applied, so
:func:`lrjax.get_learning_rate` reads it from the state). Names, argument
order and defaults are optax's; lrjax's additions are keyword-only.
"""

from __future__ import annotations

from typing import Any

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.optimizers.adam import adam, adamw
from lrjax.transforms.adam_variants import (
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_radam,
)
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["amsgrad", "adamax", "adamaxw", "nadam", "nadamw", "radam", "adabelief"]


@elementwise_constructor()
def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """AMSGrad (Reddi, Kale & Kumar, 2018): Adam with a non-decreasing denominator.

    With ``t`` counting updates from 1 (defaults: both bias corrections on)::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g**2
        v_max <- max(v_max, v / (1 - b2**t))
        w <- w - lr * (m / (1 - b1**t)) / (sqrt(v_max + eps_root) + eps)

    ``bias_correction_mu=False, bias_correction_nu=False`` is the paper's
    algorithm (no debiasing at all).

    PyTorch ``torch.optim.Adam(lr, betas, eps, amsgrad=True)`` (and Keras
    ``Adam(amsgrad=True)``) keeps the maximum of the *uncorrected* ``v`` and
    divides it by ``1 - b2**t`` of the current step: ``max_s(v_s) / (1 -
    b2**t)`` instead of lrjax's (and optax's) ``max_s(v_s / (1 - b2**s))``.
    Neither flag setting reproduces it: in lrjax's form a large gradient at
    an early step ``s`` stays in ``v_max`` with weight ``1``, in PyTorch's
    with weight ``1 - b2**s``. So PyTorch's step is never the smaller one,
    the two agree while ``v_hat`` never decreases (a constant ``|g|``), and
    an early ``v_hat`` larger than the later ones keeps them apart for good.
    Measured over 200 steps with the default betas (the ratio depends on
    ``|g|`` only, not on signs), PyTorch's step is up to 25% larger for
    ``|g| = 1 + 0.5 sin t``, 27% for ``|g|`` alternating 1 and 0.5, 41% for
    1 and 0.1, 2.6x for standard-normal gradients, and 8.3x after a first
    gradient 10x the others (``tests/test_optax_pytorch_differences.py``).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: second-moment decay in ``[0, 1)``. Default 0.999.
      eps: outside the square root, ``>= 0``. Default 1e-8.
      eps_root: inside the square root, ``>= 0``. Default 0.
      mu_dtype: dtype of ``m`` (default: the param's).
      bias_correction_mu: debias ``m``. Default True.
      bias_correction_nu: debias ``v`` before the maximum. Default True.
      nu_dtype: dtype of ``v`` and ``v_max`` (default: the param's). lrjax
        addition.

    Returns:
      ``chain(scale_by_amsgrad(...), scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_amsgrad(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            bias_correction_mu,
            bias_correction_nu,
            nu_dtype=nu_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )


@elementwise_constructor()
def adamax(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
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
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
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
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@elementwise_constructor()
def nadam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = True,
    nu_dtype: Any | None = None,
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
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | None = None,
    *,
    nesterov: bool = True,
    nu_dtype: Any | None = None,
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
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
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


@elementwise_constructor()
def adabelief(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
    *,
    nesterov: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
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
