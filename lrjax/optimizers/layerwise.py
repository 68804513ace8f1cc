"""Layer-wise adaptive optimizers: LAMB and LARS (large batches), Fromage.

Trust-ratio norms are moduli for complex parameters (as optax's
``safe_norm``) and are summed in at least float32.
"""

from __future__ import annotations

from typing import Any

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
    elementwise_constructor,
)
from lrjax._numerics import AxisName
from lrjax.transforms.adam import scale_by_adam
from lrjax.transforms.layerwise import fromage_retraction, scale_by_trust_ratio
from lrjax.transforms.momentum import trace
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["fromage", "lamb", "lars"]


@elementwise_constructor("its trust ratio ||w|| / ||u|| is a norm per leaf")
def lamb(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-6,
    eps_root: float = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
    *,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
    axis_name: AxisName = None,
) -> GradientTransformationExtraArgs:
    """LAMB (You et al., 2020, "Large Batch Optimization for Deep Learning:
    Training BERT in 76 minutes").

    Adam's direction plus decoupled weight decay, rescaled per layer (per
    parameter leaf) by the trust ratio ``||w|| / ||r||``::

        m <- b1 * m + (1 - b1) * g,     v <- b2 * v + (1 - b2) * g**2
        r = m / (1 - b1**t) / (sqrt(v / (1 - b2**t) + eps_root) + eps)
            + weight_decay * w
        w <- w - lr * (||w|| / ||r||) * r      (ratio 1 if either norm is 0)

    Keras: ``keras.optimizers.Lamb(learning_rate, beta_1=b1, beta_2=b2,
    epsilon=eps)`` matches for ``weight_decay=0`` (Keras's default epsilon is
    1e-7, and its ``weight_decay`` is applied outside the trust ratio).
    PyTorch core has no LAMB.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay in ``[0, 1)``. Default 0.9.
      b2: second-moment decay in ``[0, 1)``. Default 0.999.
      eps: outside the square root, ``>= 0``. Default 1e-6.
      eps_root: inside the square root, ``>= 0``. Default 0.
      weight_decay: ``>= 0`` or a schedule, inside the trust ratio. Default 0.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.
      mu_dtype: lrjax addition: dtype of the first moment (default: param's).
      nu_dtype: lrjax addition: dtype of the second moment (default: param's).
      axis_name: lrjax addition: the mesh axis the parameters are split
        across under ``shard_map``, for whole-leaf trust-ratio norms (see
        :func:`lrjax.global_norm`). Default None.

    Returns:
      ``chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask),
      scale_by_trust_ratio(), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.lamb(learning_rate=0.1, eps=0.0)
        >>> params = {"w": jnp.array([3.0, -4.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.5, 0.5])}, state, params)
        >>> updates["w"]  # r = sign(g) at step 1, ||w|| / ||r|| = 5 / sqrt(2)
        Array([-0.35355338, -0.35355338], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nu_dtype=nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(axis_name=axis_name),
        scale_by_learning_rate(learning_rate),
    )


@elementwise_constructor("its trust ratio ||w|| / ||u|| is a norm per leaf")
def lars(
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = True,
    trust_coefficient: float = 0.001,
    eps: float = 0.0,
    trust_ratio_mask: Any = True,
    momentum: float = 0.9,
    nesterov: bool = False,
    *,
    axis_name: AxisName = None,
) -> GradientTransformationExtraArgs:
    """LARS (You et al., 2017, "Large Batch Training of Convolutional Networks").

    Weight decay, a per-layer trust ratio, then heavy-ball momentum on the
    rate-scaled step (the paper's Algorithm 1)::

        r = g + weight_decay * w
        local_lr = trust_coefficient * ||w|| / (||r|| + eps)   (1 if a norm is 0)
        v <- momentum * v + lr * local_lr * r
        w <- w - v                  (nesterov: w - (lr * local_lr * r + momentum * v))

    The paper writes the denominator ``||g|| + weight_decay * ||w||``; like
    optax, lrjax uses ``||g + weight_decay * w||`` (the norm of the step it
    scales). The momentum buffer holds rate-scaled steps, so a schedule
    changes the rate of new steps only, as in the paper.

    PyTorch and Keras have no LARS in their core libraries.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      weight_decay: ``>= 0`` or a schedule. Default 0.
      weight_decay_mask: tree of bools (or callable ``params -> tree``, or one
        bool for all) marking decayed params. Default True (all).
      trust_coefficient: LARS's ``eta``, ``>= 0``. Default 0.001.
      eps: added to the update norm, ``>= 0``. Default 0.
      trust_ratio_mask: like ``weight_decay_mask``, marking the params whose
        steps are rescaled by the trust ratio. Default True (all).
      momentum: in ``[0, 1]``. Default 0.9.
      nesterov: Nesterov momentum. Default False.
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``, for whole-leaf trust-ratio norms
        (see :func:`lrjax.global_norm`). Default None.

    Returns:
      ``chain(add_decayed_weights(weight_decay, weight_decay_mask),
      scale_by_trust_ratio(trust_coefficient=..., eps=..., mask=trust_ratio_mask),
      scale_by_learning_rate(learning_rate), trace(momentum, nesterov))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.lars(learning_rate=0.1, trust_coefficient=0.5)
        >>> params = {"w": jnp.array([3.0, -4.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([0.6, 0.8])}, state, params)
        >>> updates["w"]  # v = lr * 0.5 * ||w|| / ||g|| * g = 0.1 * 2.5 * g
        Array([-0.15, -0.2 ], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_in_range("momentum", momentum, 0.0, 1.0)
    return chain(
        add_decayed_weights(
            weight_decay, weight_decay_mask, mask_name="weight_decay_mask"
        ),
        scale_by_trust_ratio(
            trust_coefficient=trust_coefficient,
            eps=eps,
            mask=trust_ratio_mask,
            mask_name="trust_ratio_mask",
            axis_name=axis_name,
        ),
        scale_by_learning_rate(learning_rate),
        trace(momentum, nesterov),
    )


@checks_state
def fromage(
    learning_rate: ScalarOrSchedule, min_norm: float = 1e-6
) -> GradientTransformationExtraArgs:
    """Fromage, Frobenius matched gradient descent (Bernstein et al., 2020,
    "On the distance between two neural networks and the stability of
    learning"). Per leaf (layer)::

        g' = g * max(||w||, min_norm) / max(||g||, min_norm)
        w <- (w - lr * g') / sqrt(1 + lr**2)

    Each layer moves by ``lr`` relative to its own norm (its "deep relative
    trust"), and the division keeps the weights' norms from growing, so one
    rate suits every layer; the paper uses ``lr = 0.01``.
    :func:`lrjax.get_learning_rate` reports ``lr``. PyTorch and Keras have
    no Fromage.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      min_norm: lower bound of both norms (no division by 0), ``>= 0``.
        Default 1e-6.

    Returns:
      ``chain(scale_by_trust_ratio(min_norm),
      scale_by_learning_rate(learning_rate),
      fromage_retraction(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.fromage(learning_rate=0.5)
        >>> params = {"w": jnp.array([3.0, 4.0])}
        >>> state = tx.init(params)
        >>> grads = {"w": jnp.array([4.0, -3.0])}  # ||g|| = ||w|| = 5
        >>> updates, state = tx.update(grads, state, params)
        >>> new = params["w"] + updates["w"]  # (w - lr * g) / sqrt(1 + lr**2)
        >>> new
        Array([0.8944273, 4.9193497], dtype=float32)
        >>> print(f"{float(jnp.linalg.norm(new)):.4f}")  # ||w|| kept
        5.0000
        >>> print(lrjax.get_learning_rate(state))
        0.5
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(learning_rate),
        fromage_retraction(learning_rate),
    )
