"""Schedule-Free learning (Defazio et al., 2024): averaging instead of decay."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _containers as containers
from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
    get_learning_rate,
)
from lrjax.transforms.packed_params import PackedParams, unpack_params
from lrjax.transforms.rmsprop import scale_by_rms
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = [
    "ScheduleFreeState",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
]


class ScheduleFreeState(NamedTuple):
    """State of :func:`schedule_free`.

    Attributes:
      count: int32 number of updates made (saturating).
      b1: float32 interpolation weight ``beta_1`` (read by
        :func:`schedule_free_eval_params`).
      weight_sum: float32 sum of the averaging weights so far.
      max_lr: float32 largest rate seen so far.
      base_optimizer_state: the wrapped optimizer's state.
      z: the base optimizer's iterate, dtype ``state_dtype`` (default: the
        parameter's).
      learning_rate: float32 rate of the latest update, kept here only when
        the base optimizer records none itself (``None`` otherwise, so that
        :func:`lrjax.get_learning_rate` does not count it twice).
    """

    count: jax.Array
    b1: jax.Array
    weight_sum: jax.Array
    max_lr: jax.Array
    base_optimizer_state: OptState
    z: Any
    learning_rate: jax.Array | None


def _records_rate(opt_state: OptState) -> bool:
    try:
        get_learning_rate(opt_state)
    except ValueError:
        return False
    return True


def _check_common(learning_rate, b1, weight_lr_power, state_dtype) -> None:
    val.check_learning_rate("learning_rate", learning_rate)
    val.check_in_range("b1", b1, 0.0, 1.0, low_inclusive=False)
    val.check_non_negative("weight_lr_power", weight_lr_power)
    val.check_dtype("state_dtype", state_dtype)


@elementwise_constructor("schedule_free_eval_params reads its state leaf by leaf")
def schedule_free(
    base_optimizer: GradientTransformation,
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    weight_lr_power: float = 2.0,
    state_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Makes ``base_optimizer`` schedule-free (Defazio et al., 2024).

    Keeps the base optimizer's iterate ``z`` and an average ``x`` of it; the
    parameters the gradient is taken at are ``y``. With ``gamma_t`` the rate
    at update ``t = 1, 2, ...``::

        z_{t+1} = z_t + base_update(grad f(y_t))      (for SGD: - gamma_t g_t)
        c_{t+1} = w_t / sum_{i<=t} w_i,   w_t = max_{i<=t} gamma_i ** weight_lr_power
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
        y_{t+1} = b1 x_{t+1} + (1 - b1) z_{t+1}

    The parameters are ``y``; ``x`` is recomputed from ``y`` and ``z`` (so only
    ``z`` is stored) and is what to evaluate: :func:`schedule_free_eval_params`.
    Turn the base optimizer's own momentum off (``b1=0`` for Adam).

    ``learning_rate`` must be the rate (or schedule) the base optimizer
    applies: it is evaluated at the same step as the base optimizer's (the
    number of earlier updates), so the averaging weight of step ``t`` uses the
    rate that moved ``z`` at step ``t``, as in the paper's Algorithm 1 and its
    reference implementation. ``optax.contrib.schedule_free`` evaluates it one
    step later for the weights than its base optimizer does for the step,
    which matters for any non-constant schedule (a warmup, see
    :func:`schedule_free_sgd`); with a constant rate the two agree.

    The rate is readable with :func:`lrjax.get_learning_rate` when the base
    optimizer records it (every lrjax optimizer does); otherwise this block
    records ``learning_rate`` itself.

    Args:
      base_optimizer: the optimizer that moves ``z`` (without momentum).
      learning_rate: its rate, a number ``>= 0`` or a schedule.
      b1: interpolation ``beta_1``, in ``(0, 1]``. Default 0.9.
      weight_lr_power: exponent of the rate in the averaging weights, ``>= 0``.
        Default 2.
      state_dtype: dtype of ``z`` (default: the parameter's).

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`ScheduleFreeState`;
      extra keyword arguments of ``update`` reach the base optimizer.

    References:
      Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less
      Scheduled", NeurIPS 2024 (arXiv:2405.15682).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.schedule_free(lrjax.sgd(0.1), learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = opt.init(params)
        >>> for _ in range(3):  # the quadratic |w|**2 / 2: the gradient is w
        ...     updates, state = opt.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> print(f"{float(lrjax.get_learning_rate(state)):.4f}")  # sgd's rate
        0.1000
        >>> x = lrjax.schedule_free_eval_params(state, params)  # the average
        >>> print(f"{float(x[0]):.4f} {float(x[1]):.4f}")
        0.8117 -1.6233
    """
    for method in ("init", "update"):
        if not callable(getattr(base_optimizer, method, None)):
            raise TypeError(
                "base_optimizer must be a GradientTransformation, got "
                f"{base_optimizer!r}."
            )
    _check_common(learning_rate, b1, weight_lr_power, state_dtype)
    passes_extra = isinstance(base_optimizer, GradientTransformationExtraArgs)

    def init_fn(params):
        base_state = base_optimizer.init(params)
        count = num.zero_count()
        own_rate = (
            None
            if _records_rate(base_state)
            else num.rate_at(learning_rate, count, jnp.float32)
        )
        return ScheduleFreeState(
            count=count,
            b1=jnp.asarray(b1, jnp.float32),
            weight_sum=jnp.zeros([], jnp.float32),
            max_lr=jnp.zeros([], jnp.float32),
            base_optimizer_state=base_state,
            z=num.tree_copy(params, state_dtype),
            learning_rate=own_rate,
        )

    def update_fn(updates, state, params=None, **extra_args):
        val.check_params("schedule_free", updates, params)
        val.check_tree_structure("schedule_free", updates, state.z)
        lr = num.rate_at(learning_rate, state.count, jnp.float32)
        max_lr = jnp.maximum(state.max_lr, lr)
        weight = max_lr**weight_lr_power
        weight_sum = state.weight_sum + weight
        # 0 while every rate so far is 0 (nothing to average yet).
        ck = jnp.where(weight_sum > 0, weight / weight_sum, 0.0)
        ck = jnp.where(jnp.isnan(weight_sum), jnp.nan, ck)
        extra = extra_args if passes_extra else {}
        # The base step reaches z in float32 (or wider): a float16 step of
        # size ~1 rounded before being added to z would cost z several ulps.
        # Its state keeps its declared dtypes.
        wide = jax.tree_util.tree_map(lambda g: num.upcast(g)[0], updates)
        base_updates, base_state = base_optimizer.update(
            wide, state.base_optimizer_state, params, **extra
        )
        base_state = num.tree_cast_like(base_state, state.base_optimizer_state)
        beta = state.b1

        def leaf(g, y, z, u):
            yc, zc, uc = num.upcast(y, z, u)
            znc = zc + uc
            x = (yc - (1 - beta) * zc) / beta
            x = (1 - ck) * x + ck * znc
            y_new = beta * x + (1 - beta) * znc
            # Computed in float32 and rounded once: a float16 z would not
            # move by a small step, and y with it (state_dtype=float32
            # keeps z exact).
            out_dtype = num.update_dtype(jnp.asarray(g), z.dtype)
            return num.cast(y_new - yc, out_dtype), znc.astype(z.dtype)

        pairs = jax.tree_util.tree_map(leaf, updates, params, state.z, base_updates)
        new_updates, z = num.tree_unzip(updates, pairs, 2)
        new_state = ScheduleFreeState(
            count=num.safe_increment(state.count),
            b1=state.b1,
            weight_sum=weight_sum.astype(jnp.float32),
            max_lr=max_lr.astype(jnp.float32),
            base_optimizer_state=base_state,
            z=z,
            learning_rate=None if state.learning_rate is None else lr,
        )
        return new_updates, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _find_state(opt_state: OptState) -> ScheduleFreeState:
    def is_sf(x):
        return isinstance(x, ScheduleFreeState)

    found = [s for s in jax.tree_util.tree_leaves(opt_state, is_leaf=is_sf) if is_sf(s)]
    if len(found) != 1:
        raise ValueError(
            "schedule_free_eval_params needs a state holding exactly one lrjax "
            f"ScheduleFreeState, found {len(found)} in {type(opt_state).__name__}."
        )
    return found[0]


