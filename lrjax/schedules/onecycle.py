"""The 1cycle policy, exactly as PyTorch's ``OneCycleLR`` computes it."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

from lrjax._base import Schedule
from lrjax._validation import (
    check_in_range,
    check_non_negative,
    check_one_of,
    check_positive,
    check_type,
)
from lrjax.schedules._common import (
    as_value,
    cosine_weight,
    interpolate,
    pinned_fractions,
    split_step,
    step_arg,
)

__all__ = ["one_cycle_schedule"]

_MAX_STEP = 2**31 - 1


def _anneal(
    start: jax.Array, end: jax.Array, done: jax.Array, left: jax.Array, how: str
) -> jax.Array:
    # A weighted mean, so each end value is reproduced exactly in float32
    # (``end + (start - end) * w`` loses the small end to cancellation).
    if how == "cos":
        return interpolate(start, end, cosine_weight(done), cosine_weight(left))
    return interpolate(start, end, done, left)


def _offset(whole: jax.Array, frac: jax.Array, mark: float) -> jax.Array:
    """float32 ``whole + frac - mark`` for a real ``mark``, exact in int32 first."""
    # Clamped: a mark past int32 is never reached.
    floor = min(math.floor(mark), _MAX_STEP)
    return (whole - floor).astype(jnp.float32) + frac - (mark - floor)


def one_cycle_schedule(
    max_value: chex.Numeric,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    r"""The 1cycle policy (Smith & Topin 2019), as PyTorch defines it.

    With ``T = total_steps``, ``p = pct_start``,
    ``eta_init = max_value / div_factor`` and
    ``eta_min = eta_init / final_div_factor``, the phases end at steps
    (real numbers, as in PyTorch)

    * two phases: ``e_0 = pT - 1`` (``eta_init -> max_value``) and
      ``e_1 = T - 1`` (``max_value -> eta_min``);
    * ``three_phase``: ``e_0 = pT - 1`` (``eta_init -> max_value``),
      ``e_1 = 2pT - 2`` (``max_value -> eta_init``) and ``e_2 = T - 1``
      (``eta_init -> eta_min``).

    Step ``t`` belongs to the first phase ``k`` with ``t <= e_k`` (the last
    phase otherwise), which starts at ``e_{k-1}`` (``e_{-1} = 0``); with
    ``q = (t - e_{k-1}) / (e_k - e_{k-1})`` the rate anneals from the
    phase's start value ``a`` to its end value ``b``:

    .. math::
        \text{cos:}\ b + \tfrac{a - b}{2}(\cos(\pi q) + 1), \qquad
        \text{linear:}\ a + (b - a)\, q

    Equals PyTorch ``OneCycleLR(optimizer, max_lr=max_value, total_steps,
    pct_start, anneal_strategy, div_factor=div_factor,
    final_div_factor=final_div_factor, three_phase)`` learning rates at steps
    ``0 .. T - 1``; from step ``T - 1`` on lrjax holds the last rate,
    ``eta_min``. PyTorch differs there: at step ``T`` (the ``T``-th
    ``scheduler.step()``, whose rate a ``T``-step run never uses) it
    extrapolates the last phase past its end (``q > 1``: a little above
    ``eta_min`` for ``cos``, below it for ``linear``), and the next
    ``step()`` raises ``ValueError``. A zero-length first phase (``pT = 1``, where PyTorch
    divides by zero) counts as finished: step 0 gets ``max_value``. optax's
    ``cosine_onecycle_schedule`` / ``linear_onecycle_schedule`` follow the
    same idea with integer phase boundaries. Keras: no built-in equivalent.

    Args:
      max_value: the peak rate, ``>= 0``.
      total_steps: ``T``, an integer in ``[1, 2**31 - 1]`` (steps are
        int32).
      pct_start: ``p`` in ``(0, 1)``, the fraction of steps spent rising.
      anneal_strategy: ``"cos"`` or ``"linear"``.
      div_factor: ``> 0``; ``eta_init = max_value / div_factor``.
      final_div_factor: ``> 0``; ``eta_min = eta_init / final_div_factor``.
      three_phase: add the symmetric descent back to ``eta_init`` before the
        final annealing (the paper's original schedule).

    Returns:
      A schedule ``step -> float32 rate``.
    """
    check_non_negative("max_value", max_value)
    total_steps = step_arg("total_steps", total_steps, minimum=1)
    check_in_range(
        "pct_start", pct_start, 0.0, 1.0, low_inclusive=False, high_inclusive=False
    )
    check_one_of("anneal_strategy", anneal_strategy, ("cos", "linear"))
    check_positive("div_factor", div_factor)
    check_positive("final_div_factor", final_div_factor)
    check_type("three_phase", three_phase, bool)

    rise_end = float(pct_start * total_steps) - 1.0
    if three_phase:
        ends = [rise_end, float(2 * pct_start * total_steps) - 2.0, total_steps - 1.0]
        values = [("init", "max"), ("max", "init"), ("init", "min")]
    else:
        ends = [rise_end, total_steps - 1.0]
        values = [("init", "max"), ("max", "min")]
    starts = [0.0] + ends[:-1]

    def schedule(step: chex.Numeric) -> jax.Array:
        whole, frac = split_step(step)
        # Hold the value of step T - 1 afterwards.
        frac = jnp.where(whole >= total_steps - 1, 0.0, frac)
        whole = jnp.minimum(whole, total_steps - 1)
        peak = jnp.asarray(max_value, jnp.float32)
        init = peak / div_factor
        level = {"max": peak, "init": init, "min": init / final_div_factor}

        rate = None
        for k in reversed(range(len(ends))):
            begin, end = starts[k], ends[k]
            # The way done and the way left, each from its own end.
            span = end - begin
            if span > 0:
                done, left = pinned_fractions(
                    _offset(whole, frac, begin), -_offset(whole, frac, end), span
                )
            else:
                done, left = jnp.ones_like(frac), jnp.zeros_like(frac)
            a, b = values[k]
            value = _anneal(level[a], level[b], done, left, anneal_strategy)
            if rate is None:
                rate = value
            else:
                # t <= end, with t = whole + frac and end a real number.
                end_floor = min(math.floor(end), _MAX_STEP)
                inside = (whole < end_floor) | (
                    (whole == end_floor) & (frac <= end - end_floor)
                )
                rate = jnp.where(inside, value, rate)
        return as_value(rate)

    return schedule
