"""Training-health signals kept in the optimizer state.

The ratio of the update's size to the parameters' size tells whether a
learning rate is too high or too low before the loss does: steps that move
each weight by ~1e-3 of its size are the usual regime for Adam-like
optimizers; ~1e-1 means the rate is too high, ~1e-6 that it barely trains.
:func:`track_signals` records it, with the gradient, update and parameter
norms, overall and per group of parameters; :func:`lrjax.get_metrics`
(``metrics_reader.py``) reads what is recorded from wherever the state
lives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    checks_state,
    mark_elementwise,
)
from lrjax.transforms._param_rules import path_string

__all__ = ["RECORD_ARG", "TrackSignalsState", "track_signals"]

RECORD_ARG = "record_signals"
SIGNALS = ("grad_norm", "update_norm", "param_norm", "update_rms_ratio")
Groups = str | Callable[[str], "str | None"] | Mapping[str, str] | None


class TrackSignalsState(NamedTuple):
    """State of :func:`track_signals`.

    Attributes:
      count: int32 updates recorded (saturating; updates passed with
        ``record_signals=False`` are not counted).
      signals: dict from signal name (``"grad_norm"``, ``"grad_norm/<group>"``,
        ...) to a float32 scalar: its value at the latest update, or its
        debiased moving average with ``ema_decay``. Zeros before any update.
      ema: dict of the (biased) moving averages, same keys; empty without
        ``ema_decay``.
      ema_count: dict of int32 counts of the finite values each moving
        average holds (its debiasing power), same keys; empty without
        ``ema_decay``.
      inner_state: the wrapped optimizer's state.
    """

    count: jax.Array
    signals: dict[str, jax.Array]
    ema: dict[str, jax.Array]
    ema_count: dict[str, jax.Array]
    inner_state: Any

    def metrics(self) -> dict[str, jax.Array]:
        """What :func:`get_metrics` reports of this state."""
        return dict(self.signals)


def _leaf_paths(tree: Any) -> list[str]:
    """The leaves' paths as ``"a/b/0"`` strings, in ``tree_leaves`` order."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [path_string(path) for path, _ in flat]


def _labeller(groups: Groups) -> Callable[[str], str | None] | None:
    """``path -> group label or None`` for the ``groups`` argument."""
    if groups is None:
        return None
    if isinstance(groups, str):
        val.check_one_of("groups", groups, ("top",))
        # A bare array has the empty path: no first component, no group.
        return lambda path: path.split("/", 1)[0] or None
    if isinstance(groups, Mapping):
        patterns = []
        for label, pattern in groups.items():
            if not isinstance(label, str) or not isinstance(pattern, str):
                raise TypeError(
                    "groups must map labels (str) to regular expressions (str), "
                    f"got {label!r}: {pattern!r}."
                )
            try:
                patterns.append((label, re.compile(pattern)))
            except re.error as err:
                raise ValueError(
                    f"groups[{label!r}] must be a regular expression, got "
                    f"{pattern!r} ({err})."
                ) from err

        def by_pattern(path: str) -> str | None:
            return next((lab for lab, pat in patterns if pat.search(path)), None)

        return by_pattern
    if callable(groups):
        return groups
    raise TypeError(
        "groups must be None, 'top', a callable path -> label or a mapping "
        f"label -> regular expression, got {groups!r} of type "
        f"{type(groups).__name__}."
    )


def _group_members(labeller: Any, params: Any) -> dict[str, list[int]]:
    """Group label -> indices of its leaves (in ``tree_leaves`` order)."""
    members: dict[str, list[int]] = {}
    if labeller is None:
        return members
    for i, path in enumerate(_leaf_paths(params)):
        label = labeller(path)
        if label is None:
            continue
        if not isinstance(label, str):
            raise TypeError(
                f"groups: the label of {path!r} must be a str or None, got {label!r}."
            )
        if not label:
            raise ValueError(
                f"groups: the label of {path!r} must be a non-empty str (the "
                "whole-tree signals have no suffix), got ''."
            )
        members.setdefault(label, []).append(i)
    return members


def _leaf_sum_sq(x: Any) -> jax.Array:
    return jnp.sum(num.abs_sq(num.upcast(x)[0]))


def _total(sq: list[jax.Array], idx: list[int]) -> jax.Array:
    terms = [sq[i].astype(jnp.float32) for i in idx]
    return sum(terms[1:], terms[0]) if terms else jnp.zeros([], jnp.float32)