def schedule_free_eval_params(state: OptState, params: Params) -> Params:
    """The averaged parameters ``x = (y - (1 - b1) z) / b1`` to evaluate.

    Works wherever the state and parameters live: with a bare state and a
    parameter tree; with a Flax ``TrainState``; with an ``nnx.Optimizer`` (or
    its ``opt_state``) and the model (or ``nnx.state(model, nnx.Param)``),
    giving an ``nnx.State`` to load into a copy of the model
    (``eval_model = nnx.clone(model); nnx.update(eval_model, x)``: training
    goes on from ``y``, so do not load ``x`` into the model being trained);
    and with the state of :func:`lrjax.packed` (the result is unpacked).

    Args:
      state: the state of :func:`schedule_free` (or of an optimizer built on
        it), or anything holding exactly one such state (an ``optax.chain``,
        an ``inject_hyperparams`` state, a ``TrainState``, an
        ``nnx.Optimizer``). lrjax extension: optax needs the schedule-free
        state itself.
      params: the current (training) parameters ``y``: a tree, an
        ``nnx.State`` or an ``nnx.Module`` (then the parameters the
        ``nnx.Optimizer`` given as ``state`` trains, else its ``nnx.Param``).

    Returns:
      A tree like ``params`` (plain arrays, in their dtypes).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.schedule_free_sgd(0.1, b1=0.9)
        >>> params = {"w": jnp.ones(2)}
        >>> state = opt.init(params)
        >>> for _ in range(2):  # the gradient of |w|**2 / 2 is w
        ...     updates, state = opt.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        >>> print(f"{float(params['w'][0]):.4f}")  # y = 0.9 x + 0.1 z
        0.8505
        >>> x = lrjax.schedule_free_eval_params(state, params)  # (y - 0.1 z) / 0.9
        >>> print(f"{float(x['w'][0]):.4f}")  # the mean of z_1 = 0.9 and z_2 = 0.81
        0.8550
    """
    sf = _find_state(containers.opt_state_of(state))
    y = containers.params_of(params, state)
    z = sf.z
    if isinstance(z, PackedParams) and not isinstance(y, PackedParams):
        z = unpack_params(z)

    def leaf(y, z):
        yc, zc = num.upcast(y, z)
        return ((yc - (1 - sf.b1) * zc) / sf.b1).astype(jnp.asarray(y).dtype)

    return jax.tree_util.tree_map(leaf, y, z)


