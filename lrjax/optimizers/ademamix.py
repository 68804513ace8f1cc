"""AdEMAMix (Pagliardini et al., 2024) and its simplified form (Morwani et al.)."""

from __future__ import annotations

from typing import Any

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.ademamix import scale_by_ademamix, scale_by_simplified_ademamix
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["ademamix", "simplified_ademamix"]


@checks_state
def ademamix(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 5.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.ademamix(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # -lr * (1 + alpha * (1 - b3)) * sign(g): the slow EMA adds 5 * 1e-4
        >>> [round(float(u), 5) for u in updates["w"]]
        [-0.10005, 0.10005]
        >>> print(lrjax.get_learning_rate(state))
        0.1
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.simplified_ademamix(learning_rate=0.1, alpha=1.0)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> updates["w"]  # m = g on the first step: -lr * (1 + alpha) * sign(g)
        Array([-0.2,  0.2], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_simplified_ademamix(b1, b2, alpha, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
