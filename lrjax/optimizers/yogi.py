"""Yogi (Zaheer et al., 2018): Adam with an additive second-moment update."""

from __future__ import annotations

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.yogi import scale_by_yogi

__all__ = ["yogi"]


@checks_state
def yogi(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-3,
) -> GradientTransformationExtraArgs:
    """Yogi (Zaheer et al., 2018, "Adaptive Methods for Nonconvex Optimization").

    Adam with an additive second-moment update, which keeps the effective
    rate from growing when gradients shrink::

        m <- b1 * m + (1 - b1) * g
        v <- v - (1 - b2) * sign(v - g**2) * g**2
        w <- w - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)

    ``m`` and ``v`` start at 1e-6 (see :func:`lrjax.scale_by_yogi`). Neither
    PyTorch core nor Keras has Yogi (TensorFlow Addons' ``Yogi`` has the same
    defaults, without debiasing).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: first-moment decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added outside the square root, ``>= 0``. Default 1e-3.

    Returns:
      ``chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.yogi(learning_rate=0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # about -lr * sign(g); eps = 1e-3 and v_0 = 1e-6 shrink it a little
        >>> [round(float(u), 4) for u in updates["w"]]
        [-0.0996, 0.0996]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_yogi(b1=b1, b2=b2, eps=eps),
        scale_by_learning_rate(learning_rate),
    )