def _with_warmup(learning_rate: ScalarOrSchedule, warmup_steps: int | None):
    """``lr(t) * min(1, (t + 1) / warmup_steps)``: the paper's warmup.

    ``t`` counts earlier updates, so update ``t + 1`` uses the fraction
    ``(t + 1) / warmup_steps``: never 0, full from update ``warmup_steps`` on.
    """
    if warmup_steps is None:
        return learning_rate

    def schedule(count):
        frac = jnp.minimum(1.0, (jnp.asarray(count, jnp.float32) + 1.0) / warmup_steps)
        return num.rate_at(learning_rate, count, jnp.float32) * frac

    return schedule


_WARMUP_NOTE = """
    With ``warmup_steps = W`` the rate at update ``t = 1, 2, ...`` is
    ``gamma_t = learning_rate * min(1, t / W)``, used both for the step of
    ``z`` and in the averaging weight ``c_{t+1}``, as in the paper's
    Algorithm 1 and its reference PyTorch implementation
    (``schedulefree.SGDScheduleFree(warmup_steps=W)``). optax.contrib's
    version steps ``z`` with ``learning_rate * (t - 1) / W`` (its first update
    does not move ``z``) while weighting with ``learning_rate * t / W``: its
    warmup runs one step out of phase with its averaging weights. Without
    warmup both give the same iterates.
"""


