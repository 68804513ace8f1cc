"""SM3's memory-efficient second moments (Anil et al., 2019)."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["ScaleBySM3State", "scale_by_sm3"]


class ScaleBySM3State(NamedTuple):
    """State of :func:`scale_by_sm3` (optax's field names and layout).

    Attributes:
      mu: per parameter leaf, a list of accumulators, one per axis (the
        cover sets are the slices along each axis): for a ``(m, n)`` matrix
        one of shape ``(m,)`` and one of shape ``(n,)``; for a vector a
        single per-element accumulator; for a scalar one scalar (lrjax
        addition: optax 0.2.8 fails on 0-d parameters).
      nu: the momentum of the scaled gradients, shaped like the parameters.
    """

    mu: Any
    nu: Any


def _axis_accumulators(p: Any) -> list[jax.Array]:
    # Reducing a buffer that depends on p gives each accumulator the sharding
    # of the axis it keeps.
    full = num.buffer_like(p)
    if full.ndim < 2:
        return [full]
    return [
        jnp.sum(full, axis=tuple(j for j in range(full.ndim) if j != i))
        for i in range(full.ndim)
    ]


# optax's sm3 rejects complex parameters too.
_REAL_ONLY_HINT = "Optimize the real and imaginary parts as separate real parameters."


def scale_by_sm3(
    b1: float = 0.9,
    b2: float = 1.0,
    eps: float = 1e-8,
) -> GradientTransformation:
    """Rescales updates by SM3's cover-set second moments.

    Anil, Gupta, Koren & Singer, 2019, "Memory-Efficient Adaptive
    Optimization" (SM3-II). Each tensor keeps one accumulator per slice along
    each axis (the cover: rows and columns of a matrix), ``sum(shape)``
    numbers instead of ``prod(shape)``. Per element ``i`` covered by the
    slices ``r`` (one per axis)::

        nu_i = c2 * min_r mu(r) + c1 * g_i**2
        mu(r) <- max_{i in r} nu_i                   (each axis's slices)
        u_i = g_i / sqrt(nu_i + eps)   (0 where nu_i = 0, as 0/0 = 0)
        m <- b1 * m + (1 - b1) * u,   returned

    with ``(c1, c2) = (1, 1)`` for ``b2 = 1`` (the paper's sums; the default)
    and ``(1 - b2, b2)`` otherwise (an exponential average, as optax does).
    Vectors (and scalars) have one accumulator per element: Adagrad. The
    momentum ``m`` is an exponential average without debiasing (optax's
    form). Real parameters only: a complex one is a ``TypeError`` at init.

    Args:
      b1: momentum decay, in ``[0, 1)``. Default 0.9 (0: no momentum).
      b2: accumulator decay, in ``[0, 1]``; 1 sums. Default 1.
      eps: added inside the root, ``>= 0``. Default 1e-8.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleBySM3State`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_sm3(b1=0.0)
        >>> g = {"w": jnp.array([[3.0, 0.0], [0.0, 4.0]])}
        >>> state = tx.init(g)
        >>> [a.shape for a in state.mu["w"]]  # one accumulator per row, per column
        [(2,), (2,)]
        >>> updates, state = tx.update(g, state)
        >>> updates["w"]  # step 1: g / sqrt(g**2)
        Array([[1., 0.],
               [0., 1.]], dtype=float32)
        >>> state.mu["w"]  # row and column maxima of nu = g**2
        [Array([ 9., 16.], dtype=float32), Array([ 9., 16.], dtype=float32)]
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0)
    val.check_non_negative("eps", eps)

    def init_fn(params):
        num.check_optimizable(params, "lrjax init")
        val.check_real("scale_by_sm3 init", params, hint=_REAL_ONLY_HINT)
        mu = jax.tree_util.tree_map(_axis_accumulators, params)
        return ScaleBySM3State(mu, num.tree_buffers(params))

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_sm3", updates, state.nu)
        sums = jnp.asarray(b2) == 1.0
        c1 = jnp.where(sums, 1.0, 1.0 - b2)
        c2 = jnp.asarray(b2, jnp.float32)

        def step(g, accs, m):
            g = jnp.asarray(g)
            gc, m_new, *accs_c = num.upcast(g, m, *accs)
            if gc.ndim < 2:
                covered = accs_c[0]
            else:
                # Each axis's accumulator broadcast along the other axes.
                shaped = [
                    jnp.expand_dims(a, [j for j in range(gc.ndim) if j != i])
                    for i, a in enumerate(accs_c)
                ]
                covered = functools.reduce(jnp.minimum, shaped)
            nu = c1 * jnp.square(gc) + c2 * covered
            # The paper's 0/0 = 0 where nu is 0 (optax tests nu > 0, which
            # also zeroes a NaN gradient's update; here NaN propagates).
            u = jnp.where(nu == 0, 0.0, gc * jax.lax.rsqrt(nu + eps))
            m_new = b1 * m_new + (1 - b1) * u
            if gc.ndim < 2:
                new_accs = [nu]
            else:
                new_accs = [
                    jnp.max(nu, axis=tuple(j for j in range(gc.ndim) if j != i))
                    for i in range(gc.ndim)
                ]
            new_accs = [
                a.astype(old.dtype) for a, old in zip(new_accs, accs, strict=True)
            ]
            out = num.cast(m_new, num.update_dtype(g, m.dtype))
            return out, new_accs, m_new.astype(m.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleBySM3State(mu, nu)

    return GradientTransformation(init_fn, update_fn)
