"""Adafactor: factored second moments and relative steps (Shazeer & Stern, 2018)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax._numerics import AxisName
from lrjax.transforms.adafactor import (
    clip_by_block_rms,
    scale_by_factored_rms,
    scale_by_param_block_rms,
)
from lrjax.transforms.momentum import ema
from lrjax.transforms.scaling import scale, scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["adafactor", "adafactor_relative_step"]


def adafactor_relative_step(count: ArrayLike) -> jax.Array:
    """The paper's relative step size ``rho_t = min(1e-2, 1 / sqrt(t))``.

    ``t = count + 1`` counts updates from 1: the rate is 1e-2 for the first
    10,000 updates, then decays as ``1 / sqrt(t)``. This is the schedule
    :func:`adafactor` uses when ``learning_rate=None``.

    Examples:
        >>> import lrjax
        >>> print(lrjax.adafactor_relative_step(0))  # t = 1: min(1e-2, 1)
        0.01
        >>> print(lrjax.adafactor_relative_step(39_999))  # t = 40,000: 1 / 200
        0.005
    """
    t = jnp.asarray(count, jnp.float32) + 1.0
    return jnp.minimum(1e-2, jax.lax.rsqrt(t))


@elementwise_constructor(
    "it factors each leaf's second moment by rows and columns and clips each leaf's update by its RMS"
)
def adafactor(
    learning_rate: ScalarOrSchedule | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: float = 0.8,
    decay_offset: int = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: float | None = 1.0,
    momentum: float | None = None,
    dtype_momentum: DTypeLike = jnp.float32,
    weight_decay_rate: ScalarOrSchedule | None = None,
    eps: float = 1e-30,
    factored: bool = True,
    weight_decay_mask: Any | None = None,
    *,
    nu_dtype: DTypeLike | None = None,
    axis_name: AxisName = None,
) -> GradientTransformationExtraArgs:
    """Adafactor (Shazeer & Stern, 2018, "Adafactor: Adaptive Learning Rates
    with Sublinear Memory Cost").

    With ``t`` counting updates from 1 and ``RMS(x) = sqrt(mean(x**2))`` over
    one parameter leaf::

        beta = 1 - t**(-decay_rate)                  (decay_offset shifts t)
        u = g / sqrt(V)      V: factored (matrices with both of their two
                             largest axes >= min_dim_size_to_factor) or full
                             EMA of g**2 + eps, see scale_by_factored_rms
        u <- u / max(1, RMS(u) / clipping_threshold)     (if not None)
        u <- lr(t) * u
        u <- u * max(1e-3, RMS(w))                   (multiply_by_parameter_scale)
        u <- m = momentum * m + (1 - momentum) * u   (if momentum is not None)
        u <- u + weight_decay_rate * w               (if not None; not times lr)
        w <- w - u

    Complex parameters use ``|g|**2`` and modulus RMS, as optax does.

    This is optax's order of blocks, so ``lrjax.adafactor(**kw)`` and
    ``optax.adafactor(**kw)`` agree whenever ``learning_rate`` is given.

    ``learning_rate=None`` differs from optax on purpose: optax then applies
    no rate at all (a relative step of 1.0: each step moves a parameter by
    about its own RMS). lrjax uses the paper's relative step
    ``min(1e-2, 1 / sqrt(t))`` (:func:`adafactor_relative_step`), which with
    ``multiply_by_parameter_scale=True`` is the paper's
    ``alpha_t = max(1e-3, RMS(w)) * rho_t``; :func:`lrjax.get_learning_rate`
    reports ``rho_t``.

    PyTorch: ``torch.optim.Adafactor(lr, beta2_decay=-decay_rate, d=
    clipping_threshold, weight_decay)`` (PyTorch >= 2.5) uses
    ``rho_t = min(lr, 1 / sqrt(t))``, always scales by the parameter RMS,
    has no momentum, and multiplies its weight decay by ``lr``. Keras:
    ``keras.optimizers.Adafactor(learning_rate, beta_2_decay=-decay_rate,
    epsilon_1=eps, epsilon_2=1e-3, clip_threshold=clipping_threshold,
    relative_step=True)`` uses ``min(learning_rate, 1 / sqrt(t))`` likewise.

    Args:
      learning_rate: ``None`` (the relative step above, default), a number
        ``>= 0`` or a schedule. Adafactor's rates are relative (scaled by the
        parameters' RMS), so they are larger than Adam's.
      min_dim_size_to_factor: factor a leaf only if its second largest axis
        has at least this many elements. Default 128.
      decay_rate: exponent ``c`` of ``beta = 1 - t**-c``, ``>= 0``. Default 0.8.
      decay_offset: step subtracted before computing ``beta`` (to restart the
        decay when fine-tuning), ``>= 0``. Default 0.
      multiply_by_parameter_scale: multiply by ``max(1e-3, RMS(w))``.
        Default True.
      clipping_threshold: the RMS clipping threshold ``d``, ``> 0``, or None
        for no clipping. Default 1.0.
      momentum: EMA decay of the first moment in ``[0, 1)``, or None (no
        first moment, saving memory). Default None.
      dtype_momentum: dtype of the first moment. Default float32; for a
        complex param the complex dtype of that precision (complex64), where
        optax would drop the imaginary part.
      weight_decay_rate: ``>= 0``, a schedule or None (no decay). Default None.
      eps: added to ``g**2``, ``>= 0``. Default 1e-30.
      factored: use factored second moments at all. Default True.
      weight_decay_mask: tree of bools or callable ``params -> tree`` marking
        decayed params.
      nu_dtype: lrjax addition: dtype of the second-moment statistics
        (default: the param's).
      axis_name: lrjax addition: the mesh axis the parameters are split
        across under ``shard_map``, for whole-leaf RMS in the clipping and
        parameter-scale steps (see :func:`lrjax.global_norm`). Factored
        statistics stay per device: leaves that are factored must not be
        split (see :func:`lrjax.scale_by_factored_rms`). Default None.

    Returns:
      A chain of :func:`lrjax.scale_by_factored_rms`,
      :func:`lrjax.clip_by_block_rms`, :func:`lrjax.scale_by_learning_rate`
      (``flip_sign=False``), :func:`lrjax.scale_by_param_block_rms`,
      :func:`lrjax.ema`, :func:`lrjax.add_decayed_weights` and ``scale(-1)``,
      the optional ones only where enabled.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> grads = {"w": jnp.array([0.5, -3.0])}
        >>> tx = lrjax.adafactor(learning_rate=0.1, multiply_by_parameter_scale=False)
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> updates["w"]  # beta = 0 at step 1, so V = g**2: -lr * g / |g|
        Array([-0.1,  0.1], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))
        0.1
        >>> tx = lrjax.adafactor()  # the paper's relative step, times RMS(w)
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> updates["w"]  # -0.01 * RMS(w) * g / |g|, RMS(w) = sqrt(2.5)
        Array([-0.01581139,  0.01581139], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))  # rho_1 = min(1e-2, 1 / sqrt(1))
        0.01
    """
    val.check_learning_rate("learning_rate", learning_rate, allow_none=True)
    val.check_type("multiply_by_parameter_scale", multiply_by_parameter_scale, bool)
    if clipping_threshold is not None:
        val.check_positive("clipping_threshold", clipping_threshold)
    if momentum is not None:
        val.check_in_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
    val.check_dtype("dtype_momentum", dtype_momentum)
    if weight_decay_rate is not None:
        val.check_learning_rate("weight_decay_rate", weight_decay_rate)
    val.check_non_negative("eps", eps)
    val.check_non_negative("decay_offset", decay_offset)

    rate = adafactor_relative_step if learning_rate is None else learning_rate
    blocks = [
        scale_by_factored_rms(
            factored,
            decay_rate,
            decay_offset,
            min_dim_size_to_factor,
            eps,
            nu_dtype=nu_dtype,
        )
    ]
    if clipping_threshold is not None:
        blocks.append(clip_by_block_rms(clipping_threshold, axis_name=axis_name))
    blocks.append(scale_by_learning_rate(rate, flip_sign=False))
    if multiply_by_parameter_scale:
        blocks.append(scale_by_param_block_rms(axis_name=axis_name))
    if momentum is not None:
        blocks.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        blocks.append(
            add_decayed_weights(
                weight_decay_rate, weight_decay_mask, mask_name="weight_decay_mask"
            )
        )
    # The blocks above build the ascent step; flip it last, as optax does.
    blocks.append(scale(-1.0))
    return chain(*blocks)
