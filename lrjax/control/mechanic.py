"""Mechanic (Cutkosky, Defazio & Mehta, 2023): learn the scale of any optimizer."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    elementwise_constructor,
)
from lrjax.control._tree_reductions import tree_real_dot, tree_sum_sq

__all__ = ["MechanicState", "mechanize"]


class MechanicState(NamedTuple):
    """State of :func:`mechanize`.

    Attributes:
      base_optimizer_state: the wrapped optimizer's state.
      count: int32 number of updates made (saturating).
      r: float32 ``(num_betas,)`` rewards of the betting runs.
      m: float32 ``(num_betas,)`` running maxima of ``|h|``.
      v: float32 ``(num_betas,)`` discounted sums of ``h**2``.
      s: float32 ``(num_betas,)`` scales; their sum multiplies the base steps.
      x0: the reference point ``x_0`` (the parameters at the first update).
      learning_rate_scale: float32 ``sum(s)`` applied at the latest update
        (before any: ``num_betas * s_init``). :func:`lrjax.get_learning_rate`
        multiplies it with the base optimizer's rate.
    """

    base_optimizer_state: Any
    count: jax.Array
    r: jax.Array
    m: jax.Array
    v: jax.Array
    s: jax.Array
    x0: Any
    learning_rate_scale: jax.Array


@elementwise_constructor(
    "its scale follows whole-tree inner products; packing changes their summation order"
)
def mechanize(
    base_optimizer: GradientTransformation,
    weight_decay: float = 1e-2,
    eps: float = 1e-8,
    s_init: float = 1e-6,
    num_betas: int = 6,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformationExtraArgs:
    """Wraps ``base_optimizer`` and learns the scale of its steps (Mechanic).

    The parameters are ``x_t = x_0 + S_t * Delta_t`` where ``Delta_t`` sums
    the base optimizer's updates and ``S_t = sum(s)`` is learned by
    ``num_betas`` coin-betting runs with discounts
    ``beta_i = 1 - 10**-i``. Per update, with ``g`` the gradient::

        g'    = g + weight_decay * S * ||g|| / (||x|| + eps) * x
        h     = -<g', Delta_{t-1}>           (Delta_{t-1} = (x - x_0) / (S + eps))
        m     = max(beta m, |h| + eps);  v = beta**2 v + h**2
        r     = beta r + clip(h, -m_old, m_old) * s_old
        s     = (s_init / num_betas * m + max(r, 0)) / (sqrt(v) + eps)
        x_new = x_0 + sum(s) * (Delta_{t-1} + base_update)

    The base optimizer sees the raw gradient (its own rate, weight decay and
    schedule apply as usual; 1.0 as the peak rate is the usual choice).
    ``x_0`` is taken at the first update, so parameters replaced after
    ``init`` (a restored checkpoint) are the reference point.

    :func:`lrjax.get_learning_rate` returns ``sum(s)`` times the base
    optimizer's rate (the state's ``learning_rate_scale`` times the base
    state's ``learning_rate``); a base optimizer that records no rate (a
    plain optax one) needs ``optax.inject_hyperparams`` for that.

    Same arguments and defaults as ``optax.contrib.mechanize``; its scalars
    (``r, m, v, s``) are float32 whatever the parameter dtype (optax keeps
    them in the lowest parameter dtype) and the arithmetic runs in float32.

    Args:
      base_optimizer: the optimizer whose steps are rescaled.
      weight_decay: Mechanic's own decay of the gradient seen by the betting,
        ``>= 0`` (not the base optimizer's). Default 1e-2.
      eps: ``> 0``. Default 1e-8.
      s_init: initial scale per run, ``> 0``. Default 1e-6.
      num_betas: number of discounts ``1 - 10**-i``, integer ``>= 1``
        (beyond 7, ``1 - 10**-i`` rounds to 1 in float32). Default 6.
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``; Mechanic's norms and inner
        product are then over the whole tree, so every device keeps the same
        scales (see :func:`lrjax.global_norm`). A base optimizer that reduces
        over the tree needs its own ``axis_name``. Default None.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`MechanicState`; its
      ``update`` needs ``params``; extra keyword arguments reach the base
      optimizer.

    References:
      Cutkosky, Defazio & Mehta, "Mechanic: A Learning Rate Tuner", NeurIPS
      2023 (arXiv:2306.00144).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.mechanize(lrjax.sgd(1.0))
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # Before the first update: num_betas * s_init * 1.0.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        6e-06
        >>> for _ in range(10):  # the quadratic |w|**2 / 2: the gradient is w
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> # After 10 updates: sum(s) * 1.0.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        1.03e-05
    """
    for method in ("init", "update"):
        if not callable(getattr(base_optimizer, method, None)):
            raise TypeError(
                "base_optimizer must be a GradientTransformation, got "
                f"{base_optimizer!r}."
            )
    val.check_non_negative("weight_decay", weight_decay)
    val.check_positive("eps", eps)
    val.check_positive("s_init", s_init)
    val.check_positive_int("num_betas", num_betas)
    val.check_axis_name("axis_name", axis_name)
    passes_extra = isinstance(base_optimizer, GradientTransformationExtraArgs)
    # 1 - 10**-i computed on the host in float64, then rounded once.
    betas = jnp.asarray(1.0 - 0.1 ** np.arange(1, num_betas + 1), jnp.float32)

    def init_fn(params):
        s = jnp.full([num_betas], s_init, jnp.float32)
        return MechanicState(
            base_optimizer_state=base_optimizer.init(params),
            count=num.zero_count(),
            r=jnp.zeros([num_betas], jnp.float32),
            m=jnp.zeros([num_betas], jnp.float32),
            v=jnp.zeros([num_betas], jnp.float32),
            s=s,
            x0=num.tree_copy(params),
            learning_rate_scale=jnp.sum(s),
        )

    def update_fn(updates, state, params=None, **extra_args):
        val.check_params("mechanize", updates, params)
        val.check_tree_structure("mechanize", updates, state.x0)
        extra = extra_args if passes_extra else {}
        # The base step enters x in float32 or wider (not rounded to float16
        # first); the base state keeps its declared dtypes.
        wide = jax.tree_util.tree_map(lambda g: num.upcast(g)[0], updates)
        base_updates, base_state = base_optimizer.update(
            wide, state.base_optimizer_state, params, **extra
        )
        base_state = num.tree_cast_like(base_state, state.base_optimizer_state)
        x0 = jax.lax.cond(
            state.count == 0,
            lambda: jax.tree_util.tree_map(
                lambda p, x: jnp.asarray(p).astype(x.dtype), params, state.x0
            ),
            lambda: state.x0,
        )
        s_sum = jnp.sum(state.s)
        decay = weight_decay * s_sum * jnp.sqrt(tree_sum_sq(updates, axis_name))
        decay = decay / (jnp.sqrt(tree_sum_sq(params, axis_name)) + eps)

        def prev_delta(p, a):
            pc, ac = num.upcast(p, a)
            return (ac - pc) / (s_sum + eps)

        # Minus the accumulated steps, Delta_{t-1}, recomputed from x and x_0.
        delta_prev = jax.tree_util.tree_map(prev_delta, params, x0)
        decayed = jax.tree_util.tree_map(
            lambda g, p: jnp.add(*num.upcast(g, decay * num.upcast(p)[0])),
            updates,
            params,
        )
        h = tree_real_dot(decayed, delta_prev, axis_name)
        clipped_h = jnp.clip(h, -state.m, state.m)
        m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
        v = betas**2 * state.v + h**2
        r = betas * state.r + clipped_h * state.s
        wealth = (s_init / num_betas) * m + jnp.maximum(r, 0.0)
        s = wealth / (jnp.sqrt(v) + eps)
        new_sum = jnp.sum(s)

        def step(g, p, a, dp, u):
            pc, ac, dpc, uc = num.upcast(p, a, dp, u)
            new_p = ac - new_sum * (dpc - uc)
            out_dtype = num.update_dtype(jnp.asarray(g), a.dtype)
            return num.cast(new_p - pc, out_dtype)

        new_updates = jax.tree_util.tree_map(
            step, updates, params, x0, delta_prev, base_updates
        )
        return new_updates, MechanicState(
            base_optimizer_state=base_state,
            count=num.safe_increment(state.count),
            r=r.astype(jnp.float32),
            m=m.astype(jnp.float32),
            v=v.astype(jnp.float32),
            s=s.astype(jnp.float32),
            x0=x0,
            learning_rate_scale=new_sum.astype(jnp.float32),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
