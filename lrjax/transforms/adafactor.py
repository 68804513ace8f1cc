"""Adafactor's blocks (Shazeer & Stern, 2018): factored second moments, block RMS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation

__all__ = [
    "FactoredState",
    "scale_by_factored_rms",
    "decay_rate_pow",
    "factored_dims",
    "clip_by_block_rms",
    "scale_by_param_block_rms",
]


def decay_rate_pow(step: Any, exponent: Any = 0.8) -> jax.Array:
    """Adafactor's second-moment decay ``beta2_t = 1 - t**(-exponent)``.

    ``t = step + 1`` counts updates from 1, so the first update has
    ``beta2_1 = 0`` (the estimate starts at ``g**2``, no bias to correct).
    ``step`` is clipped at 0 (a step offset larger than the count would
    otherwise give ``0**(-c)`` or a negative base), and counted in float32 so
    a saturated int32 counter does not overflow.
    """
    t = jnp.maximum(jnp.asarray(step, jnp.float32), 0.0) + 1.0
    return 1.0 - t ** (-jnp.asarray(exponent, jnp.float32))


def factored_dims(
    shape: tuple[int, ...], factored: bool, min_dim_size_to_factor: int
) -> tuple[int, int] | None:
    """The axes ``(d1, d0)`` whose statistics are kept, or ``None``.

    ``d0`` is the largest axis and ``d1`` the second largest (ties: the later
    axis counts as larger). A leaf is factored when ``factored`` is set, it
    has at least two axes, and ``shape[d1] >= min_dim_size_to_factor``.
    """
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(np.asarray(shape), kind="stable")
    d1, d0 = int(order[-2]), int(order[-1])
    if shape[d1] < min_dim_size_to_factor:
        return None
    return d1, d0


class FactoredState(NamedTuple):
    """State of :func:`scale_by_factored_rms`.

    Each tree has one leaf per parameter. For a factored leaf ``v_row`` and
    ``v_col`` hold the statistics and ``v`` is a ``(1,)`` placeholder; for any
    other leaf ``v`` holds the full second moment and ``v_row``/``v_col`` are
    ``(1,)`` placeholders (the layout of optax's state).

    Attributes:
      count: int32 number of updates made (saturating).
      v_row: EMA of ``mean(g**2 + epsilon)`` over the largest axis ``d0``.
      v_col: EMA of ``mean(g**2 + epsilon)`` over the second largest ``d1``.
      v: EMA of ``g**2 + epsilon`` for leaves that are not factored.
    """

    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: float = 0.8,
    step_offset: int = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: float = 1e-30,
    decay_rate_fn: Callable[[Any, Any], Any] = decay_rate_pow,
    *,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """Divides updates by a (factored) estimate of the RMS gradient.

    Shazeer & Stern, 2018, "Adafactor: Adaptive Learning Rates with Sublinear
    Memory Cost". With ``beta = decay_rate_fn(count - step_offset,
    decay_rate)`` (default ``1 - t**-decay_rate``, ``t`` from 1) and
    ``G = |g|**2 + epsilon`` (the modulus for complex ``g``, as in optax):

    * a factored leaf (two largest axes ``d0 >= d1``, see :func:`factored_dims`)
      keeps only two vectors (per extra axis)::

          v_row <- beta * v_row + (1 - beta) * mean(G, axis=d0)
          v_col <- beta * v_col + (1 - beta) * mean(G, axis=d1)
          V     = v_row * v_col / mean(v_row, axis=d1)   (broadcast back)
          u     = g / sqrt(V)

      which is the paper's rank-1 estimate ``V = R C / (1^T R)`` written with
      means instead of sums (the factors of ``n`` and ``m`` cancel);
    * any other leaf keeps the full ``v <- beta * v + (1 - beta) * G`` and
      ``u = g / sqrt(v)``.

    Memory for an ``n x m`` matrix: ``n + m`` numbers instead of ``n * m``.
    No bias correction is needed: ``beta = 0`` at the first step.

    Model parallelism: this block takes no ``axis_name``. Under
    ``shard_map`` it sees each device's block of a leaf, so it decides
    factoring from the block's shape and takes row and column means over the
    block. Leaves it would factor must therefore not be split across a mesh
    axis (replicate them, or pass ``factored=False``, whose full second
    moment is element-wise and splits freely); this keeps the statistics free
    of collectives, as Adafactor's memory saving intends.

    Args:
      factored: factor the statistics of leaves that qualify. Default True.
      decay_rate: the ``decay_rate`` argument of ``decay_rate_fn``; for the
        default, the exponent ``c`` of ``1 - t**-c``, ``>= 0``. Default 0.8.
      step_offset: subtracted from the count before ``decay_rate_fn`` (to
        restart the decay schedule when fine-tuning), ``>= 0``. Default 0.
      min_dim_size_to_factor: factor only when the second largest axis has at
        least this many elements, integer ``> 0``. Default 128.
      epsilon: added to ``g**2``, ``>= 0``. Default 1e-30.
      decay_rate_fn: ``(step, decay_rate) -> beta``. Default
        :func:`decay_rate_pow`.
      nu_dtype: lrjax addition: dtype of the statistics (default: the
        parameter's). Computation is at least float32 in any case.

    Returns:
      A ``GradientTransformation`` with :class:`FactoredState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_factored_rms(min_dim_size_to_factor=2)
        >>> g = {"w": jnp.array([[1.0, 2.0], [2.0, 4.0]])}  # rank 1: V = g**2 exactly
        >>> state = tx.init(g)
        >>> [x.shape for x in (state.v_row["w"], state.v_col["w"])]  # 2 + 2 numbers
        [(2,), (2,)]
        >>> updates, state = tx.update(g, state)
        >>> updates["w"]  # beta = 0 at step 1: g / sqrt(V) = sign(g)
        Array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    val.check_type("factored", factored, bool)
    val.check_non_negative("decay_rate", decay_rate)
    val.check_non_negative("step_offset", step_offset)
    val.check_positive_int("min_dim_size_to_factor", min_dim_size_to_factor)
    val.check_non_negative("epsilon", epsilon)
    val.check_dtype("nu_dtype", nu_dtype)
    if not callable(decay_rate_fn):
        raise TypeError(
            "decay_rate_fn must be a callable (step, decay_rate) -> decay, "
            f"got {decay_rate_fn!r}."
        )

    def dims_of(x):
        return factored_dims(x.shape, factored, min_dim_size_to_factor)

    def init_leaf(p):
        dtype = num.resolve_dtype(p, nu_dtype, holds_real=True)
        placeholder = jnp.zeros((1,), dtype)
        dims = dims_of(p)
        if dims is None:
            return (
                placeholder,
                placeholder,
                num.buffer_like(p, nu_dtype, holds_real=True),
            )
        d1, d0 = dims
        # Reducing a buffer that depends on p gives the statistics the
        # sharding of the axes they keep.
        full = num.buffer_like(p, nu_dtype, holds_real=True)
        return jnp.sum(full, axis=d0), jnp.sum(full, axis=d1), placeholder

    def init_fn(params):
        out = jax.tree_util.tree_map(init_leaf, params)
        v_row, v_col, v = num.tree_unzip(params, out, 3)
        return FactoredState(num.zero_count(), v_row, v_col, v)

    def update_fn(updates, state, params=None):
        del params
        # v holds (1,) placeholders for factored leaves: compare structure only.
        val.check_tree_structure(
            "scale_by_factored_rms", updates, state.v, check_shapes=False
        )
        beta = jnp.asarray(
            decay_rate_fn(state.count - step_offset, decay_rate), jnp.float32
        )

        def step(g, v_row, v_col, v):
            g = jnp.asarray(g)
            # Statistics are real (|g|**2), also where their buffers are
            # complex (a complex parameter's default dtype, as in optax).
            g_c, *stats = num.upcast(g, *map(num.real_part, (v_row, v_col, v)))
            row, col, full = map(num.real_part, stats)
            sq = num.abs_sq(g_c) + epsilon
            dims = dims_of(g)
            if dims is None:
                new_v = beta * full + (1 - beta) * sq
                u = g_c * jax.lax.rsqrt(new_v)
                out = num.cast(u, num.update_dtype(g, v.dtype))
                return out, v_row, v_col, new_v.astype(v.dtype)
            d1, d0 = dims
            new_row = beta * row + (1 - beta) * jnp.mean(sq, axis=d0)
            new_col = beta * col + (1 - beta) * jnp.mean(sq, axis=d1)
            # v_row lost axis d0, so d1 moved one place left if it came after.
            d1_in_row = d1 - 1 if d1 > d0 else d1
            row_scale = new_row / jnp.mean(new_row, axis=d1_in_row, keepdims=True)
            u = (
                g_c
                * jnp.expand_dims(jax.lax.rsqrt(row_scale), d0)
                * jnp.expand_dims(jax.lax.rsqrt(new_col), d1)
            )
            return (
                num.cast(u, num.update_dtype(g, v_row.dtype)),
                new_row.astype(v_row.dtype),
                new_col.astype(v_col.dtype),
                v,
            )

        out = jax.tree_util.tree_map(step, updates, state.v_row, state.v_col, state.v)
        updates, v_row, v_col, v = num.tree_unzip(updates, out, 4)
        count = num.safe_increment(state.count)
        return updates, FactoredState(count, v_row, v_col, v)

    return GradientTransformation(init_fn, update_fn)


def _mean_sq(x: jax.Array, axis_name: num.AxisName) -> jax.Array:
    """``mean(|x|**2)`` over a leaf in at least float32 (the modulus for complex).

    With ``axis_name`` the leaf is split across that mesh axis: the sum and
    the element count are both completed with ``psum`` (see
    :func:`lrjax.global_norm`). A leaf replicated along the axis gets its own
    mean back (both grow by the axis size).
    """
    sq = num.abs_sq(num.upcast(x)[0])
    if axis_name is None:
        return jnp.mean(sq)
    size = jnp.asarray(sq.size, sq.dtype)
    return num.psum_if(jnp.sum(sq), axis_name) / num.psum_if(size, axis_name)


def _rms(x: jax.Array, axis_name: num.AxisName) -> jax.Array:
    """``sqrt(mean(|x|**2))`` in at least float32 (the modulus for complex)."""
    return jnp.sqrt(_mean_sq(x, axis_name))


def clip_by_block_rms(
    threshold: float, *, axis_name: num.AxisName = None
) -> GradientTransformation:
    """Scales each leaf down so its RMS is at most ``threshold``.

    ``u <- u / max(1, RMS(u) / threshold)`` with ``RMS(u) = sqrt(mean(|u|**2))``
    over the leaf: Adafactor's update clipping (Shazeer & Stern, 2018, sec. 6,
    where ``threshold`` is ``d``).

    Args:
      threshold: the largest RMS kept, ``> 0``.
      axis_name: lrjax addition (keyword-only): the mesh axis (or axes) each
        leaf is split across under ``shard_map``; the RMS is then that of the
        whole leaf (see :func:`lrjax.global_norm`). Default None.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.clip_by_block_rms(1.0)
        >>> g = {"w": jnp.array([3.0, -3.0]), "b": jnp.array([0.5, 0.5])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates["w"]  # RMS 3 > 1: divided by 3
        Array([ 1., -1.], dtype=float32)
        >>> updates["b"]  # RMS 0.5: unchanged
        Array([0.5, 0.5], dtype=float32)
    """
    val.check_positive("threshold", threshold)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params

        def clip_leaf(u):
            u = jnp.asarray(u)
            denom = jnp.maximum(1.0, _rms(u, axis_name) / threshold)
            return (num.upcast(u)[0] / denom).astype(u.dtype)

        return jax.tree_util.tree_map(clip_leaf, updates), state

    return GradientTransformation(init_fn, update_fn)


def scale_by_param_block_rms(
    min_scale: float = 1e-3, *, axis_name: num.AxisName = None
) -> GradientTransformation:
    """Multiplies each leaf's update by its parameters' RMS: a relative step.

    ``u <- u * max(RMS(p), min_scale)``, ``RMS(p) = sqrt(mean(|p|**2))``:
    Adafactor's ``alpha_t = max(eps2, RMS(X_{t-1})) * rho_t`` (Shazeer &
    Stern, 2018, sec. 8) with ``min_scale = eps2``. Where ``RMS(p) <=
    min_scale`` the square root is not differentiated, so gradients through
    it stay finite at ``p = 0``.

    Args:
      min_scale: floor on the scale, ``>= 0``. Default 1e-3.
      axis_name: lrjax addition (keyword-only): as in
        :func:`clip_by_block_rms`, for the parameters' RMS. Default None.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_param_block_rms()
        >>> params = {"w": jnp.array([3.0, -3.0]), "b": jnp.zeros(2)}
        >>> grads = {"w": jnp.array([1.0, 1.0]), "b": jnp.array([1.0, 1.0])}
        >>> updates, _ = tx.update(grads, tx.init(params), params)
        >>> updates["w"]  # times RMS(w) = 3
        Array([3., 3.], dtype=float32)
        >>> updates["b"]  # times min_scale = 1e-3 (RMS(b) = 0)
        Array([0.001, 0.001], dtype=float32)
    """
    val.check_non_negative("min_scale", min_scale)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_param_block_rms", updates, params)

        def scale_leaf(u, p):
            u = jnp.asarray(u)
            ms = _mean_sq(p, axis_name)
            small = ms <= jnp.square(jnp.asarray(min_scale, jnp.float32))
            rms = jnp.sqrt(jnp.where(small, 1.0, ms))
            factor = jnp.where(small, min_scale, rms)
            return (num.upcast(u)[0] * factor).astype(u.dtype)

        return jax.tree_util.tree_map(scale_leaf, updates, params), state

    return GradientTransformation(init_fn, update_fn)
