"""The L-BFGS direction (Liu & Nocedal, 1989; Nocedal & Wright, Alg. 7.4)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["ScaleByLBFGSState", "scale_by_lbfgs", "tree_real_vdot"]


class ScaleByLBFGSState(NamedTuple):
    """State of :func:`scale_by_lbfgs` (optax's fields).

    Attributes:
      count: int32 number of updates made (saturating).
      params: the parameters at the last update.
      updates: the gradients (incoming updates) at the last update.
      diff_params_memory: ring buffer of the last ``memory_size`` parameter
        differences ``s_i = w_{i+1} - w_i`` (a leading axis per leaf).
      diff_updates_memory: the same for gradient differences ``y_i``.
      weights_memory: ``rho_i = 1 / <y_i, s_i>`` (0 where undefined), float32.
    """

    count: jax.Array
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: jax.Array


def tree_real_vdot(a: Any, b: Any) -> jax.Array:
    """``Re sum_leaves <a, b>`` (``a`` conjugated), in at least float32.

    An empty tree gives a weakly typed ``0.0``.
    """
    total = 0.0
    for x, y in zip(
        jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True
    ):
        x, y = num.upcast(x, y)
        total = total + jnp.real(jnp.vdot(x, y))
    return total


def _tree_axpy(alpha: jax.Array, x: Any, y: Any) -> Any:
    """``y + alpha * x`` leaf by leaf (in the compute dtype: no rounding)."""
    return jax.tree_util.tree_map(lambda a, b: b + alpha * a, x, y)


def _cast_like(tree: Any, reference: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda x, r: jnp.asarray(x).astype(r.dtype), tree, reference
    )


def scale_by_lbfgs(
    memory_size: int = 10,
    scale_init_precond: bool = True,
) -> GradientTransformation:
    """Multiplies the gradient by L-BFGS's inverse-Hessian approximation.

    Liu & Nocedal, 1989, "On the limited memory BFGS method for large scale
    optimization"; the two-loop recursion of Nocedal & Wright, "Numerical
    Optimization", Algorithm 7.4. With ``s_i = w_{i+1} - w_i`` and
    ``y_i = g_{i+1} - g_i`` over the last ``memory_size`` steps and
    ``rho_i = 1 / <y_i, s_i>`` (0 where that is 0)::

        q = g
        for i newest to oldest:  a_i = rho_i <s_i, q>;  q -= a_i y_i
        r = gamma * q
        for i oldest to newest:  b = rho_i <y_i, r>;   r += (a_i - b) s_i
        u = r

    ``gamma = <y, s> / <y, y>`` of the newest pair with
    ``scale_init_precond`` (Nocedal & Wright's eq. 7.20; 1 while ``<y, y> =
    0``), else 1. At the first step there is no pair and ``gamma =
    min(1, 1 / ||g||)`` (optax's heuristic): the first direction is the
    gradient, scaled to norm at most 1. The memory is updated before the
    direction is computed, from the params and gradient of the previous call,
    so a line search chained after this block decides the step (as optax
    does). The output is the ascent direction: chain a negative scale (see
    :func:`lrjax.lbfgs`). Complex parameters use ``Re <a, b>``.

    Args:
      memory_size: number of ``(s, y)`` pairs kept, ``>= 1``. Default 10.
      scale_init_precond: scale the initial inverse Hessian by ``gamma``.
        Default True.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByLBFGSState`; ``update``
      needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_lbfgs()  # on f(w) = ||w||**2, gradient 2 w
        >>> w = {"w": jnp.array([3.0, 4.0])}
        >>> state = tx.init(w)
        >>> u, state = tx.update({"w": 2 * w["w"]}, state, w)
        >>> u["w"]  # no pair yet: g / ||g|| (norm at most 1)
        Array([0.6, 0.8], dtype=float32)
        >>> w = {"w": w["w"] - u["w"]}
        >>> u, state = tx.update({"w": 2 * w["w"]}, state, w)
        >>> u["w"]  # y = 2 s: gamma = 1/2, u = H^-1 g = w (Newton's step)
        Array([2.4, 3.2], dtype=float32)
    """
    val.check_positive_int("memory_size", memory_size)
    val.check_type("scale_init_precond", scale_init_precond, bool)

    def init_fn(params):
        memory = num.tree_buffers(params, history=memory_size)
        return ScaleByLBFGSState(
            num.zero_count(),
            num.tree_buffers(params),
            num.tree_buffers(params),
            memory,
            num.tree_buffers(params, history=memory_size),
            jnp.zeros((memory_size,), num.float_dtype()),
        )

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_lbfgs", updates, params)
        val.check_tree_structure("scale_by_lbfgs", updates, state.params)
        k = state.count
        started = k > 0
        newest = (k - 1) % memory_size

        # Everything below runs in the compute dtype (at least float32); the
        # newest pair enters the recursion unrounded and is stored rounded.
        def diff(new, old):
            new, old = num.upcast(new, old)
            return jnp.where(started, new - old, jnp.zeros_like(old))

        s = jax.tree_util.tree_map(diff, params, state.params)
        y = jax.tree_util.tree_map(diff, updates, state.updates)
        sy = tree_real_vdot(y, s)
        rho = jnp.where(sy == 0.0, 0.0, 1.0 / jnp.where(sy == 0.0, 1.0, sy))

        def with_newest(buffer, value):
            buffer, value = num.upcast(buffer, value)
            return buffer.at[newest].set(value)

        s_mem = jax.tree_util.tree_map(with_newest, state.diff_params_memory, s)
        y_mem = jax.tree_util.tree_map(with_newest, state.diff_updates_memory, y)
        rhos = state.weights_memory.at[newest].set(rho)

        if scale_init_precond:
            yy = tree_real_vdot(y, y)
            gamma = jnp.where(yy > 0.0, sy / jnp.where(yy > 0.0, yy, 1.0), 1.0)
            g_norm = jnp.sqrt(tree_real_vdot(updates, updates))
            gamma = jnp.where(started, gamma, jnp.minimum(1.0, 1.0 / g_norm))
        else:
            gamma = 1.0

        # Oldest to newest: k % m, k + 1, ..., k - 1 (mod m).
        order = (k % memory_size + jnp.arange(memory_size)) % memory_size

        def pair(i):
            take = lambda buf: buf[i]  # noqa: E731
            return (
                jax.tree_util.tree_map(take, s_mem),
                jax.tree_util.tree_map(take, y_mem),
            )

        def first_loop(q, i):
            s_i, y_i = pair(i)
            a = rhos[i] * tree_real_vdot(s_i, q)
            return _tree_axpy(-a, y_i, q), a

        q = jax.tree_util.tree_map(lambda g: num.upcast(g)[0], updates)
        q, alphas = jax.lax.scan(first_loop, q, order, reverse=True)
        r = jax.tree_util.tree_map(lambda x: gamma * x, q)

        def second_loop(r, i_a):
            i, a = i_a
            s_i, y_i = pair(i)
            b = rhos[i] * tree_real_vdot(y_i, r)
            return _tree_axpy(a - b, s_i, r), None

        r, _ = jax.lax.scan(second_loop, r, (order, alphas))
        out = jax.tree_util.tree_map(
            lambda x, g, ref: num.cast(x, num.update_dtype(jnp.asarray(g), ref.dtype)),
            r,
            updates,
            state.updates,
        )
        new_state = ScaleByLBFGSState(
            num.safe_increment(k),
            _cast_like(params, state.params),
            _cast_like(updates, state.updates),
            _cast_like(s_mem, state.diff_params_memory),
            _cast_like(y_mem, state.diff_updates_memory),
            rhos.astype(state.weights_memory.dtype),
        )
        return out, new_state

    return GradientTransformation(init_fn, update_fn)
