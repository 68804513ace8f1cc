"""RMSProp (Tieleman & Hinton, 2012), plain or centered (Graves, 2013), with momentum.

Accepts complex parameters (squares are ``|g|**2``; the averages are real,
kept in the parameter's dtype as optax keeps them) and float16/bfloat16 ones
(arithmetic in at least float32, state stored in the declared dtypes).
"""

from __future__ import annotations

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.momentum import trace
from lrjax.transforms.rmsprop import scale_by_rms, scale_by_stddev
from lrjax.transforms.scaling import identity, scale_by_learning_rate

__all__ = ["rmsprop"]


@elementwise_constructor()
def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: float | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
    *,
    mu_dtype: DTypeLike | None = None,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """RMSProp (Tieleman & Hinton, 2012), optionally centered (Graves, 2013).

    With ``s_0 = initial_scale``, ``m_0 = 0``, ``v_0 = 0``::

        s <- decay * s + (1 - decay) * g**2       (no division by decay)
        m <- decay * m + (1 - decay) * g          (centered=True only)
        d = s - m**2 if centered else s           (each / (1 - decay**t) if
                                                   bias_correction)
        r = g / sqrt(d + eps)                     (eps_in_sqrt=True, default)
        r = g / (sqrt(d) + eps)                   (eps_in_sqrt=False)
        v <- momentum * v + r                     (momentum is not None)
        w <- w - lr * v                           (or lr * r without momentum;
                                                   lr * (r + momentum * v)
                                                   with nesterov=True)

    The learning rate multiplies the momentum buffer on the way out, as in
    PyTorch. optax and Keras put ``lr`` inside the buffer (``v <- momentum * v
    + lr * r``): the same for a constant rate, different under a schedule.

    PyTorch: ``torch.optim.RMSprop(lr, alpha, eps, momentum=mom, centered=c)``
    is ``lrjax.rmsprop(lr, decay=alpha, eps=eps, eps_in_sqrt=False,
    centered=c, momentum=mom or None)`` (PyTorch's defaults: ``alpha=0.99``,
    ``eps=1e-8``; its ``weight_decay`` is L2, ``add_decayed_weights`` chained
    before).

    Keras: ``keras.optimizers.RMSprop(learning_rate, rho, momentum, epsilon,
    centered)`` is ``lrjax.rmsprop(learning_rate, decay=rho, eps=epsilon,
    centered=centered, momentum=momentum or None)`` (eps inside the root, as
    lrjax's default; Keras's defaults: ``rho=0.9``, ``epsilon=1e-7``).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      decay: EMA decay, in ``[0, 1)``. Default 0.9.
      eps: ``>= 0``; see ``eps_in_sqrt``. Default 1e-8.
      initial_scale: ``s_0``, ``>= 0``. Default 0.
      eps_in_sqrt: add ``eps`` inside the root. Default True.
      centered: divide by an estimate of the variance instead of the second
        moment. Default False.
      momentum: in ``[0, 1]``, or ``None`` for none. Default None.
      nesterov: Nesterov momentum; needs a momentum. Default False.
      bias_correction: divide the EMAs by ``1 - decay**t``. Default False.
      mu_dtype: dtype of the centered mean and of the momentum buffer
        (default: the param's; a real dtype for a complex param means its
        complex counterpart, e.g. float32 -> complex64). lrjax addition.
      nu_dtype: dtype of ``s`` (default: the param's). lrjax addition.

    Returns:
      ``chain(scale_by_rms or scale_by_stddev, [trace(momentum, nesterov)],
      scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.rmsprop(learning_rate=0.01)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> updates, state = tx.update({"w": jnp.array([0.5, -0.5])}, state, params)
        >>> # -lr * g / sqrt((1 - decay) * g**2) = -lr * sign(g) / sqrt(0.1)
        >>> [round(float(u), 5) for u in updates["w"]]
        [-0.03162, 0.03162]
        >>> print(lrjax.get_learning_rate(state))
        0.01
    """
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_type("centered", centered, bool)
    val.check_type("nesterov", nesterov, bool)
    if centered:
        scaler = scale_by_stddev(
            decay,
            eps,
            initial_scale,
            eps_in_sqrt,
            bias_correction,
            mu_dtype=mu_dtype,
            nu_dtype=nu_dtype,
        )
    else:
        val.check_dtype("mu_dtype", mu_dtype)
        scaler = scale_by_rms(
            decay, eps, initial_scale, eps_in_sqrt, bias_correction, nu_dtype=nu_dtype
        )
    if momentum is None:
        if nesterov:
            raise ValueError("nesterov=True needs a momentum, got momentum=None.")
        mom = identity()
    else:
        val.check_in_range("momentum", momentum, 0.0, 1.0)
        mom = trace(momentum, nesterov, mu_dtype)
    return chain(scaler, mom, scale_by_learning_rate(learning_rate))
