"""AdaGrad, RMSProp and AdaDelta: per-parameter rates from squared gradients.

All three accept complex parameters (squares are ``|g|**2``; the averages are
real, kept in the parameter's dtype as optax keeps them) and float16/bfloat16
ones (arithmetic in at least float32, state stored in the declared dtype).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.adaptive import (
    scale_by_adadelta,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
)
from lrjax.transforms.momentum import trace
from lrjax.transforms.scaling import identity, scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["adagrad", "rmsprop", "adadelta"]


@elementwise_constructor()
def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """AdaGrad (Duchi et al., 2011).

    With ``G_0 = initial_accumulator_value``::

        G <- G + g**2                              (squared *gradients*)
        w <- w - lr * g / sqrt(G + eps)            (eps_in_sqrt=True, default)
        w <- w - lr * g / (sqrt(G) + eps)          (eps_in_sqrt=False)

    Defaults (optax's): ``initial_accumulator_value=0.1``, ``eps=1e-7`` inside
    the root. ``G`` only grows, so the effective rate decays like ``1/sqrt(t)``.

    PyTorch: ``torch.optim.Adagrad(lr, initial_accumulator_value=v, eps=e)`` is
    ``lrjax.adagrad(lr, initial_accumulator_value=v, eps=e, eps_in_sqrt=False)``
    (PyTorch's defaults are ``v=0``, ``e=1e-10`` outside the root). Its
    ``lr_decay=d`` is the schedule ``lambda t: lr / (1 + t * d)``; its
    ``weight_decay`` adds ``wd * w`` to ``g`` (L2), i.e.
    ``optax.chain(lrjax.add_decayed_weights(wd), lrjax.adagrad(...))``.

    Keras: ``keras.optimizers.Adagrad(learning_rate, initial_accumulator_value,
    epsilon)`` is ``lrjax.adagrad(learning_rate, initial_accumulator_value,
    epsilon)`` (eps inside the root; same 0.1 / 1e-7 defaults).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      initial_accumulator_value: ``G_0``, ``>= 0``. Default 0.1.
      eps: ``>= 0``. Default 1e-7.
      eps_in_sqrt: where ``eps`` goes. lrjax addition. Default True.
      nu_dtype: dtype of ``G`` (default: the param's). lrjax addition.

    Returns:
      ``chain(scale_by_rss(...), scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_rss(
            initial_accumulator_value,
            eps,
            eps_in_sqrt=eps_in_sqrt,
            nu_dtype=nu_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )


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
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
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


@elementwise_constructor(mask_args=("weight_decay_mask",))
def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any | None = None,
    *,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """AdaDelta (Zeiler, 2012).

    With ``RMS[y] = sqrt(E[y**2] + eps)`` and both averages starting at 0::

        g <- g + weight_decay * w                 (L2 form, before the scaling)
        E[g**2] <- rho * E[g**2] + (1 - rho) * g**2
        dx = RMS[dx]_{t-1} / RMS[g]_t * g
        E[dx**2] <- rho * E[dx**2] + (1 - rho) * dx**2
        w <- w - lr * dx

    Complex gradients: the averages hold ``|g|**2`` and ``|dx|**2``. optax
    0.2.8 squares complex numbers here (``g**2``), so its complex steps differ.

    .. warning:: **``learning_rate=None`` differs from optax.** In lrjax it
       means a rate of 1.0 (Zeiler's method has no rate) and still descends:
       ``lrjax.adadelta(None)`` is ``optax.adadelta(1.0)``. optax's ``None``
       applies ``+dx`` without the sign flip, so ``optax.adadelta()`` climbs
       the gradient.

    PyTorch: ``torch.optim.Adadelta(lr, rho, eps, weight_decay)`` is
    ``lrjax.adadelta(lr, rho, eps, weight_decay)`` (PyTorch's defaults:
    ``lr=1.0``, ``rho=0.9``, ``eps=1e-6``, both with eps inside the roots,
    weight decay added to the gradient). Keras:
    ``keras.optimizers.Adadelta(learning_rate, rho, epsilon)`` is
    ``lrjax.adadelta(learning_rate, rho, epsilon)`` (Keras's defaults:
    ``learning_rate=1e-3``, ``rho=0.95``, ``epsilon=1e-7``).

    Args:
      learning_rate: a number ``>= 0``, a schedule, or ``None`` for 1.0.
        Default None.
      rho: decay of both averages, in ``[0, 1)``. Default 0.9.
      eps: ``> 0``. Default 1e-6.
      weight_decay: L2 coefficient ``>= 0`` or a schedule. Default 0.
      weight_decay_mask: tree of bools or callable ``params -> tree`` marking
        the decayed params; ``None`` decays all.
      nu_dtype: dtype of both averages (default: the param's). lrjax addition.

    Returns:
      ``chain(add_decayed_weights(weight_decay, weight_decay_mask),
      scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))``.
    """
    val.check_learning_rate("learning_rate", learning_rate, allow_none=True)
    val.check_learning_rate("weight_decay", weight_decay)
    no_decay = val.is_checkable(weight_decay) and not np.any(weight_decay)
    return chain(
        # Without decay, skip the block so that `update` needs no params.
        identity()
        if no_decay
        else add_decayed_weights(
            weight_decay, weight_decay_mask, mask_name="weight_decay_mask"
        ),
        scale_by_adadelta(rho, eps, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )
