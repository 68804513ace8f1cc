"""Distance over gradients: SGD whose rate is the distance travelled over gradient size.

DoG (Ivgi et al., 2023) and DoWG (Khaled et al., 2023) set the SGD rate from
the largest distance the parameters have moved from their starting point,
divided by the accumulated gradient norms. Each ``scale_by_*`` block records
the rate it chose (``eta``) in its ``learning_rate`` field; in :func:`dog` and
:func:`dowg` it is chained with :func:`lrjax.scale_by_learning_rate`, whose
``learning_rate`` field holds the optional schedule, and
:func:`lrjax.get_learning_rate` multiplies the two: ``eta * lr``, the rate
applied to the gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.control._tree_reductions import tree_sum_sq
from lrjax.transforms.scaling import identity, scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["DoGState", "DoWGState", "dog", "dowg", "scale_by_dog", "scale_by_dowg"]

_INIT_STEP_KINDS = ("distance", "learning_rate", "heuristic")


class DoGState(NamedTuple):
    """State of :func:`scale_by_dog`.

    Attributes:
      count: int32 number of updates made (saturating).
      init_params: the initial parameters ``x_0``.
      max_dist: float32 ``r_bar``, the largest ``||x_t - x_0||`` so far
        (initially ``r_eps``).
      sum_sq_norm_grads: float32 ``G``, the sum of ``||g_t||**2``.
      learning_rate: float32 ``eta`` applied at the latest update (before any:
        the initial rate for ``init_step=("learning_rate", value)``, else 0).
    """

    count: jax.Array
    init_params: Any
    max_dist: jax.Array
    sum_sq_norm_grads: jax.Array
    learning_rate: jax.Array


class DoWGState(NamedTuple):
    """State of :func:`scale_by_dowg`.

    Attributes:
      count: int32 number of updates made (saturating).
      init_params: the initial parameters ``x_0``.
      weighted_sq_norm_grads: float32 ``v``, the sum of ``r_bar_t**2 ||g_t||**2``.
      estim_sq_dist: float32 ``r_bar**2``, the largest ``||x_t - x_0||**2``.
      learning_rate: float32 ``eta`` applied at the latest update (0 before).
    """

    count: jax.Array
    init_params: Any
    weighted_sq_norm_grads: jax.Array
    estim_sq_dist: jax.Array
    learning_rate: jax.Array


def _sq_norm_of_params(params: Any, axis_name: num.AxisName) -> jax.Array:
    # Abstract init (ShapeDtypeStruct leaves) has no values: use 0.
    leaves = jax.tree_util.tree_leaves(params)
    if any(isinstance(p, jax.ShapeDtypeStruct) for p in leaves):
        return jnp.zeros([], jnp.float32)
    return tree_sum_sq(params, axis_name)


def _scaled(eta: jax.Array, g: Any, p: Any) -> jax.Array:
    """``eta * g`` in float32 or wider, in the update's dtype.

    A Python-scalar leaf takes the parameter's dtype (optax's rule for a
    scalar meeting per-parameter state).
    """
    g = jnp.asarray(g)
    return num.cast(eta * num.upcast(g)[0], num.update_dtype(g, jnp.asarray(p).dtype))


def _sq_dist(a: Any, b: Any, axis_name: num.AxisName) -> jax.Array:
    diff = jax.tree_util.tree_map(lambda x, y: jnp.subtract(*num.upcast(x, y)), a, b)
    return tree_sum_sq(diff, axis_name)


def _check_init_step(init_step: Any) -> tuple[str, Any]:
    try:
        kind, value = init_step
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"init_step must be a pair (kind, value), got {init_step!r}."
        ) from e
    val.check_one_of("init_step[0]", kind, _INIT_STEP_KINDS)
    val.check_positive("init_step[1]", value)
    return kind, value


def scale_by_dog(
    init_step: tuple[str, float] = ("heuristic", 1e-6),
    eps: float = 1e-8,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """Scales updates by DoG's rate ``eta_t = r_bar_t / sqrt(G_t + eps)``.

    ``r_bar_t = max(r_eps, max_{k<=t} ||x_k - x_0||)`` and
    ``G_t = sum_{k<=t} ||g_k||**2`` (norms over the whole tree). No sign flip:
    chain :func:`lrjax.scale_by_learning_rate` after it (as :func:`dog` does).

    Args:
      init_step: ``(kind, value)``: ``("distance", r)`` sets ``r_eps = r``;
        ``("heuristic", a)`` sets ``r_eps = a (1 + ||x_0||)``;
        ``("learning_rate", e)`` uses ``eta_1 = e`` for the first update and
        ``r_eps = 0``. ``value > 0``. Default ``("heuristic", 1e-6)``.
      eps: added to ``G``, ``>= 0``. Default 1e-8.
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``; distances and gradient norms
        are then over the whole tree (see :func:`lrjax.global_norm`). With
        ``("heuristic", a)``, ``init`` takes ``||x_0||`` too, so it must run
        inside the ``shard_map`` as well. Default None.

    Returns:
      A ``GradientTransformation`` with :class:`DoGState`; its ``update``
      needs ``params``, and its ``init`` the actual initial parameters.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_dog(init_step=("distance", 0.5), eps=0.0)
        >>> params = jnp.zeros(2)
        >>> state = block.init(params)
        >>> updates, state = block.update(jnp.array([3.0, 4.0]), state, params)
        >>> updates  # eta * g, eta = 0.5 / ||g|| = 0.1; no sign flip
        Array([0.3, 0.4], dtype=float32)
    """
    kind, value = _check_init_step(init_step)
    val.check_non_negative("eps", eps)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        if kind == "distance":
            r_eps = jnp.asarray(value, jnp.float32)
        elif kind == "heuristic":
            r_eps = value * (1.0 + jnp.sqrt(_sq_norm_of_params(params, axis_name)))
        else:
            r_eps = jnp.zeros([], jnp.float32)
        first = value if kind == "learning_rate" else 0.0
        return DoGState(
            count=num.zero_count(),
            init_params=num.tree_copy(params),
            max_dist=jnp.asarray(r_eps, jnp.float32),
            sum_sq_norm_grads=jnp.zeros([], jnp.float32),
            learning_rate=jnp.asarray(first, jnp.float32),
        )

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_dog", updates, params)
        val.check_tree_structure("scale_by_dog", updates, state.init_params)
        dist = jnp.sqrt(_sq_dist(state.init_params, params, axis_name))
        max_dist = jnp.maximum(state.max_dist, dist)
        sum_sq = state.sum_sq_norm_grads + tree_sum_sq(updates, axis_name)
        eta = max_dist / jnp.sqrt(sum_sq + eps)
        if kind == "learning_rate":
            eta = jnp.where(state.count == 0, jnp.asarray(value, jnp.float32), eta)
        eta = eta.astype(jnp.float32)
        new_updates = jax.tree_util.tree_map(
            lambda g, p: _scaled(eta, g, p), updates, params
        )
        return new_updates, DoGState(
            count=num.safe_increment(state.count),
            init_params=state.init_params,
            max_dist=max_dist.astype(jnp.float32),
            sum_sq_norm_grads=sum_sq.astype(jnp.float32),
            learning_rate=eta,
        )

    return GradientTransformation(init_fn, update_fn)


def _decay_or_identity(weight_decay: Any, mask: Any) -> GradientTransformation:
    if weight_decay is None:
        return identity()
    val.check_non_negative("weight_decay", weight_decay)
    return add_decayed_weights(weight_decay, mask)


@elementwise_constructor(
    "its step size comes from whole-tree distances and norms; packing changes their summation order"
)
def dog(
    learning_rate: ScalarOrSchedule = 1.0,
    init_step: tuple[str, float] = ("heuristic", 1e-6),
    eps: float = 1e-8,
    weight_decay: float | None = None,
    mask: Any | Callable[[Any], Any] | None = None,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """DoG, "Distance over Gradients" (Ivgi, Hinder & Carmon, 2023)::

        r_bar_t = max(r_eps, max_{k<=t} ||x_k - x_0||)
        G_t     = sum_{k<=t} ||g_k||**2
        eta_t   = r_bar_t / sqrt(G_t + eps)
        x_{t+1} = x_t - lr_t * eta_t * (g_t + weight_decay * x_t)

    :func:`lrjax.get_learning_rate` returns ``eta_t * lr_t``, the rate applied
    to the gradient (0 before the first update unless ``init_step`` gives the
    first rate). The authors recommend evaluating an average of the iterates
    (an EMA of the parameters, say). Same arguments and defaults as
    ``optax.contrib.dog``; the PyTorch counterpart is the authors'
    ``dog.DoG(reps_rel, eps, weight_decay)`` (not compared numerically here).

    Args:
      learning_rate: multiplier of ``eta``, a number ``>= 0`` or a schedule.
        Default 1.0.
      init_step: ``(kind, value)``, see :func:`scale_by_dog`. Default
        ``("heuristic", 1e-6)`` (``1e-4`` is suggested with batch norm).
      eps: added to ``G``, ``>= 0``. Default 1e-8.
      weight_decay: ``>= 0`` or ``None`` for none. Default ``None``.
      mask: which parameters decay (a tree of bools or a callable). Default
        ``None`` (all).
      axis_name: lrjax addition (keyword-only): see :func:`scale_by_dog`.

    Returns:
      ``chain(add_decayed_weights, scale_by_dog, scale_by_learning_rate)``.

    References:
      Ivgi, Hinder & Carmon, "DoG is SGD's Best Friend: A Parameter-Free
      Dynamic Step Size Schedule", ICML 2023 (arXiv:2302.12022).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.dog()
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # Before the first update: 0.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        0
        >>> for _ in range(10):  # the quadratic |w|**2 / 2: the gradient is w
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> # After 10 updates: r_bar / sqrt(G + eps).
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        9.22e-06
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        _decay_or_identity(weight_decay, mask),
        scale_by_dog(init_step, eps, axis_name=axis_name),
        scale_by_learning_rate(learning_rate),
    )


