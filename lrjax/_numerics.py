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
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "COUNT_MAX",
    "zero_count",
    "safe_increment",
    "bias_correction",
    "buffer_like",
    "tree_buffers",
    "tree_copy",
    "tree_cast_like",
    "resolve_dtype",
    "as_scalar",
    "tree_unzip",
    "compute_dtype",
    "upcast",
    "abs_sq",
    "real_part",
    "check_optimizable",
]

COUNT_MAX = int(jnp.iinfo(jnp.int32).max)


def zero_count() -> jax.Array:
    """A fresh int32 step counter."""
    return jnp.zeros([], jnp.int32)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at ``2**31 - 1`` instead of overflowing."""
    count = jnp.asarray(count, jnp.int32)
    return jnp.where(count < COUNT_MAX, count + 1, COUNT_MAX).astype(jnp.int32)


def bias_correction(decay: Any, count: jax.Array) -> jax.Array:
    """The float32 scalar ``1 / (1 - decay**count)`` that debiases an EMA.

    ``count`` is the number of EMA updates made (>= 1). Computed once per step
    as a scalar, then broadcast, instead of dividing every leaf.
    """
    decay = jnp.asarray(decay, jnp.float32)
    return 1.0 / (1.0 - decay ** count.astype(jnp.float32))


def _dtype_of(x: Any) -> Any:
    # ShapeDtypeStruct and arrays carry .dtype; Python scalars do not.
    dtype = getattr(x, "dtype", None)
    return jnp.dtype(dtype) if dtype is not None else jnp.asarray(x).dtype


def resolve_dtype(param: Any, dtype: Any | None) -> Any:
    """The buffer dtype: ``dtype`` if given, else the parameter's dtype."""
    if dtype is not None:
        return jnp.dtype(dtype)
    return _dtype_of(param)


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


def real_part(x: jax.Array) -> jax.Array:
    """``x`` as a real array: a second moment kept in a complex buffer."""
    return jnp.real(x) if jnp.iscomplexobj(x) else x


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


def buffer_like(param: Any, dtype: Any | None = None, fill: float = 0.0) -> jax.Array:
    """An array shaped like ``param``, filled with ``fill``, on its sharding.

    ``jnp.zeros_like`` inside ``jit`` has no operand for XLA's sharding
    propagation to follow, so the buffer lands on one device. Selecting
    between two constants with a predicate computed from ``param`` gives the
    buffer a data dependence on ``param`` and therefore its sharding, at the
    cost of one elementwise op at init.
    """
    out_dtype = resolve_dtype(param, dtype)
    if isinstance(param, jax.ShapeDtypeStruct):
        # Abstract init (restore targets, sharding plans): no data to follow,
        # so place the buffer on the declared sharding, if any.
        return jnp.full(param.shape, fill, out_dtype, device=param.sharding)
    param = jnp.asarray(param)
    fill_value = jnp.asarray(fill, out_dtype)
    return jnp.where(jnp.isnan(param), fill_value, fill_value).astype(out_dtype)


def tree_buffers(params: Any, dtype: Any | None = None, fill: float = 0.0) -> Any:
    """:func:`buffer_like` over a tree (``None`` leaves stay ``None``).

    Rejects integer and boolean parameters (:func:`check_optimizable`).
    """
    check_optimizable(params, "lrjax init")
    return jax.tree_util.tree_map(lambda p: buffer_like(p, dtype, fill), params)


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


def as_scalar(value: Any, dtype: Any = jnp.float32) -> jax.Array:
    """A hyperparameter as a scalar array of ``dtype``."""
    return jnp.asarray(value, dtype)


def tree_unzip(reference: Any, tuples: Any, n: int) -> tuple[Any, ...]:
    """Splits a tree of ``n``-tuples (shaped like ``reference``) into ``n`` trees.

    Lets a block compute all its per-leaf outputs (update, new moments) in one
    ``tree_map`` and still return one tree per output.
    """
    treedef = jax.tree_util.tree_structure(reference)
    leaves = treedef.flatten_up_to(tuples)
    return tuple(treedef.unflatten([leaf[i] for leaf in leaves]) for i in range(n))