@elementwise_constructor("schedule_free_eval_params reads its state leaf by leaf")
def schedule_free_sgd(
    learning_rate: ScalarOrSchedule = 1.0,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    weight_decay: float | None = None,
    weight_lr_power: float = 2.0,
    state_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Schedule-free SGD: :func:`schedule_free` around plain SGD.

    The base step is ``z <- z - gamma_t (g + weight_decay * y)`` (the decay is
    multiplied by the rate, as in PyTorch, and taken at ``y``).
    :func:`lrjax.get_learning_rate` returns ``gamma_t``, warmup included.
    {warmup}
    Args:
      learning_rate: peak rate, a number ``>= 0`` (or a schedule, multiplied
        by the warmup). Default 1.0.
      warmup_steps: length of the linear warmup, integer ``> 0``, or ``None``
        for none. Default ``None``.
      b1: interpolation ``beta_1``, in ``(0, 1]``. Default 0.9.
      weight_decay: ``>= 0`` or ``None``. Default ``None``.
      weight_lr_power: exponent of the rate in the averaging weights, ``>= 0``.
        Default 2.
      state_dtype: dtype of ``z`` (default: the parameter's).

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`ScheduleFreeState`.

    References:
      Defazio et al., "The Road Less Scheduled", NeurIPS 2024.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.schedule_free_sgd(1.0, warmup_steps=4)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = opt.init(params)
        >>> for _ in range(2):  # gamma_t = 1.0 * min(1, t / 4)
        ...     updates, state = opt.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        ...     print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.2500
        0.5000
    """
    _check_common(learning_rate, b1, weight_lr_power, state_dtype)
    if warmup_steps is not None:
        val.check_positive_int("warmup_steps", warmup_steps)
    if weight_decay is not None:
        val.check_non_negative("weight_decay", weight_decay)
    rate = _with_warmup(learning_rate, warmup_steps)
    blocks = [] if weight_decay is None else [add_decayed_weights(weight_decay)]
    base = chain(*blocks, scale_by_learning_rate(rate))
    return schedule_free(base, rate, b1, weight_lr_power, state_dtype)


@elementwise_constructor("schedule_free_eval_params reads its state leaf by leaf")
def schedule_free_adamw(
    learning_rate: ScalarOrSchedule = 0.0025,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    weight_lr_power: float = 2.0,
    state_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Schedule-free AdamW: :func:`schedule_free` around AdamW without momentum.

    The base step is ``z <- z - gamma_t (g / (sqrt(v_hat) + eps) +
    weight_decay * y)`` with ``v_hat`` Adam's bias-corrected second moment
    (decay ``b2``). :func:`lrjax.get_learning_rate` returns ``gamma_t``,
    warmup included.
    {warmup}
    A second difference from the paper, shared with optax.contrib: the
    paper's AdamW (and ``schedulefree.AdamWScheduleFree``) folds Adam's
    correction ``sqrt(1 - b2**t)`` into ``gamma_t``, so it also enters the
    averaging weights (early iterates weigh less for about ``1 / (1 - b2)``
    steps) and ``eps`` is added to the uncorrected ``sqrt(v)``. Here, as in
    optax, the second moment is bias-corrected and the weights use
    ``gamma_t`` alone.

    Args:
      learning_rate: peak rate, a number ``>= 0`` (or a schedule, multiplied
        by the warmup). Default 0.0025.
      warmup_steps: length of the linear warmup, integer ``> 0``, or ``None``.
        Default ``None``.
      b1: interpolation ``beta_1``, in ``(0, 1]``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added to ``sqrt(v_hat)``, ``>= 0``. Default 1e-8.
      weight_decay: ``>= 0``. Default 0.
      weight_lr_power: exponent of the rate in the averaging weights, ``>= 0``.
        Default 2.
      state_dtype: dtype of ``z`` (default: the parameter's).

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`ScheduleFreeState`.

    References:
      Defazio et al., "The Road Less Scheduled", NeurIPS 2024.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.schedule_free_adamw(0.01, warmup_steps=2)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = opt.init(params)
        >>> for _ in range(3):  # gamma_t = 0.01 * min(1, t / 2)
        ...     updates, state = opt.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        ...     print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.0050
        0.0100
        0.0100
    """
    _check_common(learning_rate, b1, weight_lr_power, state_dtype)
    if warmup_steps is not None:
        val.check_positive_int("warmup_steps", warmup_steps)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_non_negative("weight_decay", weight_decay)
    rate = _with_warmup(learning_rate, warmup_steps)
    base = chain(
        scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(rate),
    )
    return schedule_free(base, rate, b1, weight_lr_power, state_dtype)


for _fn in (schedule_free_sgd, schedule_free_adamw):
    if _fn.__doc__:  # None under python -OO
        _fn.__doc__ = _fn.__doc__.replace("{warmup}", _WARMUP_NOTE)
del _fn
