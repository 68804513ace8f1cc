"""Step handling every schedule shares.

A schedule accepts Python ints, NumPy and JAX integer or float scalars and
arrays of steps (element-wise), under ``jit`` and ``vmap``. Negative steps
count as step 0. Other steps (a string, a bool, an integer outside int32,
which JAX would reject with an ``OverflowError`` or NumPy would silently wrap)
are refused by :func:`as_step`, naming ``step``. Steps up to ``2**31 - 1`` must give finite values, so
integer arithmetic (floor divisions, boundaries) is done in int32 and only
the fractional position inside a phase is taken to float32.

jit and eager agree to float32 rounding at every step. XLA may rewrite
``x / L`` as ``x * (1 / L)`` and fuse ``1 - x * c`` into one FMA under
``jit``, so ``1 - t / L`` at ``t = L`` can come out as ``2e-8`` instead of 0
(and ``2e-8 ** 0.1 = 0.17``). Phases are therefore measured from both ends
in int32 (:func:`phase_fractions`), each fraction pinned to exact 0 and 1,
and never formed as ``1 - fraction``. Powers of a factor (``gamma ** t``)
take ``log(gamma)`` in float64 on the host (:func:`log_factor`).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _numerics as num
from lrjax import _validation as val

__all__ = [
    "F32_MAX",
    "as_step",
    "int_step",
    "float_step",
    "as_value",
    "check_finite",
    "shift",
    "shaped",
    "split_step",
    "step_arg",
    "check_not_above",
    "phase_fractions",
    "pinned_fractions",
    "interpolate",
    "cosine_weight",
    "log_factor",
    "geometric",
    "saturate",
    "check_factor",
]

F32_MAX = float(np.finfo(np.float32).max)


_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_STEP_RANGE = (
    "an integer in [0, 2**31 - 1] (int32; negative steps down to -2**31 count "
    "as step 0)"
)


def _is_step_dtype(dtype: Any) -> bool:
    return jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)


def as_step(step: Any) -> jax.Array:
    """``step`` as a JAX array, once checked to be a step a schedule can take.

    Integers must fit int32: JAX raises an ``OverflowError`` for a Python int
    of ``2**31`` and NumPy int64 arrays would wrap to negative steps. Tracers
    are checked by dtype only (their values are unknown); concrete arrays of
    a dtype wider than int32 are checked by value, the others cost nothing.
    """
    if isinstance(step, (bool, np.bool_)):
        raise TypeError(
            f"step must be {_STEP_RANGE} or a float, got the bool {step!r}."
        )
    if isinstance(step, int):
        if not _INT32_MIN <= step <= _INT32_MAX:
            raise ValueError(f"step must be {_STEP_RANGE}, got {step!r}.")
        return jnp.asarray(step)
    dtype = getattr(step, "dtype", None)
    arr = step
    if dtype is None and not isinstance(step, (str, bytes)) and step is not None:
        try:
            arr = np.asarray(step)  # lists of steps
            dtype = arr.dtype
        except (TypeError, ValueError):
            dtype = None
    if dtype is None or not _is_step_dtype(dtype):
        raise TypeError(
            f"step must be {_STEP_RANGE}, a float, or an array or tracer of "
            f"integer or float steps, got {step!r} of type {type(step).__name__}"
            + (f" with dtype {dtype}." if dtype is not None else ".")
        )
    if (
        jnp.issubdtype(dtype, jnp.integer)
        and not isinstance(step, jax.core.Tracer)
        and (np.iinfo(dtype).max > _INT32_MAX or np.iinfo(dtype).min < _INT32_MIN)
        and np.size(arr) > 0
    ):
        values = np.asarray(arr)
        low, high = int(values.min()), int(values.max())
        if low < _INT32_MIN or high > _INT32_MAX:
            bad = low if low < _INT32_MIN else high
            where = (
                ""
                if values.ndim == 0
                else f" (an array of {values.dtype} holding {bad})"
            )
            raise ValueError(f"step must be {_STEP_RANGE}, got {bad!r}{where}.")
    return jnp.asarray(arr)


def int_step(step: Any) -> jax.Array:
    """The step as int32, floored, with negatives clamped to 0."""
    step = as_step(step)
    if jnp.issubdtype(step.dtype, jnp.floating):
        big = jnp.asarray(2**31 - 1, jnp.float32)
        step = jnp.floor(jnp.clip(step.astype(jnp.float32), 0.0, big))
        return jnp.where(step >= big, 2**31 - 1, step.astype(jnp.int32))
    return jnp.maximum(step.astype(jnp.int32), 0)


def float_step(step: Any) -> jax.Array:
    """The step as float32, with negatives clamped to 0 (fractions kept)."""
    return jnp.maximum(as_step(step).astype(jnp.float32), 0.0)


def as_value(value: Any) -> jax.Array:
    """A schedule value as float32: an argument (``init_value``, ...) or an output."""
    return jnp.asarray(value, jnp.float32)


def shaped(value: Any, step: Any) -> jax.Array:
    """float32 ``value`` broadcast to the shape of ``step``."""
    value = as_value(value)
    shape = jnp.broadcast_shapes(jnp.shape(value), jnp.shape(step))
    return jnp.broadcast_to(value, shape)


def check_finite(name: str, value: Any) -> None:
    """A schedule value (init, peak, end): any finite real number."""
    val.check_in_range(
        name, value, -math.inf, math.inf, low_inclusive=False, high_inclusive=False
    )


def split_step(step: Any) -> tuple[jax.Array, jax.Array]:
    """The step as an int32 whole part and a float32 fraction in ``[0, 1)``.

    Boundaries and floor divisions use the exact whole part; the fraction
    (zero for integer steps) only shifts the position inside a phase, so
    fractional steps, such as epochs from ``per_epoch_schedule``, interpolate.
    """
    step = as_step(step)
    whole = int_step(step)
    if not jnp.issubdtype(step.dtype, jnp.floating):
        return whole, jnp.zeros(whole.shape, jnp.float32)
    clipped = float_step(step)
    frac = jnp.clip(clipped - jnp.floor(clipped), 0.0, 1.0)
    # Past 2**24 float32 has no fractional bits; saturated steps have none.
    frac = jnp.where(whole >= 2**31 - 1, 0.0, frac)
    return whole, frac


def shift(whole: jax.Array, frac: jax.Array, offset: int) -> tuple[jax.Array, ...]:
    """The split step seen from ``offset``: ``(step - offset)``, clamped at 0."""
    started = whole >= offset
    return jnp.maximum(whole - offset, 0), jnp.where(started, frac, 0.0)


def step_arg(name: str, value: Any, *, minimum: int = 0) -> int:
    """A concrete step-count argument as a Python int in ``[minimum, 2**31-1]``.

    Integral floats such as ``1e4`` are accepted, as optax accepts them.
    Traced values are refused: step arguments fix int32 boundaries.
    """
    if isinstance(value, jax.core.Tracer) or callable(value):
        raise TypeError(
            f"{name} must be a concrete integer (not traced), got {value!r}."
        )
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}.")
    arr = np.asarray(value)
    if arr.ndim != 0 or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}."
        )
    if np.issubdtype(arr.dtype, np.floating) and not (
        np.isfinite(arr) and float(arr).is_integer()
    ):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    count = int(arr)
    if not minimum <= count <= 2**31 - 1:
        raise ValueError(
            f"{name} must be an integer in [{minimum}, 2**31 - 1], got {value!r}."
        )
    return count


def check_factor(name: str, value: Any) -> None:
    """A factor applied once per period: ``>= 0`` and finite.

    0 and factors above 1 are accepted (PyTorch and Keras define them); a
    negative factor is refused, with the reason: it would flip the sign of
    the learning rate every period.
    """
    try:
        val.check_non_negative(name, value)
    except ValueError as err:
        raise ValueError(
            f"{err} A negative factor would flip the sign of the learning rate "
            "every period, which has no meaning for a learning rate."
        ) from None


def check_not_above(low_name: str, low: Any, high_name: str, high: Any) -> None:
    """Requires ``low <= high`` for concrete values; names both arguments."""
    if not (val.is_checkable(low) and val.is_checkable(high)):
        return
    if np.any(np.asarray(low) > np.asarray(high)):
        raise ValueError(
            f"{low_name} must be <= {high_name}, got {low_name}={low!r} and "
            f"{high_name}={high!r}."
        )


def pinned_fractions(done: Any, left: Any, length: Any) -> tuple[jax.Array, jax.Array]:
    """``(done / length, left / length)``, exactly 0 and 1 at the two ends.

    ``done`` and ``left`` are the float32 amounts of a phase of ``length``
    steps already run and still to run (``done + left = length``), each
    computed without cancellation. Each is divided once and clipped to
    ``[0, 1]``; where one amount is 0 the fractions are exactly ``(0, 1)`` or
    ``(1, 0)``, whatever rounding XLA's reciprocal multiplication gives.
    """
    done = jnp.asarray(done, jnp.float32)
    left = jnp.asarray(left, jnp.float32)
    first = done <= 0
    last = left <= 0
    d = jnp.where(last, 1.0, jnp.where(first, 0.0, jnp.clip(done / length, 0, 1)))
    rest = jnp.where(first, 1.0, jnp.where(last, 0.0, jnp.clip(left / length, 0, 1)))
    return d, rest


def phase_fractions(
    whole: jax.Array, frac: jax.Array, begin: int, length: int
) -> tuple[jax.Array, jax.Array]:
    """Fractions done and left of the phase of ``length`` steps from ``begin``.

    With ``t`` the split step ``whole + frac`` and ``c = clip(t - begin, 0,
    length)``: ``(c / length, (length - c) / length)``. Both differences are
    taken in int32 (exact up to ``2**31 - 1``) before going to float32, so
    neither fraction suffers cancellation, and both are pinned at the ends
    (:func:`pinned_fractions`).
    """
    started = whole >= begin
    done_int = jnp.minimum(jnp.maximum(whole - begin, 0), length)
    frac = jnp.where(started & (done_int < length), frac, 0.0)
    done = done_int.astype(jnp.float32) + frac
    left = (length - done_int).astype(jnp.float32) - frac
    return pinned_fractions(done, left, float(length))


def interpolate(start: Any, end: Any, done: Any, left: Any) -> jax.Array:
    """``start * left + end * done``: the point ``done`` of the way to ``end``.

    A weighted mean of the two values, exact at both ends and free of
    cancellation when they have the same sign (``start + (end - start) *
    done`` is neither).
    """
    return start * left + end * done


def cosine_weight(left: Any) -> jax.Array:
    """``(1 + cos(pi * (1 - left))) / 2``: 1 at ``left = 1``, 0 at ``left = 0``.

    Half a cosine period, from the fraction of the phase still to run.
    Evaluated as ``sin(pi * left / 2) ** 2``, which keeps float32 relative
    precision down to the end of the phase (``1 + cos`` near its zero loses
    it to cancellation). ``cosine_weight(done)`` is the complementary weight
    ``(1 - cos(pi * done)) / 2`` of the end value.
    """
    left = jnp.asarray(left, jnp.float32)
    value = jnp.square(jnp.sin((0.5 * jnp.pi) * left))
    # sin(float32(pi / 2)) rounds to 1, but pin the start anyway.
    return jnp.where(left >= 1.0, 1.0, value)


def log_factor(value: Any, per: int = 1) -> Any:
    """``log(value) / per`` for ``value ** (t / per)``; ``-inf`` for 0.

    Concrete values are taken in float64 on the host and rounded once to
    float32: the float32 value of ``0.9999`` is off by 1.7e-8 relative, which
    ``0.9999 ** 65536`` would turn into 1e-3. Traced values fall back to a
    float32 logarithm.
    """
    if num.is_concrete(value):
        arr = np.asarray(value, np.float64)
        with np.errstate(divide="ignore"):
            log = np.where(arr > 0, np.log(np.where(arr > 0, arr, 1.0)), -np.inf)
        return np.asarray(log / per, np.float32)
    return jnp.log(jnp.asarray(value, jnp.float32)) / per


def geometric(log_rate: Any, exponent: Any) -> jax.Array:
    """``rate ** exponent`` as ``exp(exponent * log(rate))``, for ``exponent >= 0``.

    ``log_rate`` comes from :func:`log_factor`. Exactly 1 at exponent 0
    (also for a rate of 0, as ``0 ** 0 = 1`` in PyTorch and Keras), and
    saturating at the largest float32 for rates above 1. The relative error
    is about ``(|exponent * log(rate)| + 2)`` float32 ulps: the rounding of
    the log and of the product, scaled by the size of the exponent.
    """
    exponent = jnp.asarray(exponent, jnp.float32)
    value = jnp.exp(exponent * log_rate)
    value = jnp.where(exponent <= 0, 1.0, value)
    return jnp.minimum(value, F32_MAX)


def saturate(value: Any) -> jax.Array:
    """``value`` clipped to the finite float32 range (overflow saturates)."""
    return jnp.clip(value, -F32_MAX, F32_MAX)
