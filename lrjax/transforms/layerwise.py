"""Layer-wise trust ratios (LARS, You et al. 2017; LAMB, You et al. 2020) and
Fromage's retraction (Bernstein et al., 2020)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation, ScalarOrSchedule
from lrjax.transforms.weight_decay import apply_mask, check_mask

__all__ = [
    "FromageRetractionState",
    "fromage_retraction",
    "leaf_norm",
    "scale_by_trust_ratio",
]


def leaf_norm(
    x: jax.Array, min_norm: Any = 0.0, *, axis_name: num.AxisName = None
) -> jax.Array:
    """``max(||x||_2, min_norm)`` over all elements of ``x``, real.

    ``||x||_2 = sqrt(sum(|x|**2))`` (the modulus for complex ``x``), summed in
    at least float32. The square root is taken of a strictly positive value
    only, so the norm has a zero (not NaN) gradient at ``x = 0`` when
    differentiated through. ``axis_name``: the mesh axis ``x`` is split
    across under ``shard_map``; the sum of squares is completed with ``psum``
    before the root (see :func:`lrjax.global_norm`).
    """
    sq = num.psum_if(jnp.sum(num.abs_sq(num.upcast(x)[0])), axis_name)
    positive = sq > 0
    norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)
    return jnp.maximum(norm, jnp.asarray(min_norm, sq.dtype))


def scale_by_trust_ratio(
    min_norm: float = 0.0,
    trust_coefficient: float = 1.0,
    eps: float = 0.0,
    *,
    mask: Any | None = None,
    mask_name: str = "mask",
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """Rescales each leaf's update by its layer-wise trust ratio.

    For every parameter leaf ``p`` with update ``u``::

        ||p||' = max(||p||, min_norm),   ||u||' = max(||u||, min_norm)
        ratio  = trust_coefficient * ||p||' / (||u||' + eps)
        u     <- u * ratio          (ratio = 1 where ||p||' or ||u||' is 0)

    Norms are L2 norms over the whole leaf (Frobenius for matrices; the
    modulus for complex leaves, as optax's ``safe_norm``). A leaf
    whose parameters or update are all zero is passed through unchanged, so a
    zero-initialised layer still moves. This is the ``phi(||w||) / ||u||``
    factor of LARS (You et al., 2017, "Large Batch Training of Convolutional
    Networks") and LAMB (You et al., 2020, "Large Batch Optimization for Deep
    Learning: Training BERT in 76 minutes") with ``phi`` the identity.

    Args:
      min_norm: lower bound on both norms, ``>= 0``. Default 0 (no bound).
      trust_coefficient: multiplier of the ratio, ``>= 0`` (LARS's ``eta``).
        Default 1.
      eps: added to the update norm, ``>= 0``. Default 0.
      mask: lrjax addition (keyword-only): a tree of bools with the structure
        of the params (or a prefix of it), or a callable ``params -> tree``;
        leaves marked False pass through unscaled. ``None`` scales all.
        Checked against the params at ``init``.
      mask_name: the name errors give ``mask``; optimizers pass the name of
        their own argument (``trust_ratio_mask``). lrjax addition.
      axis_name: lrjax addition (keyword-only): the mesh axis (or axes) each
        leaf is split across under ``shard_map`` (model parallelism); both
        norms are then those of the whole leaf. See :func:`lrjax.global_norm`.
        A leaf replicated along the axis keeps its ratio (both of its norms
        grow by the same factor). Default None.

    Returns:
      A stateless ``GradientTransformation``; ``update`` needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_trust_ratio()
        >>> params = {"w": jnp.array([3.0, 4.0]), "b": jnp.zeros(2)}
        >>> grads = {"w": jnp.array([0.0, 0.1]), "b": jnp.array([0.0, 0.1])}
        >>> updates, _ = tx.update(grads, tx.init(params), params)
        >>> updates["w"]  # times ||w|| / ||g|| = 5 / 0.1: norm 5
        Array([0., 5.], dtype=float32)
        >>> updates["b"]  # ||b|| = 0: ratio 1
        Array([0. , 0.1], dtype=float32)
    """
    val.check_non_negative("min_norm", min_norm)
    val.check_non_negative("trust_coefficient", trust_coefficient)
    val.check_non_negative("eps", eps)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        check_mask(mask_name, mask, params)
        return EmptyState()

    def update_fn(updates, state, params=None):
        val.check_params("scale_by_trust_ratio", updates, params)

        def rescale(u, p):
            u, p = jnp.asarray(u), jnp.asarray(p)
            p_norm = leaf_norm(p, min_norm, axis_name=axis_name)
            u_norm = leaf_norm(u, min_norm, axis_name=axis_name)
            ratio = trust_coefficient * p_norm / (u_norm + eps)
            degenerate = jnp.logical_or(p_norm == 0, u_norm == 0)
            ratio = jnp.where(degenerate, 1.0, ratio)
            return num.cast(num.upcast(u)[0] * ratio, num.update_dtype(u, p.dtype))

        return apply_mask(mask, params, rescale, updates), state

    return GradientTransformation(init_fn, update_fn)


class FromageRetractionState(NamedTuple):
    """State of :func:`fromage_retraction`: int32 updates made (saturating)."""

    count: jax.Array


def _shrink(lr: Any) -> tuple[Any, Any]:
    """``(m, m - 1)`` for ``m = 1 / sqrt(1 + lr**2)``, without cancellation."""
    if val.is_checkable(lr):
        root = math.sqrt(1.0 + float(lr) ** 2)
        return 1.0 / root, -(float(lr) ** 2) / (root * (1.0 + root))
    lr = jnp.asarray(lr, num.float_dtype())
    root = jnp.sqrt(1.0 + lr**2)
    return 1.0 / root, -(lr**2) / (root * (1.0 + root))


def fromage_retraction(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """Fromage's retraction: divides the new parameters by ``sqrt(1 + lr**2)``.

    Bernstein et al., 2020, "On the distance between two neural networks and
    the stability of learning". Chained after the learning-rate block, which
    gives ``u = -lr * g'``, it returns the update that makes ``p + u_out =
    (p + u) / sqrt(1 + lr**2)``::

        m = 1 / sqrt(1 + lr**2)
        u_out = m * u + (m - 1) * p

    which keeps the weights' norm from growing (the gradient step
    ``lr * ||p|| * g / ||g||`` is orthogonal-ish to ``p`` and would add
    ``lr**2 ||p||**2`` to ``||p||**2``). ``m - 1 = -lr**2 / (r (1 + r))``
    with ``r = sqrt(1 + lr**2)``, computed without cancellation (in float64
    on the host for a constant rate: at ``lr = 1e-4``, ``m`` is 1 in
    float32 but ``m - 1 = -5e-9`` is kept).

    Args:
      learning_rate: the rate of the step it follows, ``>= 0`` or a
        schedule (then read at the same step count).

    Returns:
      A ``GradientTransformation`` with :class:`FromageRetractionState`;
      ``update`` needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import lrjax
        >>> tx = lrjax.fromage_retraction(learning_rate=0.75)
        >>> params = {"w": jnp.array([4.0, 0.0])}
        >>> step = {"w": jnp.array([0.0, 3.0])}  # the update of the block before
        >>> updates, _ = tx.update(step, tx.init(params), params)
        >>> optax.apply_updates(params, updates)["w"]  # (w + u) / sqrt(1 + 0.75**2)
        Array([3.2, 2.4], dtype=float32)
    """
    val.check_learning_rate("learning_rate", learning_rate)

    def init_fn(params):
        del params
        return FromageRetractionState(num.zero_count())

    def update_fn(updates, state, params=None):
        val.check_params("fromage_retraction", updates, params)
        if callable(learning_rate):
            m, m_minus_1 = _shrink(num.rate_at(learning_rate, state.count))
        else:
            m, m_minus_1 = _shrink(learning_rate)

        def retract(u, p):
            u, p = jnp.asarray(u), jnp.asarray(p)
            uc, pc = num.upcast(u, p)
            out = m * uc + m_minus_1 * pc
            # The update's own dtype: the parameter only shrinks it.
            return num.keep_weak(num.cast(out, u.dtype), u)

        updates = jax.tree_util.tree_map(retract, updates, params)
        return updates, FromageRetractionState(num.safe_increment(state.count))

    return GradientTransformation(init_fn, update_fn)
