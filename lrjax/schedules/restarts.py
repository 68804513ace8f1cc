"""Warm restarts (SGDR, Loshchilov & Hutter 2017): cosine cycles run back to back.

Two ways to give the cycles, one implementation:

* optax's :func:`sgdr_schedule`: an explicit list of cycles, each the
  arguments of a ``warmup_cosine_decay_schedule``; the last one holds its end
  value after it ends.
* PyTorch's ``CosineAnnealingWarmRestarts`` and Keras's
  ``CosineDecayRestarts``: :func:`cosine_restarts_schedule`, cycles of
  geometrically growing length ``T_0 m^i`` and decaying height, forever.

Both list where each cycle starts (a table built at construction) and find
the cycle of a step with :func:`cycle_index`: an int32 binary search, so a
restart falls exactly on its step up to ``2**31 - 1``. Inside a cycle the
step counts from 0 again and the cosine is
:func:`lrjax.schedules._common.cosine_weight`.

Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with
Warm Restarts", ICLR 2017.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_in_range, check_non_negative
from lrjax.schedules._common import (
    as_step,
    as_value,
    cosine_weight,
    geometric,
    log_factor,
    pinned_fractions,
    saturate,
    shaped,
    split_step,
    step_arg,
)
from lrjax.schedules.warmup import warmup_cosine_decay_schedule

__all__ = ["cosine_restarts_schedule", "cycle_index", "sgdr_schedule"]

_MAX_STEP = 2**31 - 1


def cycle_index(
    whole: jax.Array,
    frac: jax.Array,
    firsts: Sequence[int],
    offsets: Sequence[float],
) -> tuple[jax.Array, jax.Array]:
    """The cycle holding the split step ``whole + frac``, and ``whole - firsts[i]``.

    Cycle ``i`` starts at the real step ``firsts[i] - offsets[i]``: ``firsts``
    are the first integer steps of the cycles (strictly increasing, from 0)
    and ``offsets`` in ``[0, 1)`` how far each start lies before it (0 for
    integer starts). The index is the last ``i`` with ``firsts[i] <= whole``,
    found by an int32 binary search (exact at every step), moved one cycle on
    when a fractional step passes a non-integer start before its first
    integer step.
    """
    last = len(firsts) - 1
    starts = jnp.asarray(firsts, jnp.int32)
    index = jnp.searchsorted(starts, whole, side="right").astype(jnp.int32) - 1
    nxt = jnp.minimum(index + 1, last)
    gap = jnp.asarray(offsets, jnp.float32)[nxt]
    passed = (whole + 1 == starts[nxt]) & (frac > 0) & (frac >= 1 - gap)
    index = index + ((index < last) & passed).astype(jnp.int32)
    return index, whole - starts[index]


_MAX_TABLE = 4096


def _geometric_cycles(first_period: int, mult: float):
    """Per cycle: first integer step (int), offset to it, length; or None.

    An integer multiplier gives exact integers. A real one gives the starts
    ``T0 (m^i - 1) / (m - 1)`` in float64, where a start within float64
    rounding (``1e-9 + 1e-14 * start``) of an integer is that integer.
    None when more than ``_MAX_TABLE`` cycles start below ``2**31``.
    """
    if mult.is_integer():
        m = int(mult)
        firsts, lengths = [0], [first_period]
        while firsts[-1] + lengths[-1] <= _MAX_STEP:
            firsts.append(firsts[-1] + lengths[-1])
            lengths.append(lengths[-1] * m)
        # Beyond 1e30 a cycle's position / length is 0 in float32 either way.
        return firsts, [0.0] * len(firsts), [min(n, 1e30) for n in lengths]
    log_mult, scale = math.log(mult), first_period / (mult - 1.0)
    if math.log1p(_MAX_STEP / scale) / log_mult > _MAX_TABLE:
        return None
    firsts, offsets, lengths = [], [], []
    i = 0
    while True:
        start = scale * math.expm1(i * log_mult)
        # float64 rounding of the closed form stays below ~40 ulp.
        if abs(start - round(start)) <= 1e-9 + 1e-14 * start:
            start = float(round(start))
        if start > _MAX_STEP:
            return firsts, offsets, lengths
        firsts.append(math.ceil(start))
        offsets.append(math.ceil(start) - start)
        lengths.append(first_period * mult**i)
        i += 1


def _real_cycles(whole, frac, first_period, mult):
    """Cycle index and position from float32 starts (``m`` very close to 1)."""
    log_mult = math.log(mult)
    scale = first_period / (mult - 1)

    def start(i):
        value = scale * jnp.expm1(i.astype(jnp.float32) * log_mult)
        # A boundary that is an integer in exact arithmetic may come out one
        # ulp off in float32; snap it so the restart lands on its step.
        nearest = jnp.round(value)
        close = jnp.abs(value - nearest) <= 4e-6 * jnp.maximum(nearest, 1.0)
        return jnp.where(close, nearest, value)

    # No cycle past this one starts below 2**31 (bounds the float estimate).
    last = math.floor(math.log1p(_MAX_STEP / scale) / log_mult) + 1
    t = whole.astype(jnp.float32) + frac
    estimate = jnp.floor(jnp.log1p(t / scale) / log_mult)
    index = jnp.clip(estimate, 0, last).astype(jnp.int32)
    for _ in range(2):
        index = jnp.maximum(index - (t < start(index)).astype(jnp.int32), 0)
        index = index + (t >= start(index + 1)).astype(jnp.int32)
    begin = start(index)
    # Subtract the integer part exactly in int32, then the float remainder.
    # 2147483520 is the largest float32 below 2**31: keeps the cast in range.
    begin_whole = jnp.minimum(jnp.floor(begin), 2147483520.0)
    offset = (whole - begin_whole.astype(jnp.int32)).astype(jnp.float32)
    position = offset + frac - (begin - begin_whole)
    length = first_period * jnp.exp(index.astype(jnp.float32) * log_mult)
    return index, position, length


def cosine_restarts_schedule(
    init_value: ArrayLike,
    first_period: int,
    period_mult: float = 1.0,
    peak_decay: ArrayLike = 1.0,
    min_value: ArrayLike = 0.0,
) -> Schedule:
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle ``i`` starts at step ``S_i = T_0 (m^i - 1) / (m - 1)`` (``i T_0``
    when ``m = 1``) and lasts ``T_i = T_0 m^i`` steps; inside it, at position
    ``c = t - S_i``,

    .. math::
        \eta_t = \eta_{min} + (\eta_0 - \eta_{min})\, d^{\,i}\,
                 \tfrac12 \left(1 + \cos(\pi c / T_i)\right)

    ``min_value`` is an absolute floor, the same in every cycle, and
    ``peak_decay`` ``d`` scales the height of each restart above that floor:
    cycle ``i`` starts at ``min_value + (init_value - min_value) d^i``. This
    is Keras's definition, so

    * it equals PyTorch ``CosineAnnealingWarmRestarts(T_0=first_period,
      T_mult=period_mult, eta_min=min_value)`` (base rate ``init_value``) for
      an integer ``period_mult`` and ``peak_decay = 1`` (PyTorch has no peak
      decay);
    * it equals Keras ``CosineDecayRestarts(init_value, first_period,
      t_mul=period_mult, m_mul=peak_decay, alpha=min_value / init_value)`` for
      every ``period_mult >= 1``, whose floor ``alpha * init_value`` does not
      decay either.

    :func:`sgdr_schedule` (optax's) builds a similar curve from a list of
    explicit cycles. Restarts fall exactly on their steps: the cycle index is
    an int32 binary search (:func:`cycle_index`) in a table of each cycle's
    first step, built at construction (exact integers for an integer
    ``period_mult``, float64 starts otherwise). A
    ``period_mult`` so close to 1 that more than 4096 cycles start below
    ``2**31`` uses float32 starts instead (restarts beyond ``2**24`` may then
    move by a few steps).

    Like PyTorch and Keras, lrjax accepts ``min_value > init_value`` (each
    cycle then rises from ``init_value`` to ``min_value``; PyTorch's
    ``eta_min > lr``, Keras's ``alpha > 1``) and ``peak_decay > 1`` (Keras's
    ``m_mul > 1``: each restart is higher; values saturate at the largest
    float32). ``peak_decay ** i`` takes ``log(peak_decay)`` in float64.

    Args:
      init_value: the first cycle's start ``eta_0``, ``>= 0``.
      first_period: ``T_0``, the first cycle's length in steps, an integer
        in ``[1, 2**31 - 1]`` (steps are int32).
      period_mult: ``m >= 1``, a concrete number: each cycle is ``m`` times
        longer than the previous one.
      peak_decay: ``d >= 0``, the factor on each restart's height.
      min_value: the value ``eta_min`` each cycle ends at, ``>= 0``.

    Returns:
      A periodic schedule ``step -> float32 rate``, between ``min_value`` and
      ``init_value`` when ``peak_decay <= 1``.

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.cosine_restarts_schedule(
        ...     1.0, first_period=10, period_mult=2, peak_decay=0.5)
        >>> for t in (0, 5, 10, 20, 30):  # restarts at 10 and 30, heights 0.5 ** i
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 1.0000
        5 0.5000
        10 0.5000
        20 0.2500
        30 0.2500
    """
    check_non_negative("init_value", init_value)
    first_period = step_arg("first_period", first_period, minimum=1)
    check_in_range("period_mult", period_mult, 1.0, math.inf, high_inclusive=False)
    check_non_negative("peak_decay", peak_decay)
    check_non_negative("min_value", min_value)
    log_decay = log_factor(peak_decay)
    mult = float(period_mult)
    table = None if mult == 1.0 else _geometric_cycles(first_period, mult)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        if mult == 1.0:
            index = whole // first_period
            position = (whole - index * first_period).astype(jnp.float32) + frac
            length = float(first_period)
        elif table is not None:
            firsts, offsets, lengths = table
            index, since = cycle_index(whole, frac, firsts, offsets)
            gap = jnp.asarray(offsets, jnp.float32)[index]
            position = since.astype(jnp.float32) + frac + gap
            length = jnp.asarray(lengths, jnp.float32)[index]
        else:
            index, position, length = _real_cycles(whole, frac, first_period, mult)
        _, left = pinned_fractions(position, length - position, length)
        height = geometric(log_decay, index)
        top, floor = as_value(init_value), as_value(min_value)
        # height * cosine stays finite, so a saturated height never meets
        # inf * 0; the product with (top - floor) saturates instead.
        wave = height * cosine_weight(left)
        return as_value(saturate(floor + saturate((top - floor) * wave)))

    return schedule


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """SGD with warm restarts: warmup-cosine cycles run back to back.

    Each dict of ``cosine_kwargs`` holds the arguments of one
    ``warmup_cosine_decay_schedule`` cycle; cycle ``k`` starts at the sum of
    the previous cycles' ``decay_steps`` and sees its own step from 0. The
    last cycle holds its ``end_value`` after it ends.

    Equivalents: optax ``sgdr_schedule``; PyTorch
    ``CosineAnnealingWarmRestarts`` (and Keras ``CosineDecayRestarts``) when
    the cycles have no warmup and lengths ``T_0 * T_mult**k``, which
    :func:`cosine_restarts_schedule` gives without listing the cycles. Paper:
    Loshchilov & Hutter, SGDR, ICLR 2017.

    Args:
      cosine_kwargs: at least one dict of ``warmup_cosine_decay_schedule``
        keyword arguments (``init_value``, ``peak_value``, ``warmup_steps``,
        ``decay_steps``, and optionally ``end_value``, ``exponent``).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> cycle = dict(init_value=0.0, warmup_steps=10, decay_steps=100)
        >>> schedule = lrjax.sgdr_schedule(
        ...     [dict(cycle, peak_value=1.0), dict(cycle, peak_value=0.5)])
        >>> for t in (10, 55, 100, 110, 200):  # restart at 100, second peak at 110
        ...     print(t, f"{float(schedule(t)):.4f}")
        10 1.0000
        55 0.5000
        100 0.0000
        110 0.5000
        200 0.0000
    """
    cycles = list(cosine_kwargs)
    if not cycles:
        raise ValueError("cosine_kwargs must hold at least one dict, got none.")
    schedules, boundaries, start = [], [], 0
    for k, kwargs in enumerate(cycles):
        if not isinstance(kwargs, Mapping):
            raise TypeError(
                f"cosine_kwargs[{k}] must be a dict of warmup_cosine_decay_schedule "
                f"arguments, got {kwargs!r}."
            )
        if "decay_steps" not in kwargs:
            raise ValueError(f"cosine_kwargs[{k}] must give decay_steps.")
        try:
            schedules.append(warmup_cosine_decay_schedule(**kwargs))
        except (TypeError, ValueError) as e:
            # Name the argument the user passed: the dict, and the key in it.
            raise type(e)(f"cosine_kwargs[{k}]: {e}") from e
        start += step_arg(f"cosine_kwargs[{k}]['decay_steps']", kwargs["decay_steps"])
        boundaries.append(start)
    if start > 2**31 - 1:
        raise ValueError(
            f"the sum of cosine_kwargs' decay_steps must be <= 2**31 - 1, got {start}."
        )
    firsts = [0, *boundaries[:-1]]
    offsets = [0.0] * len(firsts)

    def schedule(step: ArrayLike) -> jax.Array:
        step = as_step(step)
        whole, frac = split_step(step)
        index, since = cycle_index(whole, frac, firsts, offsets)
        # Every cycle restarts from its own step 0; integer steps stay int32.
        local = since
        if jnp.issubdtype(step.dtype, jnp.floating):
            local = since.astype(jnp.float32) + frac
        value = as_value(schedules[0](local))
        for k, cycle in enumerate(schedules[1:], start=1):
            value = jnp.where(index == k, as_value(cycle(local)), value)
        return shaped(value, step)

    return schedule