def scale_by_dowg(
    init_estim_sq_dist: float | None = None,
    eps: float = 1e-4,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """Scales updates by DoWG's rate ``eta_t = r_bar_t**2 / (sqrt(v_t) + eps)``.

    ``r_bar_t**2 = max(r_bar_{t-1}**2, ||x_t - x_0||**2)`` and
    ``v_t = v_{t-1} + r_bar_t**2 ||g_t||**2``. No sign flip: chain
    :func:`lrjax.scale_by_learning_rate` after it (as :func:`dowg` does).

    Args:
      init_estim_sq_dist: initial ``r_bar_0**2``, ``> 0``; ``None`` uses
        ``eps``. Default ``None``.
      eps: added to ``sqrt(v)``, ``>= 0`` (``> 0`` when
        ``init_estim_sq_dist`` is ``None``). Default 1e-4.
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``; distances and gradient norms
        are then over the whole tree (see :func:`lrjax.global_norm`). Default
        None.

    Returns:
      A ``GradientTransformation`` with :class:`DoWGState`; its ``update``
      needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> block = lrjax.scale_by_dowg(init_estim_sq_dist=1.0, eps=0.0)
        >>> params = jnp.zeros(2)
        >>> state = block.init(params)
        >>> updates, state = block.update(jnp.array([3.0, 4.0]), state, params)
        >>> updates  # eta * g, eta = 1 / sqrt(1 * ||g||**2) = 0.2; no sign flip
        Array([0.6, 0.8], dtype=float32)
    """
    val.check_non_negative("eps", eps)
    if init_estim_sq_dist is None:
        val.check_positive("eps (the initial squared distance)", eps)
        init_estim_sq_dist = eps
    else:
        val.check_positive("init_estim_sq_dist", init_estim_sq_dist)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        return DoWGState(
            count=num.zero_count(),
            init_params=num.tree_copy(params),
            weighted_sq_norm_grads=jnp.zeros([], jnp.float32),
            estim_sq_dist=jnp.asarray(init_estim_sq_dist, jnp.float32),
            learning_rate=jnp.zeros([], jnp.float32),
        )

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_dowg", updates, params)
        val.check_tree_structure("scale_by_dowg", updates, state.init_params)
        sq_dist = jnp.maximum(
            state.estim_sq_dist, _sq_dist(state.init_params, params, axis_name)
        )
        weighted = state.weighted_sq_norm_grads + sq_dist * tree_sum_sq(
            updates, axis_name
        )
        eta = (sq_dist / (jnp.sqrt(weighted) + eps)).astype(jnp.float32)
        new_updates = jax.tree_util.tree_map(
            lambda g, p: _scaled(eta, g, p), updates, params
        )
        return new_updates, DoWGState(
            count=num.safe_increment(state.count),
            init_params=state.init_params,
            weighted_sq_norm_grads=weighted.astype(jnp.float32),
            estim_sq_dist=sq_dist.astype(jnp.float32),
            learning_rate=eta,
        )

    return GradientTransformation(init_fn, update_fn)


@elementwise_constructor(
    "its step size comes from whole-tree distances and norms; packing changes their summation order"
)
def dowg(
    learning_rate: ScalarOrSchedule = 1.0,
    init_estim_sq_dist: float | None = None,
    eps: float = 1e-4,
    weight_decay: float | None = None,
    mask: Any | Callable[[Any], Any] | None = None,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """DoWG, "Distance over Weighted Gradients" (Khaled, Mishchenko & Jin, 2023)::

        r_bar_t**2 = max(r_bar_{t-1}**2, ||x_t - x_0||**2)
        v_t        = v_{t-1} + r_bar_t**2 ||g_t||**2
        eta_t      = r_bar_t**2 / (sqrt(v_t) + eps)
        x_{t+1}    = x_t - lr_t * eta_t * (g_t + weight_decay * x_t)

    :func:`lrjax.get_learning_rate` returns ``eta_t * lr_t`` (0 before the
    first update). Same arguments and defaults as ``optax.contrib.dowg``.

    Args:
      learning_rate: multiplier of ``eta``, a number ``>= 0`` or a schedule.
        Default 1.0.
      init_estim_sq_dist: initial squared distance ``> 0``; ``None`` uses
        ``eps``. Default ``None``.
      eps: added to ``sqrt(v)``, ``>= 0``. Default 1e-4.
      weight_decay: ``>= 0`` or ``None`` for none. Default ``None``.
      mask: which parameters decay. Default ``None`` (all).
      axis_name: lrjax addition (keyword-only): see :func:`scale_by_dowg`.

    Returns:
      ``chain(add_decayed_weights, scale_by_dowg, scale_by_learning_rate)``.

    References:
      Khaled, Mishchenko & Jin, "DoWG Unleashed: An Efficient Universal
      Parameter-Free Gradient Descent Method", NeurIPS 2023 (arXiv:2305.16284).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.dowg()
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # Before the first update: 0.
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        0
        >>> for _ in range(10):  # the quadratic |w|**2 / 2: the gradient is w
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> # After 10 updates: r_bar**2 / (sqrt(v) + eps).
        >>> print(f"{float(lrjax.get_learning_rate(state)):.3g}")
        0.636
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        _decay_or_identity(weight_decay, mask),
        scale_by_dowg(init_estim_sq_dist, eps, axis_name=axis_name),
        scale_by_learning_rate(learning_rate),
    )
