"""The 1cycle policy (Smith & Topin): up to a peak rate, then far below the start.

Two conventions, one module:

* PyTorch's ``OneCycleLR``: :func:`one_cycle_schedule`. Phase ``k`` ends at
  the real step ``e_k`` (``pct_start * T - 1`` for the rise, ``T - 1`` for
  the end), cosine or linear annealing, optionally three phases.
* optax's ``cosine_onecycle_schedule`` and ``linear_onecycle_schedule``:
  same arguments, order, defaults and values as optax 0.2.8, each a
  ``piecewise_interpolate_schedule`` with the integer boundaries
  ``int(pct * T)``, one step later than PyTorch's.

Both start at ``peak / div_factor``, peak at ``peak`` and end at
``peak / (div_factor * final_div_factor)``, share the argument checks, and
anneal each phase with the same weighted mean (exact at both ends). Keras:
no built-in equivalent. Differences from optax: ``pct_start`` (and
``pct_final``) outside ``(0, 1)`` or out of order and non-positive
``div_factor``/``final_div_factor`` raise ``ValueError``.

References: Smith & Topin, "Super-Convergence: Very Fast Training of Neural
Networks Using Large Learning Rates", 2017 (arXiv:1708.07120); Smith, "A
disciplined approach to neural network hyper-parameters", 2018
(arXiv:1803.09820).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

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
    check_finite,
    pinned_fractions,
    split_step,
    step_arg,
)
from lrjax.schedules._phases import anneal
from lrjax.schedules.piecewise import piecewise_interpolate_schedule

__all__ = [
    "cosine_onecycle_schedule",
    "linear_onecycle_schedule",
    "one_cycle_schedule",
]

_MAX_STEP = 2**31 - 1


def _check_fraction(name: str, value: float, low: float = 0.0) -> None:
    check_in_range(name, value, low, 1.0, low_inclusive=False, high_inclusive=False)


def _check_cycle(pct_start: float, div_factor: float, final_div_factor: float) -> None:
    """The arguments every one-cycle schedule shares."""
    _check_fraction("pct_start", pct_start)
    check_positive("div_factor", div_factor)
    check_positive("final_div_factor", final_div_factor)


def _offset(whole: jax.Array, frac: jax.Array, mark: float) -> jax.Array:
    """float32 ``whole + frac - mark`` for a real ``mark``, exact in int32 first."""
    # Clamped: a mark past int32 is never reached.
    floor = min(math.floor(mark), _MAX_STEP)
    return (whole - floor).astype(jnp.float32) + frac - (mark - floor)


def one_cycle_schedule(
    max_value: ArrayLike,
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

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.one_cycle_schedule(1.0, total_steps=100)
        >>> for t in (0, 29, 99):  # 1 / 25, peak at 0.3 * 100 - 1, 1 / 25 / 1e4
        ...     print(t, f"{float(schedule(t)):.4g}")
        0 0.04
        29 1
        99 4e-06
    """
    check_non_negative("max_value", max_value)
    total_steps = step_arg("total_steps", total_steps, minimum=1)
    _check_cycle(pct_start, div_factor, final_div_factor)
    check_one_of("anneal_strategy", anneal_strategy, ("cos", "linear"))
    check_type("three_phase", three_phase, bool)

    rise_end = float(pct_start * total_steps) - 1.0
    if three_phase:
        ends = [rise_end, float(2 * pct_start * total_steps) - 2.0, total_steps - 1.0]
        values = [("init", "max"), ("max", "init"), ("init", "min")]
    else:
        ends = [rise_end, total_steps - 1.0]
        values = [("init", "max"), ("max", "min")]
    starts = [0.0] + ends[:-1]

    def schedule(step: ArrayLike) -> jax.Array:
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
            value = anneal(level[a], level[b], done, left, anneal_strategy == "cos")
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


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: ArrayLike,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """One cycle: cosine rise to ``peak_value``, then cosine fall far below start.

    With ``T = transition_steps``, ``S = int(pct_start * T)``,
    ``v0 = peak / div_factor`` and ``v_end = v0 / final_div_factor``: cosine
    interpolation from ``v0`` to ``peak`` on ``[0, S)``, from ``peak`` to
    ``v_end`` on ``[S, T)``, then ``v_end``. A cosine interpolation from
    ``a`` to ``b`` is ``b + (a - b) * (1 + cos(pi * pct)) / 2``.

    Equivalents: optax ``cosine_onecycle_schedule``; close to PyTorch
    ``OneCycleLR(max_lr=peak, total_steps=T, pct_start, anneal_strategy="cos",
    div_factor, final_div_factor)``, whose phases end one step earlier (use
    ``lrjax.one_cycle_schedule`` for PyTorch's exact values). Paper: Smith &
    Topin, Super-Convergence, 2017.

    Args:
      transition_steps: length ``T`` of the cycle, an integer in
        ``[1, 2**31 - 1]`` (steps are int32).
      peak_value: the highest value, reached at step ``S``.
      pct_start: fraction of the cycle spent rising, in ``(0, 1)`` (0.3).
      div_factor: ``peak / start value``, ``> 0`` (25).
      final_div_factor: ``start value / final value``, ``> 0`` (1e4).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.cosine_onecycle_schedule(100, peak_value=1.0)
        >>> for t in (0, 30, 100):  # 1 / 25, peak at int(0.3 * 100), 1 / 25 / 1e4
        ...     print(t, f"{float(schedule(t)):.4g}")
        0 0.04
        30 1
        100 4e-06
    """
    transition_steps = step_arg("transition_steps", transition_steps, minimum=1)
    check_finite("peak_value", peak_value)
    _check_cycle(pct_start, div_factor, final_div_factor)
    return piecewise_interpolate_schedule(
        "cosine",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            transition_steps: 1.0 / (div_factor * final_div_factor),
        },
    )


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: ArrayLike,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """One cycle in three linear phases: up, down to the start, then far down.

    With ``T = transition_steps``, ``S = int(pct_start * T)``,
    ``F = int(pct_final * T)`` and ``v0 = peak / div_factor``: linear from
    ``v0`` to ``peak`` on ``[0, S)``, from ``peak`` back to ``v0`` on
    ``[S, F)``, from ``v0`` to ``v0 / final_div_factor`` on ``[F, T)``, then
    held at ``v0 / final_div_factor``.

    Equivalents: optax ``linear_onecycle_schedule``; close to PyTorch
    ``OneCycleLR(max_lr=peak, total_steps=T, anneal_strategy="linear",
    three_phase=True)`` (PyTorch's phases are symmetric and end one step
    earlier). Paper: Smith, "A disciplined approach to neural network
    hyper-parameters", 2018 (arXiv:1803.09820); Smith & Topin, 2017.

    Args:
      transition_steps: length ``T`` of the cycle, an integer in
        ``[1, 2**31 - 1]`` (steps are int32).
      peak_value: the highest value, reached at step ``S``.
      pct_start: fraction of the cycle spent rising, in ``(0, 1)`` (0.3).
      pct_final: fraction of the cycle at whose end the value is back at
        ``v0``, in ``(pct_start, 1)`` (0.85).
      div_factor: ``peak / start value``, ``> 0`` (25).
      final_div_factor: ``start value / final value``, ``> 0`` (1e4).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.linear_onecycle_schedule(100, peak_value=1.0)
        >>> for t in (0, 30, 85, 100):  # 1 / 25, peak, 1 / 25 again, 1 / 25 / 1e4
        ...     print(t, f"{float(schedule(t)):.4g}")
        0 0.04
        30 1
        85 0.04
        100 4e-06
    """
    transition_steps = step_arg("transition_steps", transition_steps, minimum=1)
    check_finite("peak_value", peak_value)
    _check_cycle(pct_start, div_factor, final_div_factor)
    _check_fraction("pct_final", pct_final, low=pct_start)
    return piecewise_interpolate_schedule(
        "linear",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(pct_final * transition_steps): 1.0 / div_factor,
            transition_steps: 1.0 / final_div_factor,
        },
    )
