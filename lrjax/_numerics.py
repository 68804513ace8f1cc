"""Numerical rules every building block shares.

* Step counters are int32 and saturate at ``2**31 - 1`` instead of wrapping.
* Every state buffer (moment, trace, accumulator) is made by
  :func:`tree_buffers`, which picks its dtype and keeps the parameter's
  sharding, also under ``jax.jit``.
* Per-element arithmetic runs in :func:`compute_dtype`: at least float32
  (wider when the gradient or a state buffer is wider, complex when either is
  complex), so float16/bf16 squares do not underflow before any cast.
* Values written back to state or returned as updates are cast to the dtype
  they were declared with, so NumPy scalars or float32 hyperparameters never
  promote a bf16 tree to float32.
* Only inexact (floating or complex) parameters can be optimized:
  :func:`check_optimizable` rejects integer and boolean leaves at ``init``.
* Complex numbers: second moments and norms use the squared modulus
  :func:`abs_sq` (``g * conj(g)``, real), never ``g**2``.
* Reductions over a tree or a leaf that ``shard_map`` splits across devices
  are completed with :func:`psum_if` before any square root or division.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "COUNT_MAX",
    "zero_count",
    "safe_increment",
    "bias_correction",
    "log_decay",
    "float_dtype",
    "is_concrete",
    "buffer_like",
    "tree_buffers",
    "tree_copy",
    "tree_cast_like",
    "resolve_dtype",
    "rate_at",
    "tree_unzip",
    "compute_dtype",
    "upcast",
    "abs_sq",
    "clip_modulus",
    "real_part",
    "update_dtype",
    "cast",
    "keep_weak",
    "check_optimizable",
    "AxisName",
    "psum_if",
]

COUNT_MAX = int(jnp.iinfo(jnp.int32).max)

# A mesh axis name (or several) for the collectives of sharded reductions.
AxisName = str | tuple[str, ...] | None


def is_concrete(value: Any) -> bool:
    """True for a number known now (not a tracer, not a schedule)."""
    return not isinstance(value, jax.core.Tracer) and not callable(value)


def zero_count() -> jax.Array:
    """A fresh int32 step counter."""
    return jnp.zeros([], jnp.int32)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at ``2**31 - 1`` instead of overflowing."""
    count = jnp.asarray(count, jnp.int32)
    return jnp.where(count < COUNT_MAX, count + 1, COUNT_MAX).astype(jnp.int32)


def float_dtype() -> Any:
    """JAX's default float: float32, or float64 under ``jax_enable_x64``."""
    return jnp.dtype(jnp.result_type(float))


def log_decay(decay: Any) -> jax.Array:
    """``log(decay)`` for ``decay`` in ``[0, 1)`` (``-inf`` at 0).

    A concrete ``decay`` is taken in float64 on the host, then rounded once:
    ``float32(0.9999)`` is 1.7e-8 relative off, which ``decay**t`` multiplies
    by ``t``. A traced one falls back to the logarithm in :func:`float_dtype`.
    """
    if is_concrete(decay):
        d = np.asarray(decay, np.float64)
        with np.errstate(divide="ignore"):
            log = np.where(d > 0, np.log(np.where(d > 0, d, 1.0)), -np.inf)
        return jnp.asarray(log, float_dtype())
    return jnp.log(jnp.asarray(decay, float_dtype()))


def bias_correction(decay: Any, count: jax.Array) -> jax.Array:
    """The scalar ``1 / (1 - decay**count)`` that debiases an EMA.

    ``count`` is the number of EMA updates made (>= 1). Computed as
    ``-1 / expm1(count * log(decay))``, which does not cancel when
    ``decay**count`` is close to 1 (``b2 = 0.9999`` at small ``count``), in
    :func:`float_dtype` (float64 under ``jax_enable_x64``). Computed once per
    step as a scalar, then broadcast, instead of dividing every leaf.
    """
    exponent = jnp.asarray(count, float_dtype()) * log_decay(decay)
    return -1.0 / jnp.expm1(exponent)


def _dtype_of(x: Any) -> Any:
    # ShapeDtypeStruct and arrays carry .dtype; Python scalars do not.
    dtype = getattr(x, "dtype", None)
    return jnp.dtype(dtype) if dtype is not None else jnp.asarray(x).dtype


def resolve_dtype(param: Any, dtype: Any | None, *, holds_real: bool = False) -> Any:
    """The buffer dtype: ``dtype`` if given, else the parameter's dtype.

    For a complex parameter, a real ``dtype`` sets the precision of a complex
    buffer (float32 -> complex64, float64 -> complex128), since a first moment
    of complex gradients is complex and a real buffer would silently drop its
    imaginary part (optax does, with a warning). Buffers that hold real
    values by construction (second moments ``|g|**2``: ``holds_real=True``)
    keep a real ``dtype`` as declared, which halves their memory.
    """
    param_dtype = _dtype_of(param)
    if dtype is None:
        return param_dtype
    dtype = jnp.dtype(dtype)
    if (
        not holds_real
        and jnp.issubdtype(param_dtype, jnp.complexfloating)
        and not jnp.issubdtype(dtype, jnp.complexfloating)
    ):
        return jnp.promote_types(dtype, jnp.complex64)
    return dtype


