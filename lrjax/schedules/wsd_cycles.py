"""Warmup-stable-decay as long runs configure it: fractions and cycles.

:func:`wsd_schedule` gives the phase lengths of
:func:`lrjax.warmup_stable_decay_schedule` as fractions of a total and
repeats the warmup-stable-decay shape in cycles, each warming up again (the
re-warmup of continued pre-training). The cycle of a step comes from an
int32 binary search over the cycle starts
(:func:`lrjax.schedules.restarts.cycle_index`), so every boundary falls on
its exact step up to ``2**31 - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_in_range, check_non_negative, check_one_of
from lrjax.schedules._common import (
    as_value,
    check_factor,
    geometric,
    interpolate,
    log_factor,
    pinned_fractions,
    saturate,
    split_step,
    step_arg,
)
from lrjax.schedules.restarts import cycle_index
from lrjax.schedules.wsd import cooldown_weights, warmup_stable_decay_schedule

__all__ = ["wsd_schedule"]

# The per-cycle tables are compiled into the schedule: keep them small.
_MAX_CYCLES = 4096


def _is_sequence(value: Any) -> bool:
    """A list, tuple or 1-d array (per-cycle values), not a scalar."""
    if isinstance(value, (list, tuple)):
        return True
    return not callable(value) and getattr(value, "ndim", 0) == 1


def _phase_steps(
    name: str, value: Any, lengths: list[int], *, last: bool = False
) -> list[int]:
    """``value`` per cycle, in steps: an integer, or a fraction of each length.

    A fraction ``f`` of a cycle of ``L`` steps puts the phase's inner boundary
    on the nearest step, ties up: ``floor(f * L + 0.5)`` steps for the first
    phase, ``L - floor((1 - f) * L + 0.5)`` for the ``last``. Rounding
    boundaries, not lengths, keeps fractions adding up to at most 1 inside
    the cycle; truncating (``int(f * L)``) would turn ``0.29 * 100 =
    28.999999999999996`` into 28 steps.
    """
    if isinstance(value, jax.core.Tracer) or callable(value):
        raise TypeError(
            f"{name} must be a concrete integer (steps) or float (a fraction of "
            f"the cycle length), got {value!r}."
        )
    arr = np.asarray(value) if value is not None else None
    if arr is not None and arr.ndim == 0 and np.issubdtype(arr.dtype, np.floating):
        try:
            check_in_range(name, value, 0.0, 1.0)
        except ValueError as err:
            raise ValueError(
                f"{err} A float is a fraction of the cycle length; give an int "
                "for a number of steps."
            ) from None
        f = float(arr)
        if last:
            return [n - math.floor((1.0 - f) * n + 0.5) for n in lengths]
        return [math.floor(f * n + 0.5) for n in lengths]
    # Integers (and None, bools, strings: refused by step_arg, naming `name`).
    return [step_arg(name, value)] * len(lengths)


def _fraction(value: Any) -> tuple[float, float] | None:
    """A float ``value`` (a fraction) and its dtype's epsilon; None for steps."""
    arr = np.asarray(value)
    if arr.ndim == 0 and np.issubdtype(arr.dtype, np.floating):
        return float(arr), float(np.finfo(arr.dtype).eps)
    return None


def _check_fraction_sum(warmup: Any, decay: Any) -> None:
    """Fractions ``warmup + decay > 1`` raise, whatever the cycle lengths.

    Up to the rounding of the two floats: ``0.3 + 0.7`` is 1, and so is
    ``np.float32(0.1) + 0.9`` (``1 + 1.5e-9``).
    """
    w, d = _fraction(warmup), _fraction(decay)
    if w is None or d is None:
        return
    if w[0] + d[0] > 1.0 + 4 * max(w[1], d[1]):
        raise ValueError(
            f"warmup + decay must be in [0, 1] when both are fractions (floats) "
            f"of the cycle length, got warmup={warmup!r} + decay={decay!r} = "
            f"{w[0] + d[0]:.6g}; give ints for numbers of steps."
        )


