"""Running averages of the parameters: exponential (EMA) and Polyak-Ruppert.

Both blocks pass the updates through unchanged and keep, in their state, an
average of the *iterates*: the parameters after each update, ``params +
updates``. Chain them last, after the optimizer, so that the updates they see
are the ones ``optax.apply_updates`` will apply::

    opt = optax.chain(lrjax.sgd(0.1), lrjax.polyak_averaging())
    ...
    eval_params = lrjax.averaged_params(state)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _containers as containers
from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation, OptState, elementwise_constructor
from lrjax.transforms.packed_params import PackedParams, unpack_params

__all__ = [
    "EmaParamsState",
    "PolyakAveragingState",
    "ema_params",
    "polyak_averaging",
    "averaged_params",
]

AVERAGE_FIELD = "averaged_params"


class EmaParamsState(NamedTuple):
    """State of :func:`ema_params`.

    Attributes:
      count: int32 number of updates made (saturating).
      averaged_params: the EMA of the iterates, one buffer per parameter.
    """

    count: jax.Array
    averaged_params: Any


class PolyakAveragingState(NamedTuple):
    """State of :func:`polyak_averaging`.

    Attributes:
      count: int32 number of updates made (saturating).
      averaged_params: the mean of the iterates from ``start_step`` on (the
        current iterate before ``start_step``), one buffer per parameter.
    """

    count: jax.Array
    averaged_params: Any


def _init_average(params: Any, dtype: Any | None) -> Any:
    # Sharded like the params (tree_buffers), holding a copy of them: the
    # average of the single iterate theta_0.
    buffers = num.tree_buffers(params, dtype)

    def fill(buf, p):
        if isinstance(p, jax.ShapeDtypeStruct):
            return buf  # abstract init: shapes, dtypes and sharding only
        return (buf + jnp.asarray(p)).astype(buf.dtype)

    return jax.tree_util.tree_map(fill, buffers, params)


def _iterate(p: jax.Array, u: jax.Array) -> jax.Array:
    """``p + u`` as ``optax.apply_updates`` stores it, rounded to ``p``'s dtype.

    Returned in the compute dtype. For narrow floats (bf16, float16) the
    roundings of ``u`` and of the sum are made explicit with
    ``lax.reduce_precision``: a plain ``astype`` round trip may be elided by
    XLA inside a fused step (it allows excess precision), and the average
    would then mix in values no parameter ever held.
    """
    p, u = jnp.asarray(p), jnp.asarray(u)
    total = sum(num.upcast(p, _rounded(u)))
    return _rounded(total, p.dtype)


def _rounded(x: jax.Array, dtype: Any | None = None) -> jax.Array:
    """``x`` rounded to ``dtype`` (default its own) and kept in the compute dtype."""
    dtype = jnp.dtype(dtype or x.dtype)
    x = x.astype(num.compute_dtype(x.dtype))
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits < 32:
        info = jnp.finfo(dtype)
        return jax.lax.reduce_precision(x, info.nexp, info.nmant)
    return x


def _mix(avg: jax.Array, new: jax.Array, weight: jax.Array) -> jax.Array:
    """``avg + weight * (new - avg)`` in at least float32, stored as ``avg``."""
    a, n, w = num.upcast(avg, new, weight)
    return (a + w * (n - a)).astype(avg.dtype)


def _averaging_update(name: str, weight_fn):
    """``update`` of a block whose new average mixes in ``weight_fn(count)``."""

    def update_fn(updates, state, params=None):
        val.check_params(name, updates, params)
        val.check_tree_structure(name, updates, state.averaged_params)
        count = num.safe_increment(state.count)
        weight = weight_fn(count)
        average = jax.tree_util.tree_map(
            lambda avg, p, u: _mix(avg, _iterate(p, u), weight),
            state.averaged_params,
            params,
            updates,
        )
        return updates, type(state)(count, average)

    return update_fn


@elementwise_constructor("averaged_params reads its state leaf by leaf")
def ema_params(
    decay: float, *, accumulator_dtype: DTypeLike | None = None
) -> GradientTransformation:
    """Exponential moving average of the parameters (weight EMA).

    With ``theta_t`` the parameters after ``t`` updates (``theta_0`` those given
    to ``init``)::

        avg_0 = theta_0
        avg_t = decay * avg_{t-1} + (1 - decay) * theta_t

    Not debiased: the average starts from the initial parameters, not from
    zero, so there is no zero-initialisation bias to correct (as the weight
    EMAs of TensorFlow's ``ExponentialMovingAverage`` and timm's ``ModelEma``,
    whose shadow copies start at the weights). Unlike ``optax.ema``, which
    averages the *updates* (a momentum), this averages the parameters and
    leaves the updates unchanged. Read the average with
    :func:`averaged_params`. Chain it last: it needs ``params`` in ``update``.

    Args:
      decay: weight of the past, in ``[0, 1]`` (0.999 or 0.9999 are usual).
      accumulator_dtype: dtype of the average (default: the parameter's;
        float32 keeps small increments that bf16 would round away). lrjax
        addition.

    Returns:
      A ``GradientTransformation`` with :class:`EmaParamsState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.chain(lrjax.sgd(0.5), lrjax.ema_params(decay=0.9))
        >>> params = jnp.array([1.0])
        >>> state = opt.init(params)
        >>> updates, state = opt.update(params, state, params)  # gradient of |w|**2 / 2
        >>> params = lrjax.apply_updates(params, updates)  # theta_1 = 0.5
        >>> lrjax.averaged_params(state)  # 0.9 * 1.0 + 0.1 * 0.5
        Array([0.95], dtype=float32)
    """
    val.check_in_range("decay", decay, 0.0, 1.0)
    val.check_dtype("accumulator_dtype", accumulator_dtype)

    def init_fn(params):
        return EmaParamsState(
            num.zero_count(), _init_average(params, accumulator_dtype)
        )

    def weight(count):
        del count
        return jnp.asarray(1.0 - jnp.asarray(decay, jnp.float32), jnp.float32)

    return GradientTransformation(init_fn, _averaging_update("ema_params", weight))


@elementwise_constructor("averaged_params reads its state leaf by leaf")
def polyak_averaging(
    start_step: int = 0, *, accumulator_dtype: DTypeLike | None = None
) -> GradientTransformation:
    """Polyak-Ruppert averaging: the plain mean of the iterates from ``start_step`` on.

    With ``theta_t`` the parameters after ``t`` updates (``theta_0`` those given
    to ``init``) and ``s = start_step``::

        avg_t = theta_t                                  (t < s)
        avg_t = mean(theta_s, theta_{s+1}, ..., theta_t)   (t >= s)

    computed as a running mean ``avg_t = avg_{t-1} + (theta_t - avg_{t-1}) /
    (t - s + 1)``. ``start_step=0`` includes the initial parameters.

    PyTorch: the averaged parameters ``ax`` of ``torch.optim.ASGD(lr,
    lambd=0, alpha=..., t0=start_step - 2)`` (``lambd=0`` keeps its rate
    constant, so its steps are plain SGD's) equal ``avg_t`` for
    ``start_step >= 1``. ASGD mixes with the weight ``mu`` computed one step
    earlier, ``mu = 1 / max(1, step - t0)``, and its first step always copies
    the parameters, so its ``t0`` is ``start_step - 2`` and it cannot include
    ``theta_0``. Read the average with :func:`averaged_params`. Chain it last:
    it needs ``params`` in ``update``.

    Args:
      start_step: the first iterate averaged, an integer ``>= 0``. Default 0.
      accumulator_dtype: dtype of the average (default: the parameter's;
        float32 keeps small increments that bf16 would round away). lrjax
        addition.

    Returns:
      A ``GradientTransformation`` with :class:`PolyakAveragingState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.chain(lrjax.sgd(0.5), lrjax.polyak_averaging())
        >>> params = jnp.array([1.0])
        >>> state = opt.init(params)
        >>> for _ in range(2):  # gradient of |w|**2 / 2: theta = 1, 0.5, 0.25
        ...     updates, state = opt.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> average = lrjax.averaged_params(state)
        >>> print(f"{float(average[0]):.4f}")  # (1 + 0.5 + 0.25) / 3
        0.5833
    """
    val.check_non_negative_int("start_step", start_step)
    val.check_dtype("accumulator_dtype", accumulator_dtype)

    def init_fn(params):
        return PolyakAveragingState(
            num.zero_count(), _init_average(params, accumulator_dtype)
        )

    def weight(count):
        # 1 before start_step (avg = theta_t), then 1 / (iterates averaged).
        # In float32: count - start_step + 1 overflows int32 at saturation.
        n = count.astype(jnp.float32) - jnp.asarray(start_step, jnp.float32) + 1.0
        return 1.0 / jnp.maximum(n, 1.0)

    return GradientTransformation(
        init_fn, _averaging_update("polyak_averaging", weight)
    )


def _is_average_holder(node: Any) -> bool:
    return isinstance(node, tuple) and AVERAGE_FIELD in getattr(node, "_fields", ())


def averaged_params(opt_state: OptState) -> Any:
    """The averaged parameters kept by :func:`ema_params` or :func:`polyak_averaging`.

    Finds the state field ``averaged_params`` anywhere in ``opt_state``: an
    ``optax.chain`` state, a dict of states, a Flax ``TrainState`` (or its
    ``opt_state``), an ``nnx.Optimizer`` (or its ``opt_state``: the result is
    then an ``nnx.State`` of plain arrays to load into a copy of the model,
    ``nnx.update(nnx.clone(model), average)``, leaving the trained model as
    it is), or the state of :func:`lrjax.packed` (the average is unpacked).

    Args:
      opt_state: an optimizer state tree holding exactly one average, or an
        object holding one.

    Returns:
      The average, a tree shaped like the parameters.

    Raises:
      ValueError: when the state holds no average, or more than one (pass the
        sub-state you want instead).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.chain(lrjax.sgd(0.5), lrjax.polyak_averaging())
        >>> params = {"w": jnp.array([1.0, -1.0])}
        >>> state = opt.init(params)
        >>> updates, state = opt.update(params, state, params)
        >>> lrjax.averaged_params(state)  # the mean of theta_0 and theta_0 / 2
        {'w': Array([ 0.75, -0.75], dtype=float32)}
    """
    tree = containers.opt_state_of(opt_state)
    nodes = jax.tree_util.tree_leaves(tree, is_leaf=_is_average_holder)
    found = [n for n in nodes if _is_average_holder(n)]
    if not found:
        raise ValueError(
            "averaged_params: this optimizer state holds no parameter average. "
            "Chain lrjax.ema_params(decay) or lrjax.polyak_averaging() after "
            "the optimizer, e.g. optax.chain(lrjax.sgd(0.1), "
            "lrjax.polyak_averaging())."
        )
    if len(found) > 1:
        raise ValueError(
            f"averaged_params: this optimizer state holds {len(found)} parameter "
            "averages; pass the sub-state that holds the one you want."
        )
    average = getattr(found[0], AVERAGE_FIELD)
    if isinstance(average, PackedParams):
        return unpack_params(average)
    return average
