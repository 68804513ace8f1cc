"""Periodic schedules: cosine annealing with warm restarts (SGDR) and CLR.

Both repeat forever, so they never hold a final value. Cycle indices and
positions inside a cycle are int32; only the fraction of the cycle is
float32, which keeps the shape exact at every step up to ``2**31 - 1``.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

from lrjax._base import Schedule
from lrjax._validation import check_in_range, check_non_negative, check_one_of
from lrjax.schedules._common import (
    as_value,
    cosine_weight,
    geometric,
    log_factor,
    pinned_fractions,
    saturate,
    split_step,
    step_arg,
)

__all__ = ["cosine_restarts_schedule", "cyclic_schedule"]

_MAX_STEP = 2**31 - 1


def _f32(value: chex.Numeric) -> jax.Array:
    return jnp.asarray(value, jnp.float32)


_MAX_TABLE = 4096


def _cycle_table(first_period: int, mult: float):
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


def _table_cycles(whole, frac, first_period, mult, table):
    """Cycle index, position and length from the exact table of starts."""
    firsts_list, offsets_list, lengths_list = table
    firsts = jnp.asarray(firsts_list, jnp.int32)
    offsets = jnp.asarray(offsets_list, jnp.float32)
    last = len(firsts_list) - 1
    # The closed form i = floor(log_m(1 + t (m - 1) / T0)) is off by one at
    # worst in float32; the int32 comparisons below make it exact.
    ratio = whole.astype(jnp.float32) * ((mult - 1.0) / first_period)
    estimate = jnp.floor(jnp.log1p(ratio) / math.log(mult))
    index = jnp.clip(estimate, 0, last).astype(jnp.int32)
    for _ in range(2):
        index = index - (whole < firsts[index]).astype(jnp.int32)
        nxt = jnp.minimum(index + 1, last)
        index = index + ((index < last) & (whole >= firsts[nxt])).astype(jnp.int32)
    # A fractional step may pass a non-integer start before its first step.
    nxt = jnp.minimum(index + 1, last)
    passed = (whole + 1 == firsts[nxt]) & (frac > 0) & (frac >= 1 - offsets[nxt])
    index = index + ((index < last) & passed).astype(jnp.int32)
    offset = (whole - firsts[index]).astype(jnp.float32)
    position = offset + frac + offsets[index]
    return index, position, jnp.asarray(lengths_list, jnp.float32)[index]


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
    init_value: chex.Numeric,
    first_period: int,
    period_mult: float = 1.0,
    peak_decay: chex.Numeric = 1.0,
    min_value: chex.Numeric = 0.0,
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

    optax's ``sgdr_schedule`` builds a similar curve from a list of explicit
    cycles. Restarts fall exactly on their steps: the cycle index from the
    logarithmic closed form (float32) is corrected with int32 comparisons
    against a table of each cycle's first step, built at construction (exact
    integers for an integer ``period_mult``, float64 starts otherwise). A
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
    """
    check_non_negative("init_value", init_value)
    first_period = step_arg("first_period", first_period, minimum=1)
    check_in_range("period_mult", period_mult, 1.0, math.inf, high_inclusive=False)
    check_non_negative("peak_decay", peak_decay)
    check_non_negative("min_value", min_value)
    log_decay = log_factor(peak_decay)
    mult = float(period_mult)
    table = None if mult == 1.0 else _cycle_table(first_period, mult)

    def schedule(step: chex.Numeric) -> jax.Array:
        whole, frac = split_step(step)
        if mult == 1.0:
            index = whole // first_period
            position = (whole - index * first_period).astype(jnp.float32) + frac
            length = float(first_period)
        elif table is not None:
            index, position, length = _table_cycles(
                whole, frac, first_period, mult, table
            )
        else:
            index, position, length = _real_cycles(whole, frac, first_period, mult)
        _, left = pinned_fractions(position, length - position, length)
        height = geometric(log_decay, index)
        top, floor = _f32(init_value), _f32(min_value)
        # height * cosine stays finite, so a saturated height never meets
        # inf * 0; the product with (top - floor) saturates instead.
        wave = height * cosine_weight(left)
        return as_value(saturate(floor + saturate((top - floor) * wave)))

    return schedule