def _record_flag(value: Any) -> bool | jax.Array:
    """``record_signals`` as a Python bool when known now, else a traced bool."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if not isinstance(value, (jax.Array, np.ndarray)) or value.dtype != bool:
        raise TypeError(
            f"{RECORD_ARG} must be a bool (or a boolean scalar array), got "
            f"{value!r} of type {type(value).__name__}."
        )
    if value.shape != ():
        raise ValueError(
            f"{RECORD_ARG} must be a scalar, got an array of shape {value.shape}."
        )
    return bool(value) if num.is_concrete(value) else value


def _signal_names(members: dict[str, list[int]]) -> list[str]:
    return list(SIGNALS) + [f"{s}/{g}" for g in members for s in SIGNALS]


@checks_state
def track_signals(
    inner: GradientTransformation,
    *,
    groups: Groups = None,
    ema_decay: float | None = None,
    axis_name: num.AxisName = None,
) -> GradientTransformationExtraArgs:
    """Records gradient, update and parameter norms and their ratio in the state.

    At each ``update``, with ``g`` the gradients received, ``u`` the updates
    ``inner`` returns and ``p`` the parameters passed (before the update is
    applied), it records::

        grad_norm        = sqrt(sum |g|**2)
        update_norm      = sqrt(sum |u|**2)
        param_norm       = sqrt(sum |p|**2)
        update_rms_ratio = rms(u) / rms(p) = update_norm / param_norm

    summed over every element of every leaf, in float32 (bf16 leaves are
    upcast; a complex element counts ``|z|``). ``rms`` is the root mean
    square over the same elements, so the ratio of RMS values equals the
    ratio of norms. Where ``param_norm`` is 0 (zero-initialized biases
    before their first step) the ratio is recorded as 0: no size to compare
    with, and an infinite value would never leave a moving average.

    With ``groups`` each signal is also recorded per group of leaves, as
    ``"<signal>/<group>"``. A leaf's path is its keys joined by ``/``
    (``"Dense_0/kernel"``, ``"layers/0/w"``):

    * ``"top"``: the group is the first component of the path;
    * a callable ``path -> label`` (``None``: in no group);
    * a mapping ``label -> regular expression``: the first label whose
      expression ``re.search``-es the path (none: in no group).

    With ``ema_decay`` (``beta``) every signal is smoothed::

        m_t = beta * m_{t-1} + (1 - beta) * x_t,   recorded m_t / (1 - beta**t)

    (the debiasing of Adam's moments: the first value is recorded as is).
    A non-finite value (the gradient norm of a NaN step that
    :func:`lrjax.skip_spikes` skipped inside, say) does not enter its
    average: that key keeps its average, and ``t`` counts each key's finite
    values. Without ``ema_decay`` the latest value is recorded as it is,
    non-finite or not.

    Read the signals with :func:`lrjax.get_metrics`. ``update`` needs
    ``params``.

    **Recording only some steps.** ``update`` takes the keyword
    ``record_signals`` (default ``True``), passed like any extra argument
    (``opt.update(g, state, params, record_signals=False)``,
    ``nnx.Optimizer.update(model, grads, record_signals=False)``) and on to
    ``inner``, so nested recorders follow it. A Python ``bool`` decides while
    tracing: with ``False`` nothing is measured, the recorded signals, moving
    averages and ``count`` stay as they were, and the step compiles to
    ``inner``'s alone. A traced boolean scalar (``step % 100 == 0`` inside
    ``jit``) decides at run time under ``lax.cond``. The moving average and
    its debiasing then run over the recorded updates only. Recording costs
    three sums of squares over the parameters and keeps the updates in
    memory: on a CPU that is a large share of a bare optimizer update (see
    ``BENCHMARKS.md``), so log every N steps with a second jitted step that
    passes ``record_signals=True``.

    Args:
      inner: the optimizer whose updates are measured.
      groups: ``None`` (default: whole tree only), ``"top"``, a callable or a
        mapping as above.
      ema_decay: ``None`` (default: latest values) or ``beta`` in ``[0, 1)``.
      axis_name: lrjax addition: the mesh axis the parameters are split
        across under ``shard_map``; the sums of squares are then completed
        over it with ``psum``, so every device records the norms of the whole
        tree (see :func:`lrjax.global_norm`). Default None.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`TrackSignalsState`;
      updates and ``inner``'s behaviour are unchanged.

    Raises:
      TypeError: ``record_signals`` that is not a bool or boolean array.
      ValueError: ``record_signals`` that is not a scalar; ``update`` without
        ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.track_signals(lrjax.sgd(0.1), groups="top")
        >>> params = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([0.0])}
        >>> state = opt.init(params)
        >>> grads = {"a": jnp.array([0.6, 0.8]), "b": jnp.array([2.0])}
        >>> _, state = opt.update(grads, state, params)
        >>> m = lrjax.get_metrics(state)
        >>> for k in ("param_norm", "update_norm/a", "update_rms_ratio/a"):
        ...     print(k, f"{float(m[k]):.3f}")  # 5; 0.1 * 1; 0.1 / 5
        param_norm 5.000
        update_norm/a 0.100
        update_rms_ratio/a 0.020
        >>> print(f"{float(m['update_rms_ratio/b']):.1f}")  # zero parameters
        0.0
        >>> print(f"{float(m['learning_rate']):.1f}")
        0.1

        A step that does not record keeps the last values:

        >>> grads = {"a": jnp.array([6.0, 8.0]), "b": jnp.array([0.0])}
        >>> _, state = opt.update(grads, state, params, record_signals=False)
        >>> print(f"{float(lrjax.get_metrics(state)['grad_norm']):.1f}")  # not 10
        2.2
        >>> int(state.count)
        1
    """
    if not callable(getattr(inner, "update", None)):
        raise TypeError(
            f"inner must be a GradientTransformation, got {type(inner).__name__}."
        )
    labeller = _labeller(groups)
    if ema_decay is not None:
        val.check_in_range("ema_decay", ema_decay, 0.0, 1.0, high_inclusive=False)
    val.check_axis_name("axis_name", axis_name)
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        names = _signal_names(_group_members(labeller, params))
        zeros = {k: jnp.zeros([], jnp.float32) for k in names}
        smoothed = ema_decay is not None
        return TrackSignalsState(
            count=num.zero_count(),
            signals=zeros,
            ema=dict(zeros) if smoothed else {},
            ema_count={k: num.zero_count() for k in names} if smoothed else {},
            inner_state=inner.init(params),
        )

    def measure(updates, new_updates, params, state):
        """Count, signals and moving averages (and their counts) after
        recording this update."""
        trees = (updates, new_updates, params)
        sq = [[_leaf_sum_sq(x) for x in jax.tree_util.tree_leaves(t)] for t in trees]
        if not len(sq[0]) == len(sq[1]) == len(sq[2]):
            raise ValueError(
                "track_signals: gradients, updates and params must have the same "
                f"leaves, got {len(sq[0])}, {len(sq[1])} and {len(sq[2])}."
            )
        members = {"": list(range(len(sq[2])))}
        members.update(_group_members(labeller, params))
        # One psum for every sum of squares: (groups, 3) values.
        totals = jnp.stack(
            [jnp.stack([_total(s, i) for s in sq]) for i in members.values()]
        )
        norms = jnp.sqrt(num.psum_if(totals, axis_name))
        values = {}
        for group, (g, u, p) in zip(members, norms, strict=True):
            ratio = jnp.where(p > 0, u / jnp.where(p > 0, p, 1.0), 0.0)
            suffix = f"/{group}" if group else ""
            for name, x in zip(SIGNALS, (g, u, p, ratio), strict=True):
                values[name + suffix] = x
        values = {k: values[k] for k in state.signals}
        count = num.safe_increment(state.count)
        if ema_decay is None:
            return count, values, state.ema, state.ema_count
        beta = jnp.asarray(ema_decay, jnp.float32)
        ema, ema_count, signals = {}, {}, {}
        for k, x in values.items():
            finite = jnp.isfinite(x)
            ema[k] = jnp.where(
                finite, beta * state.ema[k] + (1.0 - beta) * x, state.ema[k]
            )
            ema_count[k] = jnp.where(
                finite, num.safe_increment(state.ema_count[k]), state.ema_count[k]
            )
            debias = num.bias_correction(ema_decay, jnp.maximum(ema_count[k], 1))
            # Before any finite value there is no average: the value itself.
            signals[k] = jnp.where(
                ema_count[k] > 0, ema[k] * debias.astype(jnp.float32), x
            )
        return count, signals, ema, ema_count

    def update_fn(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError(
                "track_signals: update needs params (the parameter norm and the "
                "update/parameter ratio are measured against them)."
            )
        record = _record_flag(extra_args.get(RECORD_ARG, True))
        new_updates, inner_state = inner.update(
            updates, state.inner_state, params, **extra_args
        )
        if record is True:
            recorded = measure(updates, new_updates, params, state)
        elif record is False:  # nothing to compute: the step costs what inner's does
            recorded = (state.count, state.signals, state.ema, state.ema_count)
        else:
            recorded = jax.lax.cond(
                record,
                lambda ops: measure(*ops),
                lambda ops: (
                    ops[3].count,
                    ops[3].signals,
                    ops[3].ema,
                    ops[3].ema_count,
                ),
                (updates, new_updates, params, state),
            )
        return new_updates, TrackSignalsState(*recorded, inner_state)

    return mark_elementwise(
        GradientTransformationExtraArgs(init_fn, update_fn),
        "it records norms over the whole tree and per group of leaves",
    )
