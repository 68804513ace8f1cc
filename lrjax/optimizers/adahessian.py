"""Second-order methods: AdaHessian (Yao et al., AAAI 2021)."""

from __future__ import annotations

from typing import Any

from jax.typing import ArrayLike, DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.adahessian import scale_by_adahessian
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["adahessian"]


@checks_state
def adahessian(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-4,
    hessian_power: float = 1.0,
    spatial_average_size: int = 1,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
    mu_dtype: DTypeLike | None = None,
    *,
    key: ArrayLike = 0,
    num_samples: int = 1,
) -> GradientTransformationExtraArgs:
    """AdaHessian (Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, AAAI 2021,
    "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning").

    Adam with the squared gradient replaced by the squared Hutchinson estimate
    ``D`` of the Hessian diagonal (spatially averaged over kernel windows:
    ``D_s``), and a Hessian power ``k``. With ``t`` counting updates from 1::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * D_s**2
        w <- w - lr * ((m / (1 - b1**t)) / ((v / (1 - b2**t))**(k / 2) + eps)
                       + weight_decay * w)

    ``eps`` outside the power, and the weight decay decoupled and multiplied
    by the rate, as in the authors' PyTorch code
    (github.com/amirgholami/adahessian; its default rate is 0.15, its decay
    0). Spatial averaging: see :func:`lrjax.scale_by_adahessian`. PyTorch and
    Keras have no AdaHessian in their core libraries; optax has none.

    The loss reaches the Hessian through the extra-args protocol: every
    ``update`` needs ``loss_fn=`` (``params -> scalar``; ``H z`` by
    forward-over-reverse) or ``hvp_fn=`` (``(params, v) -> H v``). A complete
    jitted training step::

        import jax, jax.numpy as jnp, lrjax, optax

        def loss(params, batch):
            x, y = batch
            return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)

        opt = lrjax.adahessian(0.15, key=jax.random.key(0))

        @jax.jit
        def train_step(params, state, batch):
            loss_fn = lambda p: loss(p, batch)  # the same batch as the grads
            value, grads = jax.value_and_grad(loss_fn)(params)
            updates, state = opt.update(grads, state, params, loss_fn=loss_fn)
            return optax.apply_updates(params, updates), state, value

        state = opt.init(params)
        params, state, value = train_step(params, state, batch)
        lrjax.get_learning_rate(state)  # 0.15

    Each step costs one Hessian-vector product per probe (about two backward
    passes). To pass the loss into an already-jitted function as an argument,
    wrap it in ``jax.tree_util.Partial`` (a pytree; a lambda is not a valid
    jit argument). The probes of update ``t`` come from ``fold_in(key, t)``:
    the run is reproducible and resumes identically from a checkpoint.
    Complex parameters are rejected at init.

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      b1: gradient-moment decay, in ``[0, 1)``. Default 0.9.
      b2: Hessian-moment decay, in ``[0, 1)``. Default 0.999.
      eps: outside the power, ``>= 0``. Default 1e-4 (the paper's).
      hessian_power: ``k`` in ``[0, 1]``. Default 1.
      spatial_average_size: block size of the spatial average over the
        windows of kernels (ndim >= 3), an integer ``> 0``; 1 (default) is no
        averaging, the window size (9 for 3x3) the paper's CNN setting.
      weight_decay: decoupled decay, ``>= 0`` or a schedule. Default 0.
      mask: tree of bools or callable ``params -> tree`` marking decayed params.
      mu_dtype: dtype of the gradient moment (default: the param's).
      key: PRNG key or integer seed ``>= 0`` of the probes. Default 0.
      num_samples: Hutchinson probes per step, an integer ``> 0``. Default 1.

    Returns:
      ``chain(scale_by_adahessian(...), add_decayed_weights(weight_decay,
      mask), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> def loss(params):  # Hessian diag([1, 4]): Hutchinson's estimate is exact
        ...     return 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * params["w"] ** 2)
        >>> tx = lrjax.adahessian(learning_rate=0.5)
        >>> params = {"w": jnp.array([1.0, 1.0])}
        >>> state = tx.init(params)
        >>> grads = jax.grad(loss)(params)
        >>> updates, state = tx.update(grads, state, params, loss_fn=loss)
        >>> # step 1: -lr * g / (|D| + eps), D = [1, 4]: half a Newton step
        >>> [round(float(u), 3) for u in updates["w"]]
        [-0.5, -0.5]
        >>> print(lrjax.get_learning_rate(state))
        0.5
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_adahessian(
            b1,
            b2,
            eps,
            hessian_power,
            spatial_average_size,
            mu_dtype,
            key=key,
            num_samples=num_samples,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