def cyclic_schedule(
    base_value: chex.Numeric,
    max_value: chex.Numeric,
    step_size_up: int,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: chex.Numeric = 1.0,
) -> Schedule:
    r"""Cyclical learning rates (CLR, Smith 2017): a repeating triangle.

    With ``u = step_size_up``, ``d = step_size_down``, cycle length
    ``L = u + d``, cycle number ``k = \lfloor t / L \rfloor + 1`` and
    position ``c = t \bmod L``,

    .. math::
        x = \begin{cases} c / u & c \le u \\ (L - c) / d & c > u \end{cases},
        \qquad \eta_t = \eta_{base} + (\eta_{max} - \eta_{base})\, x\, s

    with amplitude scale ``s = 1`` (``triangular``), ``s = 2^{-(k-1)}``
    (``triangular2``: halved every cycle) or ``s = \gamma^t`` (``exp_range``:
    ``t`` the total step count, as in PyTorch's ``scale_mode="iterations"``).
    Equals PyTorch ``CyclicLR(optimizer, base_lr=base_value,
    max_lr=max_value, step_size_up, step_size_down, mode, gamma)`` learning
    rates at every step. Keras/optax: no built-in equivalent.

    ``base_value > max_value`` is accepted, as PyTorch accepts it: each cycle
    then dips from ``base_value`` down towards ``max_value`` and back. In
    ``exp_range`` mode ``gamma ** t`` is ``exp(t * log(gamma))`` with the
    logarithm taken in float64 at construction.

    Args:
      base_value: the value at the start of each cycle, ``>= 0``.
      max_value: the value reached at the end of each rise, ``>= 0``.
      step_size_up: steps of the rising half, an integer ``>= 1``.
      step_size_down: steps of the falling half (default ``step_size_up``);
        ``step_size_up + step_size_down <= 2**31 - 1`` (steps are int32).
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
      gamma: the ``exp_range`` decay per step, in ``(0, 1]``.

    Returns:
      A periodic schedule ``step -> float32 rate`` between ``base_value`` and
      ``max_value``.
    """
    check_non_negative("base_value", base_value)
    check_non_negative("max_value", max_value)
    up = step_arg("step_size_up", step_size_up, minimum=1)
    down = (
        up
        if step_size_down is None
        else step_arg("step_size_down", step_size_down, minimum=1)
    )
    if up + down > _MAX_STEP:
        raise ValueError(
            f"step_size_up + step_size_down must be <= 2**31 - 1, got {up} + {down}."
        )
    check_one_of("mode", mode, ("triangular", "triangular2", "exp_range"))
    check_in_range("gamma", gamma, 0.0, 1.0, low_inclusive=False)
    log_gamma = log_factor(gamma)
    total = up + down

    def schedule(step: chex.Numeric) -> jax.Array:
        whole, frac = split_step(step)
        cycle = whole // total
        offset = whole - cycle * total
        rising = (offset < up) | ((offset == up) & (frac == 0))
        # Both halves measured from both ends in int32: x is exactly 1 at the
        # peak and 0 at the cycle's start, under jit too.
        up_x, _ = pinned_fractions(
            offset.astype(jnp.float32) + frac,
            (up - offset).astype(jnp.float32) - frac,
            float(up),
        )
        _, down_x = pinned_fractions(
            (offset - up).astype(jnp.float32) + frac,
            (total - offset).astype(jnp.float32) - frac,
            float(down),
        )
        x = jnp.where(rising, up_x, down_x)
        if mode == "triangular":
            amplitude = jnp.ones_like(x)
        elif mode == "triangular2":
            amplitude = jnp.exp2(-cycle.astype(jnp.float32))
        else:
            amplitude = geometric(log_gamma, whole.astype(jnp.float32) + frac)
        low, high = _f32(base_value), _f32(max_value)
        return as_value(low + (high - low) * x * amplitude)

    return schedule