def _cycle_lengths(total_steps: int, cycles: Any) -> list[int]:
    """The length of each cycle; they add up to ``total_steps``."""
    if _is_sequence(cycles):
        lengths = [step_arg(f"cycles[{k}]", n, minimum=1) for k, n in enumerate(cycles)]
        if not 1 <= len(lengths) <= _MAX_CYCLES:
            raise ValueError(
                f"cycles must hold 1 to {_MAX_CYCLES} cycle lengths, got "
                f"{len(lengths)}."
            )
        if sum(lengths) != total_steps:
            raise ValueError(
                f"the cycle lengths in cycles must add up to total_steps="
                f"{total_steps}, got {lengths} (sum {sum(lengths)}); an int "
                "cycles gives that many equal cycles."
            )
        return lengths
    count = step_arg("cycles", cycles, minimum=1)
    if count > min(total_steps, _MAX_CYCLES):
        raise ValueError(
            f"cycles must be an integer in [1, min(total_steps, {_MAX_CYCLES})] = "
            f"[1, {min(total_steps, _MAX_CYCLES)}], got {cycles!r}."
        )
    # Lengths differ by at most one step, the longer cycles first.
    base, extra = divmod(total_steps, count)
    return [base + (k < extra) for k in range(count)]


def _fractions(whole, frac, begin, length):
    """``phase_fractions`` for per-cycle (int32 array) ``begin`` and ``length``."""
    started = whole >= begin
    done_int = jnp.minimum(jnp.maximum(whole - begin, 0), length)
    frac = jnp.where(started & (done_int < length), frac, 0.0)
    done = done_int.astype(jnp.float32) + frac
    left = (length - done_int).astype(jnp.float32) - frac
    # A zero-length phase is never selected; 1 keeps its division finite.
    return pinned_fractions(done, left, jnp.maximum(length, 1).astype(jnp.float32))