def compute_dtype(*dtypes: Any) -> Any:
    """The dtype per-element arithmetic runs in.

    At least float32; wider when any input is wider (a float64 state), complex
    when any input is complex. float16 and bfloat16 never win, so squares of
    small gradients do not underflow and ``b2=0.999`` does not round to 1.
    """
    return functools.reduce(jnp.promote_types, dtypes, jnp.dtype(jnp.float32))


def upcast(*arrays: Any) -> tuple[jax.Array, ...]:
    """``arrays`` (Python scalars too) cast to their common :func:`compute_dtype`."""
    arrays = tuple(jnp.asarray(a) for a in arrays)
    dtype = compute_dtype(*(a.dtype for a in arrays))
    return tuple(a.astype(dtype) for a in arrays)


def abs_sq(x: jax.Array) -> jax.Array:
    """``|x|**2`` element-wise, real: ``x * conj(x)`` for complex ``x``."""
    if jnp.iscomplexobj(x):
        return jnp.square(jnp.real(x)) + jnp.square(jnp.imag(x))
    return jnp.square(x)


def clip_modulus(x: jax.Array, bound: Any) -> jax.Array:
    """``clip(x, -bound, bound)``; a complex ``x`` is scaled to ``|x| <= bound``.

    ``jnp.clip`` rejects complex values (they have no order): bounding the
    modulus and keeping the phase is the complex form of the same clip.
    """
    if not jnp.iscomplexobj(x):
        return jnp.clip(x, -bound, bound)
    modulus = jnp.abs(x)
    return jnp.where(modulus > bound, x * (bound / jnp.maximum(modulus, 1e-38)), x)


def real_part(x: jax.Array) -> jax.Array:
    """``x`` as a real array: a second moment kept in a complex buffer."""
    return jnp.real(x) if jnp.iscomplexobj(x) else x


def update_dtype(g: jax.Array, *state_dtypes: Any) -> Any:
    """The dtype a block returns the update computed from gradient ``g`` in.

    The gradient's own dtype, except for a weakly typed gradient (a Python
    scalar leaf, ``jnp.asarray``-ed): that one takes the dtype the block's
    state gives it under JAX's promotion, as it does in optax (a Python
    ``1.0`` meeting a bf16 moment gives a bf16 update).
    """
    if getattr(g, "weak_type", False):
        return jnp.result_type(g, *state_dtypes)
    return g.dtype


def cast(x: jax.Array, dtype: Any) -> jax.Array:
    """``x.astype(dtype)``; a complex ``x`` cast to a real dtype keeps its real part.

    For values whose imaginary part is zero by construction: a real
    parameter's update computed from a complex ``mu_dtype`` buffer.
    """
    if jnp.iscomplexobj(x) and not jnp.issubdtype(dtype, jnp.complexfloating):
        x = jnp.real(x)
    return x.astype(dtype)


def keep_weak(x: jax.Array, g: jax.Array) -> jax.Array:
    """``x`` (computed from ``g``, in ``g``'s dtype), weakly typed when ``g`` is.

    A stateless block (a rate multiplier) in front of a stateful one must
    pass a Python-scalar leaf on as weakly typed, so that the stateful block
    still gives it its state's dtype (optax's rule, see :func:`update_dtype`).
    """
    if getattr(g, "weak_type", False) and jnp.ndim(x) == 0:
        # lax.full_like takes g's dtype and weak type (no public cast does).
        return jax.lax.full_like(g, x)
    return x


def check_optimizable(params: Any, where: str) -> None:
    """Rejects parameter leaves that gradient updates cannot move.

    Integer and boolean leaves would silently never change (their updates are
    cast to the integer dtype); they must be excluded from the optimizer
    instead. Runs on shapes and dtypes only, so it is free under ``jit``.
    """
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        dtype = _dtype_of(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{where}: the parameter at {jax.tree_util.keystr(path) or 'the root'}"
                f" has dtype {dtype}, which gradient updates cannot move. Only "
                "floating and complex parameters can be optimized: exclude the "
                "others with optax.masked, optax.multi_transform (with "
                "optax.set_to_zero for them) or by leaving them out of the "
                "tree given to the optimizer."
            )


