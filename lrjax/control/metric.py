"""Report a monitored metric to the rate controllers: PyTorch's ``step(metric)``."""

from __future__ import annotations

from typing import Any, TypeVar

import jax
import numpy as np
import optax
from jax.typing import ArrayLike

from lrjax import _containers
from lrjax import _validation as val
from lrjax.control.loss_driven import LossAdaptiveScaleState, loss_adaptive_decision
from lrjax.control.plateau import ReduceOnPlateauState, plateau_decision

__all__ = ["report_metric"]

_DECISIONS = {
    ReduceOnPlateauState: plateau_decision,
    LossAdaptiveScaleState: loss_adaptive_decision,
}

Holder = TypeVar("Holder")


def _is_controller(node: Any) -> bool:
    return type(node) in _DECISIONS


def _check_value(value: Any) -> None:
    if value is not None and not callable(value) and not val.is_checkable(value):
        return  # traced: a scalar inside jit, one member's under vmap
    if isinstance(value, (str, bytes)) or value is None or callable(value):
        raise TypeError(
            f"report_metric: value must be a real scalar (a loss, an accuracy), "
            f"got {value!r}."
        )
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            "report_metric: value must be a real scalar (a loss, an accuracy), "
            f"got {value!r} of dtype {arr.dtype}."
        )
    if arr.shape != ():
        raise ValueError(
            "report_metric: value must be a scalar (one metric per call; average "
            f"minibatch losses first), got shape {arr.shape}."
        )


def report_metric(state: Holder, value: ArrayLike) -> Holder:
    """Reports a monitored metric: one decision of every rate controller.

    The lrjax form of PyTorch's ``ReduceLROnPlateau.step(metric)``: train an
    epoch with ``update`` (no ``value=``), then report the validation loss
    (or accuracy, with ``mode="max"``) once. Each
    :func:`lrjax.reduce_on_plateau` and :func:`lrjax.loss_adaptive_scale` in
    the state makes one decision on ``value`` (a plateau controller with
    ``accumulation_size=n`` decides on the mean of ``n`` reports); no gradient
    step is taken. The new scale applies from the next ``update`` on, and
    :func:`lrjax.get_learning_rate` reports it at once.

    ``state`` is wherever the optimizer state sits: a bare state, any tree
    holding one (``optax.chain``, ``optax.partition``, ``inject_hyperparams``,
    :func:`lrjax.packed`), a Flax ``TrainState`` (a new one is returned), or
    an ``nnx.Optimizer`` or its ``opt_state`` (updated in place and returned).
    Works under ``jax.jit``, ``nnx.jit`` and ``jax.vmap`` (one metric per
    population member).

    Args:
      state: an optimizer state, or a ``TrainState``/``nnx.Optimizer`` holding
        one, with at least one lrjax plateau or loss-driven controller.
      value: the metric, a real scalar (NaN counts as no improvement for a
        plateau and as a rise for the loss-driven rate).

    Returns:
      The state (or holder) after the decisions.

    Raises:
      ValueError: when ``state`` holds no such controller, or ``value`` is not
        a scalar.
      TypeError: when ``value`` is not a real number.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.chain(lrjax.sgd(0.1), lrjax.reduce_on_plateau(0.5, patience=0))
        >>> state = opt.init(jnp.zeros(3))
        >>> state = lrjax.report_metric(state, 1.0)  # best so far
        >>> state = lrjax.report_metric(state, 1.5)  # worse: rate halved
        >>> print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.0500
    """
    _check_value(value)
    opt_state = _containers.opt_state_of(state)
    nodes = jax.tree_util.tree_leaves(opt_state, is_leaf=_is_controller)
    if not any(_is_controller(n) for n in nodes):
        hint = ""
        if any(
            isinstance(n, optax.contrib.ReduceLROnPlateauState)
            for n in jax.tree_util.tree_leaves(
                opt_state,
                is_leaf=lambda x: isinstance(x, optax.contrib.ReduceLROnPlateauState),
            )
        ):
            hint = (
                " optax.contrib.reduce_on_plateau keeps its arguments out of its "
                "state and decides only inside update(value=); use "
                "lrjax.reduce_on_plateau (same arguments) to report metrics."
            )
        raise ValueError(
            "report_metric: the state holds no lrjax.reduce_on_plateau or "
            f"lrjax.loss_adaptive_scale controller (got an object of type {type(state).__name__})."
            + hint
        )

    def decide(node: Any) -> Any:
        if _is_controller(node):
            return _DECISIONS[type(node)](node, value)
        return node

    new_state = jax.tree_util.tree_map(decide, opt_state, is_leaf=_is_controller)
    return _containers.with_opt_state(state, new_state)
