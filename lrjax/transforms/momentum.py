"""First-moment blocks: heavy-ball / EMA momentum and exponential moving averages."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["TraceState", "EmaState", "trace", "ema"]


class TraceState(NamedTuple):
    """State of :func:`trace`: the momentum buffer ``v``, one leaf per parameter."""

    trace: Any


def trace(
    decay: float,
    nesterov: bool = False,
    accumulator_dtype: DTypeLike | None = None,
    *,
    dampening: float = 0.0,
) -> GradientTransformation:
    """Momentum: ``v <- decay * v + (1 - dampening) * g``, ``v_0 = 0``.

    Output: ``v`` or, with ``nesterov=True``, ``(1 - dampening) * g + decay * v``.

    * ``dampening=0`` (default) is the heavy-ball form of optax and of PyTorch
      ``SGD(momentum=decay, dampening=0)``.
    * ``dampening=decay`` is the EMA form ``v <- b*v + (1-b)*g``.
      PyTorch starts its buffer at ``v_1 = g`` whatever the dampening; lrjax
      starts at ``v_0 = 0``, so with ``dampening > 0`` the two differ on the
      first step and agree in the recursion after it.

    Args:
      decay: momentum coefficient, in ``[0, 1]``.
      nesterov: use Nesterov's look-ahead form.
      accumulator_dtype: dtype of ``v`` (default: the parameter's).
      dampening: in ``[0, 1]``; scales the incoming gradient.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.trace(decay=0.9)
        >>> g = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(g)
        >>> updates, state = tx.update(g, state)
        >>> updates, state = tx.update(g, state)
        >>> updates["w"]  # v = 0.9 * g + g = 1.9 * g
        Array([ 1.9, -3.8], dtype=float32)
        >>> tx = lrjax.trace(decay=0.9, nesterov=True)
        >>> updates, state = tx.update(g, tx.init(g))
        >>> updates["w"]  # g + 0.9 * v with v = g
        Array([ 1.9, -3.8], dtype=float32)
    """
    val.check_in_range("decay", decay, 0.0, 1.0)
    val.check_in_range("dampening", dampening, 0.0, 1.0)
    val.check_type("nesterov", nesterov, bool)
    val.check_dtype("accumulator_dtype", accumulator_dtype)

    def init_fn(params):
        return TraceState(num.tree_buffers(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("trace", updates, state.trace)

        undamped = val.is_zero(dampening)

        def step(g, v):
            g = jnp.asarray(g)
            gc, v_new = num.upcast(g, v)
            g_in = gc if undamped else (1 - dampening) * gc
            v_new = decay * v_new + g_in
            out = g_in + decay * v_new if nesterov else v_new
            return num.cast(out, num.update_dtype(g, v.dtype)), v_new.astype(v.dtype)

        pairs = jax.tree_util.tree_map(step, updates, state.trace)
        out, new_trace = num.tree_unzip(updates, pairs, 2)
        return out, TraceState(new_trace)

    return GradientTransformation(init_fn, update_fn)


class EmaState(NamedTuple):
    """State of :func:`ema`: the update count and the running average."""

    count: jax.Array
    ema: Any


def ema(
    decay: float, debias: bool = True, accumulator_dtype: DTypeLike | None = None
) -> GradientTransformation:
    """Exponential moving average: ``m <- decay * m + (1 - decay) * g``.

    Output: ``m / (1 - decay**t)`` with ``debias=True`` (``t`` updates made so
    far, including this one), else ``m``.

    Args:
      decay: in ``[0, 1)``.
      debias: divide by ``1 - decay**t`` to remove the zero-start bias.
      accumulator_dtype: dtype of ``m`` (default: the parameter's).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.ema(decay=0.9, debias=False)
        >>> g = {"w": jnp.array([1.0, -2.0])}
        >>> updates, state = tx.update(g, tx.init(g))
        >>> updates["w"]  # m = 0.1 * g
        Array([ 0.1, -0.2], dtype=float32)
        >>> tx = lrjax.ema(decay=0.9)
        >>> updates, state = tx.update(g, tx.init(g))
        >>> [round(float(u), 4) for u in updates["w"]]  # debiased: m / (1 - 0.9) = g
        [1.0, -2.0]
    """
    val.check_in_range("decay", decay, 0.0, 1.0, high_inclusive=False)
    val.check_type("debias", debias, bool)
    val.check_dtype("accumulator_dtype", accumulator_dtype)

    def init_fn(params):
        return EmaState(num.zero_count(), num.tree_buffers(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("ema", updates, state.ema)
        count = num.safe_increment(state.count)
        corr = num.bias_correction(decay, count) if debias else None

        def step(g, m):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            m_new = decay * m_new + (1 - decay) * gc
            out = m_new * corr if debias else m_new
            return num.cast(out, num.update_dtype(g, m.dtype)), m_new.astype(m.dtype)

        pairs = jax.tree_util.tree_map(step, updates, state.ema)
        out, new_ema = num.tree_unzip(updates, pairs, 2)
        return out, EmaState(count, new_ema)

    return GradientTransformation(init_fn, update_fn)
