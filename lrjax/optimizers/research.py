"""Research optimizers from optax.contrib: ADOPT, AdEMAMix, MADGRAD."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.ademamix import scale_by_ademamix, scale_by_simplified_ademamix
from lrjax.transforms.adopt import default_clip, scale_by_adopt
from lrjax.transforms.dual_averaging import scale_by_madgrad
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.sophia import scale_by_sophia
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["ademamix", "adopt", "madgrad", "simplified_ademamix", "sophia"]


@checks_state
def adopt(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: Any | None = None,
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


@checks_state
def ademamix(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 5.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
) -> GradientTransformationExtraArgs:
    """AdEMAMix (Pagliardini, Ablin & Grangier, 2024), as ``optax.contrib.ademamix``.

    "The AdEMAMix Optimizer: Better, Faster, Older": AdamW whose numerator
    adds a slow, undebiased EMA of gradients (``b3``) weighted by ``alpha``::

        m1 <- b1 * m1 + (1 - b1) * g
        m2 <- b3 * m2 + (1 - b3) * g
        nu <- b2 * nu + (1 - b2) * |g|**2
        w <- w - lr * ((m1 / (1 - b1**t) + alpha * m2)
                       / (sqrt(nu / (1 - b2**t) + eps_root) + eps)
                       + weight_decay * w)

    ``b3`` and ``alpha`` may be schedules (read at ``t - 1``): the paper
    warms both up over its first steps; with a short run prefer a smaller
    ``b3`` (e.g. 0.999, the paper's appendix C.1.5). The decay is multiplied
    by the full learning rate, as in optax and PyTorch's AdamW. PyTorch core
    and Keras have no AdEMAMix.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: fast-EMA decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      b3: slow-EMA decay, in ``[0, 1]``, or a schedule. Default 0.9999.
      alpha: weight of the slow EMA, ``>= 0``, or a schedule. Default 5.
      eps: added outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      mu_dtype: dtype of the three moments (default: the param's).
      weight_decay: decoupled decay, ``>= 0`` or a schedule. Default 0.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_ademamix(...), add_decayed_weights(weight_decay, mask),
      scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@checks_state
def simplified_ademamix(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.99,
    b2: float = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Simplified AdEMAMix (Morwani et al., 2025), as optax.contrib's.

    "Connections between Schedule-Free Optimizers, AdEMAMix, and Accelerated
    SGD Variants": one undamped momentum replaces AdEMAMix's two EMAs, and
    ``alpha`` weighs the current gradient::

        m <- b1 * m + g
        n <- b2 * n + (1 - b2) * |g|**2
        w <- w - lr * ((m + alpha * g) / (sqrt(n / (1 - b2**t) + eps_root) + eps)
                       + weight_decay * w)

    Since ``m`` sums about ``1 / (1 - b1)`` gradients, use a rate about
    ``1 - b1`` times Adam's. ``alpha`` may be a schedule. PyTorch core and
    Keras have no equivalent.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: momentum decay, in ``[0, 1)``. Default 0.99.
      b2: second-moment decay, in ``[0, 1)``. Default 0.95.
      alpha: weight of the current gradient, ``>= 0``, or a schedule.
        Default 0.
      eps: added outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      weight_decay: decoupled decay, ``>= 0`` or a schedule. Default 0.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.

    Returns:
      ``chain(scale_by_simplified_ademamix(...), add_decayed_weights(...),
      scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_simplified_ademamix(b1, b2, alpha, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@checks_state
def madgrad(
    learning_rate: ScalarOrSchedule,
    momentum: float = 0.9,
    weight_decay: ScalarOrSchedule = 0.0,
    eps: float = 1e-6,
) -> GradientTransformationExtraArgs:
    """MADGRAD (Defazio & Jelassi, 2021), as ``optax.contrib.madgrad``.

    "Adaptivity without Compromise: A Momentumized, Adaptive, Dual Averaged
    Gradient Method for Stochastic Optimization". With ``k`` the number of
    earlier updates, ``x_0`` the parameters at ``init`` and ``g`` the
    gradient plus ``weight_decay * x`` (coupled L2, as in the paper)::

        lam = (lr + eps) * sqrt(k + 1)
        s <- s + lam * g;   v <- v + lam * |g|**2
        z = x_0 - s / (cbrt(v) + eps)
        x <- momentum * x + (1 - momentum) * z

    The learning rate enters inside the dual-averaging ratio, so the chain
    ends in :func:`lrjax.scale_by_madgrad`, which keeps the rate in its
    ``learning_rate`` field for :func:`lrjax.get_learning_rate`. The state
    holds a copy of the initial parameters. PyTorch core and Keras have no
    MADGRAD (the authors' ``madgrad`` package provides
    ``MADGRAD(params, lr=1e-2, momentum=0.9, weight_decay=0, eps=1e-6)``).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      momentum: weight of the current iterate, in ``[0, 1)``. Default 0.9.
      weight_decay: L2 coefficient added to the gradient, ``>= 0`` or a
        schedule. Default 0.
      eps: added to the rate and to ``cbrt(v)``, ``>= 0``. Default 1e-6.

    Returns:
      ``chain(add_decayed_weights(weight_decay), scale_by_madgrad(...))``;
      its ``update`` needs ``params``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_madgrad(learning_rate, momentum, eps),
    )


@checks_state
def sophia(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.965,
    b2: float = 0.99,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    weight_decay_mask: Any | None = None,
    gamma: float = 0.01,
    clip_threshold: float | None = 1.0,
    update_interval: int = 10,
    hessian_diagonal_fn: GradientTransformation | None = None,
    mu_dtype: Any | None = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
) -> GradientTransformationExtraArgs:
    """Sophia-H (Liu et al., 2023), as ``optax.contrib.sophia``.

    "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
    Pre-training". A momentum divided by an EMA ``h`` of diagonal-Hessian
    estimates (refreshed every ``update_interval`` updates), clipped per
    coordinate, plus decoupled weight decay::

        m <- b1 * m + (1 - b1) * g
        w <- w - lr * (clip(m_hat / max(gamma * h, eps), -clip_threshold,
                            clip_threshold) + weight_decay * w)

    ``update`` needs ``params`` and the loss as a function of the params
    (``obj_fn=``), which the default Hutchinson estimator differentiates
    twice; a complete jitted step::

        opt = lrjax.sophia(1e-3)
        state = opt.init(params)

        @jax.jit
        def train_step(params, state, batch):
            loss_fn = lambda p: loss(p, batch)
            grads = jax.grad(loss_fn)(params)
            updates, state = opt.update(grads, state, params, obj_fn=loss_fn)
            return optax.apply_updates(params, updates), state

    See :func:`lrjax.scale_by_sophia` for the estimator argument and the
    win-rate printout. PyTorch core and Keras have no Sophia.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: momentum decay, in ``[0, 1)``. Default 0.965.
      b2: Hessian-EMA decay per estimate, in ``[0, 1)``. Default 0.99.
      eps: lower bound of the denominator, ``> 0``. Default 1e-8.
      weight_decay: decoupled decay, ``>= 0`` or a schedule. Default 1e-4.
      weight_decay_mask: tree of bools or callable marking decayed params.
      gamma: Hessian scale in the denominator, ``>= 0``. Default 0.01.
      clip_threshold: per-coordinate bound, ``> 0`` or None. Default 1.
      update_interval: updates between Hessian estimates, ``> 0``. Default 10.
      hessian_diagonal_fn: the estimator (default: Hutchinson's).
      mu_dtype: dtype of the momentum (default: the param's).
      verbose: print the win rate. Default False.
      print_win_rate_every_n_steps: how often, ``> 0`` with ``verbose``.

    Returns:
      ``chain(scale_by_sophia(...), add_decayed_weights(weight_decay,
      weight_decay_mask), scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_sophia(
            b1,
            b2,
            eps,
            gamma,
            clip_threshold,
            update_interval,
            hessian_diagonal_fn,
            mu_dtype,
            verbose,
            print_win_rate_every_n_steps,
        ),
        add_decayed_weights(
            weight_decay, weight_decay_mask, mask_name="weight_decay_mask"
        ),
        scale_by_learning_rate(learning_rate),
    )
