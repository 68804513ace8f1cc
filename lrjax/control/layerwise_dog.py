"""Layer-wise DoG: a distance-over-gradients step size per parameter array."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["ScaleByDistanceOverGradientsState", "scale_by_distance_over_gradients"]


class ScaleByDistanceOverGradientsState(NamedTuple):
    """State of :func:`scale_by_distance_over_gradients` (optax's fields).

    Attributes:
      max_dist: per leaf, ``r_bar``, the largest distance from the initial
        values so far (a float32 scalar per leaf).
      grad_sum_of_squares: per leaf, ``G``, the sum of the squared norms of
        its gradients so far (a float32 scalar per leaf; optax keeps shape
        ``(1,)``, which gives scalar parameters ``(1,)``-shaped updates).
      init_params: the initial parameters, in ``param_dtype``.
    """

    max_dist: Any
    grad_sum_of_squares: Any
    init_params: Any


def _leaf_sq(x: Any) -> jax.Array:
    return jnp.sum(num.abs_sq(num.upcast(x)[0]))


def scale_by_distance_over_gradients(
    reps_rel: float = 1e-6,
    eps: float = 1e-8,
    param_dtype: DTypeLike = jnp.float32,
    global_scale: float = 1.0,
) -> GradientTransformation:
    """Layer-wise DoG, "distance over gradients" (Ivgi, Hinder & Carmon, 2023,
    "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size Schedule",
    the paper's LDoG).

    Each parameter array (leaf) ``l`` gets its own step size, with ``x_0``
    its initial value and ``g_k`` its gradients::

        r_bar_l = max(reps_rel * (1 + ||x_0||), max_{k<=t} ||x_k - x_0||)
        G_l     = sum_{k<=t} ||g_k||**2
        u       = global_scale * r_bar_l / sqrt(G_l + eps) * g_t

    Norms are moduli for complex leaves, in at least float32. The output is
    not negated: chain :func:`lrjax.scale_by_learning_rate` after it (a rate
    of 1 for the paper's method), or pass ``global_scale=-1``. The global
    form (one step size for the whole tree) is :func:`lrjax.scale_by_dog`;
    the authors recommend averaging the iterates
    (:func:`lrjax.polyak_averaging`).

    Differs from optax 0.2.8 where optax is wrong: its per-leaf sums have
    shape ``(1,)`` (a scalar parameter gets a ``(1,)`` update), it squares
    complex gradients instead of taking their modulus, and it casts complex
    initial values to a real ``param_dtype`` (losing their imaginary part);
    here a real ``param_dtype`` sets the precision of a complex copy.

    Args:
      reps_rel: the initial distance relative to ``1 + ||x_0||``, ``> 0``;
        the paper suggests 1e-6 (1e-4 with batch normalisation). Default 1e-6.
      eps: added to ``G``, ``>= 0``. Default 1e-8.
      param_dtype: dtype of the stored initial values. Default float32.
      global_scale: a factor on every step, a real number. Default 1.

    Returns:
      A ``GradientTransformation`` with
      :class:`ScaleByDistanceOverGradientsState`; ``update`` needs ``params``
      and ``init`` the actual initial parameters.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_distance_over_gradients(reps_rel=0.1, eps=0.0)
        >>> params = {"w": jnp.zeros(2), "b": jnp.ones(1)}
        >>> state = block.init(params)
        >>> grads = {"w": jnp.array([3.0, 4.0]), "b": jnp.array([2.0])}
        >>> updates, state = block.update(grads, state, params)
        >>> updates["w"]  # 0.1 * (1 + ||w_0||) / ||g_w|| * g_w = 0.02 * g_w
        Array([0.06, 0.08], dtype=float32)
        >>> updates["b"]  # 0.1 * (1 + ||b_0||) / ||g_b|| * g_b = 0.1 * g_b
        Array([0.2], dtype=float32)
    """
    val.check_positive("reps_rel", reps_rel)
    val.check_non_negative("eps", eps)
    val.check_dtype("param_dtype", param_dtype)
    val.check_number("global_scale", global_scale)

    def init_fn(params):
        def first_dist(p):
            if isinstance(p, jax.ShapeDtypeStruct):  # abstract init: no values
                return jnp.asarray(reps_rel, jnp.float32)
            return (reps_rel * (1.0 + jnp.sqrt(_leaf_sq(p)))).astype(jnp.float32)

        return ScaleByDistanceOverGradientsState(
            jax.tree_util.tree_map(first_dist, params),
            jax.tree_util.tree_map(lambda p: jnp.zeros([], jnp.float32), params),
            num.tree_copy(params, param_dtype),
        )

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_distance_over_gradients", updates, params)
        val.check_tree_structure(
            "scale_by_distance_over_gradients", updates, state.init_params
        )

        def step(g, p, p0, d, gsos):
            g = jnp.asarray(g)
            pc, p0c = num.upcast(p, p0)
            d = jnp.maximum(d, jnp.sqrt(_leaf_sq(pc - p0c))).astype(jnp.float32)
            gsos = (gsos + _leaf_sq(g)).astype(jnp.float32)
            eta = global_scale * d / jnp.sqrt(gsos + eps)
            gc, eta = num.upcast(g, eta)
            u = num.cast(gc * eta, num.update_dtype(g, jnp.asarray(p).dtype))
            return u, d, gsos

        out = jax.tree_util.tree_map(
            step,
            updates,
            params,
            state.init_params,
            state.max_dist,
            state.grad_sum_of_squares,
        )
        updates, max_dist, gsos = num.tree_unzip(updates, out, 3)
        return updates, ScaleByDistanceOverGradientsState(
            max_dist, gsos, state.init_params
        )

    return GradientTransformation(init_fn, update_fn)