def wsd_schedule(
    peak_value: ArrayLike | Sequence[ArrayLike],
    total_steps: int,
    *,
    warmup: int | float = 0.0,
    decay: int | float = 0.2,
    init_value: ArrayLike = 0.0,
    end_value: ArrayLike = 0.0,
    decay_type: str = "linear",
    cycles: int | Sequence[int] = 1,
    peak_decay: ArrayLike = 1.0,
    rewarmup_from: str = "init",
) -> Schedule:
    r"""Warmup-stable-decay in cycles, with phase lengths as fractions.

    ``total_steps`` is split into cycles of lengths ``L_k`` (``cycles``). Each
    cycle is a warmup-stable-decay (WSD) of ``W_k`` warmup, ``S_k`` stable and
    ``D_k`` cooldown steps, ``W_k + S_k + D_k = L_k``. With ``c`` the step
    counted from the start of cycle ``k`` and ``q = (c - W_k - S_k) / D_k``:

    .. math::
        \eta_t = \begin{cases}
          \eta^{(k)}_{start} + (\eta^{(k)}_{peak} - \eta^{(k)}_{start})\,
            c / W_k & c < W_k \\
          \eta^{(k)}_{peak} & W_k \le c < W_k + S_k \\
          \eta_{end} + (\eta^{(k)}_{peak} - \eta_{end})\, f(q) & c \ge W_k + S_k
        \end{cases}

    and ``\eta_t = \eta_{end}`` from ``total_steps`` on. The cooldown shape
    ``f`` is ``1 - q`` (``"linear"``), ``(1 + \cos \pi q) / 2``
    (``"cosine"``) or ``1 - \sqrt{q}`` (``"sqrt"``), as in
    :func:`lrjax.warmup_stable_decay_schedule`, which one cycle equals bit for
    bit. The peak of cycle ``k`` is ``\eta^{(k)}_{peak} = p_k\, d^{\,k}``,
    ``p_k`` the ``k``-th ``peak_value`` (or the one ``peak_value``) and ``d``
    the ``peak_decay``. Cycle 0 warms up from ``init_value``; each later one
    re-warms from ``init_value`` (``rewarmup_from="init"``: every cycle has
    the shape of the first) or from ``end_value`` (``"end"``: where the
    previous cycle ended, so the rate is continuous at the restart). With
    ``warmup=0`` there is no warmup: every cycle starts at its peak, and
    ``init_value`` is never taken.

    Phase lengths: ``warmup`` and ``decay`` are step counts when they are
    integers (the same in every cycle) and fractions of each cycle's length
    when they are floats in ``[0, 1]``. A fraction places its phase boundary
    on the nearest step, ties up: the warmup ends at
    ``W_k = floor(warmup * L_k + 0.5)`` and the cooldown starts at
    ``floor((1 - decay) * L_k + 0.5)``, so ``D_k = L_k - floor((1 - decay)
    L_k + 0.5)``. Rounding (not truncating, as ``int()`` would: ``0.29 *
    100`` is ``28.999999999999996`` in floating point) gives the step count
    the fraction names; rounding the boundaries rather than the lengths keeps
    any ``warmup + decay <= 1`` inside the cycle (``0.5`` and ``0.5`` of 7
    steps: 4 warmup and 3 cooldown steps). The stable phase takes the rest,
    ``S_k = L_k - W_k - D_k``, so the phases add up to ``L_k`` and the cycles
    to ``total_steps`` exactly. Two fractions with ``warmup + decay > 1``
    raise ``ValueError`` naming both, whatever ``total_steps``. Otherwise
    (step counts, or a step count and a fraction) ``W_k + D_k > L_k`` in a
    cycle, or ``D_k = 0`` (a fraction rounding to no step), raises
    ``ValueError`` naming ``warmup`` and ``decay``, their values and step
    counts, and the cycle length.

    Cycles: an int ``n`` splits ``total_steps`` into ``n`` cycles whose
    lengths differ by at most one step (the longer ones first); a sequence
    gives the length of each cycle, adding up to ``total_steps``.

    References: WSD, Hu et al. 2024, *MiniCPM: Unveiling the Potential of
    Small Language Models with Scalable Training Strategies*; the 1-sqrt
    cooldown and a 20% cooldown matching cosine, Hägele et al. 2024,
    *Scaling Laws and Compute-Optimal Training Beyond Fixed Training
    Durations*; re-warming for continued pre-training, Gupta et al. 2023,
    *Continual Pre-Training of Large Language Models: How to (re)warm your
    model?*, and Ibrahim et al. 2024, *Simple and Scalable Strategies to
    Continually Pre-train Large Language Models*.

    Args:
      peak_value: the stable rate ``>= 0``, or one per cycle (a list or 1-d
        array).
      total_steps: the length of all cycles together, an integer in
        ``[1, 2**31 - 1]`` (steps are int32).
      warmup: the warmup of each cycle, an int (steps, ``>= 0``) or a float
        in ``[0, 1]`` (a fraction of the cycle length). Default 0.0.
      decay: the cooldown of each cycle, an int (steps) or a float in
        ``[0, 1]``; at least 1 step once rounded. Two floats must have
        ``warmup + decay`` in ``[0, 1]``. Default 0.2.
      init_value: the rate the warmup starts from (cycle 0's, and every
        cycle's with ``rewarmup_from="init"``), ``>= 0``; with ``warmup=0``
        no step takes it.
      end_value: the rate each cooldown ends at, held after ``total_steps``,
        ``>= 0``.
      decay_type: ``"linear"``, ``"cosine"`` or ``"sqrt"`` (the 1-sqrt
        cooldown).
      cycles: the number of equal cycles (an int in ``[1, min(total_steps,
        4096)]``) or a sequence of cycle lengths. Default 1.
      peak_decay: ``d >= 0``, the factor on the peak from one cycle to the
        next. Default 1.0.
      rewarmup_from: ``"init"`` (re-warm from ``init_value``) or ``"end"``
        (from ``end_value``).

    Returns:
      A schedule ``step -> float32 rate``.

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.wsd_schedule(
        ...     1.0, total_steps=200, warmup=0.1, decay=0.2, cycles=2,
        ...     peak_decay=0.5)
        >>> # cycles of 100 steps: 10 warmup, 70 stable, 20 cooldown; peaks 1, 0.5
        >>> # 99: 1 / 20 of the cooldown left; 100: the re-warmup starts from 0
        >>> for t in (5, 10, 80, 90, 99, 100, 105, 110, 190, 200):
        ...     print(t, f"{float(schedule(t)):.4f}")
        5 0.5000
        10 1.0000
        80 1.0000
        90 0.5000
        99 0.0500
        100 0.0000
        105 0.2500
        110 0.5000
        190 0.2500
        200 0.0000
    """
    peaks = list(peak_value) if _is_sequence(peak_value) else None
    if peaks is None:
        check_non_negative("peak_value", peak_value)
    else:
        for k, p in enumerate(peaks):
            check_non_negative(f"peak_value[{k}]", p)
    total_steps = step_arg("total_steps", total_steps, minimum=1)
    check_non_negative("init_value", init_value)
    check_non_negative("end_value", end_value)
    check_one_of("decay_type", decay_type, ("linear", "cosine", "sqrt"))
    check_factor("peak_decay", peak_decay)
    check_one_of("rewarmup_from", rewarmup_from, ("init", "end"))
    lengths = _cycle_lengths(total_steps, cycles)
    count = len(lengths)
    if peaks is not None and len(peaks) != count:
        raise ValueError(
            f"peak_value must hold one peak per cycle ({count}), got {len(peaks)}."
        )
    warm = _phase_steps("warmup", warmup, lengths)
    cool = _phase_steps("decay", decay, lengths, last=True)
    _check_fraction_sum(warmup, decay)
    for k, (w, d, n) in enumerate(zip(warm, cool, lengths, strict=True)):
        if d < 1 or w + d > n:
            raise ValueError(
                f"warmup and decay must fit in each cycle (decay >= 1 step and "
                f"warmup + decay <= the cycle length): warmup={warmup!r} "
                f"({w} steps) and decay={decay!r} ({d} steps) in cycle {k} of "
                f"{n} steps (total_steps={total_steps}, cycles={cycles!r})."
            )
    if count == 1:
        first = peak_value if peaks is None else peaks[0]
        return warmup_stable_decay_schedule(
            first,
            warm[0],
            lengths[0] - warm[0] - cool[0],
            cool[0],
            init_value,
            end_value,
            decay_type,
        )
    firsts = [0, *np.cumsum(lengths[:-1]).tolist()]
    starts_cool = [n - d for n, d in zip(lengths, cool, strict=True)]
    log_decay = log_factor(peak_decay)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        index, local = cycle_index(whole, frac, firsts, [0.0] * count)
        w = jnp.asarray(warm, jnp.int32)[index]
        begin = jnp.asarray(starts_cool, jnp.int32)[index]
        d = jnp.asarray(cool, jnp.int32)[index]
        if peaks is None:
            base = as_value(peak_value)
        else:
            base = jnp.stack([as_value(p) for p in peaks])[index]
        peak = saturate(base * geometric(log_decay, index))
        init, end = as_value(init_value), as_value(end_value)
        start = init
        if rewarmup_from == "end":
            start = jnp.where(index == 0, init, end)
        up, rest = _fractions(local, frac, 0, w)
        rising = interpolate(start, peak, up, rest)
        stay, go = cooldown_weights(*_fractions(local, frac, begin, d), decay_type)
        rate = jnp.where(local < begin, peak, interpolate(peak, end, go, stay))
        rate = jnp.where(local < w, rising, rate)
        rate = jnp.where(whole >= total_steps, end, rate)
        return as_value(rate)

    return schedule
