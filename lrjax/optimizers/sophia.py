"""Sophia-H (Liu et al., 2023): momentum over a clipped diagonal-Hessian scale."""

from __future__ import annotations

from typing import Any

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.sophia import scale_by_sophia
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["sophia"]


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
    mu_dtype: DTypeLike | None = None,
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> def loss(params):
        ...     return 0.5 * jnp.sum(params["w"] ** 2)
        >>> tx = lrjax.sophia(learning_rate=0.1, weight_decay=0.0)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)
        >>> grads = {"w": params["w"]}
        >>> updates, state = tx.update(grads, state, params, obj_fn=loss)
        >>> updates["w"]  # h is still 0: the ratio is clipped, -lr * sign(g)
        Array([-0.1,  0.1], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
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