def buffer_like(
    param: Any,
    dtype: Any | None = None,
    fill: float = 0.0,
    *,
    holds_real: bool = False,
    history: int = 0,
) -> jax.Array:
    """An array shaped like ``param``, filled with ``fill``, on its sharding.

    ``jnp.zeros_like`` inside ``jit`` has no operand for XLA's sharding
    propagation to follow, so the buffer lands on one device. Selecting
    between two constants with a predicate computed from ``param`` gives the
    buffer a data dependence on ``param`` and therefore its sharding, at the
    cost of one elementwise op at init. ``holds_real``: see :func:`resolve_dtype`.
    ``history > 0`` prepends an unsharded axis of that length (a ring buffer
    of past values, each sharded like ``param``).
    """
    out_dtype = resolve_dtype(param, dtype, holds_real=holds_real)
    lead = (history,) if history else ()
    if isinstance(param, jax.ShapeDtypeStruct):
        # Abstract init (restore targets, sharding plans): no data to follow,
        # so place the buffer on the declared sharding, if any.
        sharding = param.sharding
        if history and sharding is not None:
            spec = getattr(sharding, "spec", None)
            sharding = (
                jax.sharding.NamedSharding(
                    sharding.mesh, jax.sharding.PartitionSpec(None, *spec)
                )
                if spec is not None
                else None
            )
        return jnp.full(lead + param.shape, fill, out_dtype, device=sharding)
    param = jnp.asarray(param)
    fill_value = jnp.asarray(fill, out_dtype)
    buffer = jnp.where(jnp.isnan(param), fill_value, fill_value).astype(out_dtype)
    return jnp.broadcast_to(buffer, lead + param.shape) if history else buffer


def tree_buffers(
    params: Any,
    dtype: Any | None = None,
    fill: float = 0.0,
    *,
    holds_real: bool = False,
    history: int = 0,
) -> Any:
    """:func:`buffer_like` over a tree (``None`` leaves stay ``None``).

    Rejects integer and boolean parameters (:func:`check_optimizable`).
    ``holds_real=True`` for second moments (see :func:`resolve_dtype`);
    ``history``: see :func:`buffer_like`.
    """
    check_optimizable(params, "lrjax init")
    return jax.tree_util.tree_map(
        lambda p: buffer_like(p, dtype, fill, holds_real=holds_real, history=history),
        params,
    )


def tree_copy(params: Any, dtype: Any | None = None) -> Any:
    """A copy of ``params`` kept in state (an anchor ``x_0``, an iterate ``z``).

    Each leaf is cast to ``dtype`` (default: its own) and is a distinct
    buffer, so that params and state can both be donated to a jitted step. It
    follows the parameter's sharding; an abstract leaf
    (``jax.ShapeDtypeStruct``) gives a zero buffer on its declared sharding,
    as :func:`tree_buffers` does. Rejects integer and boolean parameters.
    """
    check_optimizable(params, "lrjax init")

    def copy(p: Any) -> Any:
        if isinstance(p, jax.ShapeDtypeStruct):
            return buffer_like(p, dtype)
        return jnp.array(p, dtype=resolve_dtype(p, dtype), copy=True)

    return jax.tree_util.tree_map(copy, params)


def tree_cast_like(tree: Any, reference: Any) -> Any:
    """Casts every leaf of ``tree`` to the dtype of the matching leaf."""
    return jax.tree_util.tree_map(lambda t, r: t.astype(r.dtype), tree, reference)


def rate_at(
    learning_rate: Any, count: jax.Array, dtype: Any | None = None
) -> jax.Array:
    """A learning rate (number or schedule ``step -> rate``) at step ``count``.

    ``None`` means a rate of 1. The result is a scalar of ``dtype``, by default
    :func:`float_dtype` (float32, float64 under ``jax_enable_x64``).
    """
    dtype = float_dtype() if dtype is None else dtype
    if learning_rate is None:
        return jnp.ones([], dtype)
    value = learning_rate(count) if callable(learning_rate) else learning_rate
    return jnp.asarray(value, dtype)


def runtime_value(value: jax.Array, previous: jax.Array, count: jax.Array) -> jax.Array:
    """``value``, as a state field that XLA computes rather than copies.

    A state field that ``update`` sets to a compile-time constant (a fixed
    learning rate) is copied from the constant into a fresh output buffer at
    every step. On a GPU that copy cost more than the rest of the host time of
    a 144-leaf Adam step (3.2 ms against optax's 2.6 ms on an H200;
    BENCHMARKS.md). A select on a runtime step counter (never false: counts
    are ``>= 0``) is a small fused kernel that writes into the donated input
    buffer instead, and keeps ``value`` exact. Pass the *updated* counter: a
    second reader of the old one makes XLA copy it before the increment
    overwrites it in place.
    """
    return jnp.where(count >= 0, value, previous)


def tree_unzip(reference: Any, tuples: Any, n: int) -> tuple[Any, ...]:
    """Splits a tree of ``n``-tuples (shaped like ``reference``) into ``n`` trees.

    Lets a block compute all its per-leaf outputs (update, new moments) in one
    ``tree_map`` and still return one tree per output.
    """
    treedef = jax.tree_util.tree_structure(reference)
    leaves = treedef.flatten_up_to(tuples)
    return tuple(treedef.unflatten([leaf[i] for leaf in leaves]) for i in range(n))


def psum_if(x: Any, axis_name: AxisName) -> Any:
    """``jax.lax.psum(x, axis_name)``, or ``x`` itself when ``axis_name`` is None.

    Completes a partial sum (of squares, of products, of moduli) taken over
    the block of a sharded tree that one device holds, so that every device
    gets the sum over the whole tree. Called on sums only, before any square
    root or division: ``sqrt`` of a sum of per-device norms would be wrong.
    With ``None`` no collective is added (the jaxpr is unchanged).
    """
    if axis_name is None:
        return x
    return jax.lax.psum(x, axis_name)
