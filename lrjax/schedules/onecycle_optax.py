"""optax's one-cycle schedules: ``cosine_onecycle_schedule``, ``linear_onecycle_schedule``.

Same arguments, order, defaults and values as optax 0.2.8: both are
``piecewise_interpolate_schedule`` with optax's boundaries
``int(pct * transition_steps)``. For PyTorch's ``OneCycleLR``, whose phase
boundaries sit one step earlier, use ``lrjax.one_cycle_schedule``.
Differences: ``pct_start`` (and ``pct_final``) outside ``(0, 1)`` or out of
order and non-positive ``div_factor``/``final_div_factor`` raise
``ValueError``.

Reference: Smith & Topin, "Super-Convergence: Very Fast Training of Neural
Networks Using Large Learning Rates", 2017 (arXiv:1708.07120).
"""

from __future__ import annotations

from typing import Any

from lrjax._base import Schedule
from lrjax._validation import check_in_range, check_positive
from lrjax.schedules._common import step_arg
from lrjax.schedules.decay import check_finite
from lrjax.schedules.piecewise import piecewise_interpolate_schedule

__all__ = ["cosine_onecycle_schedule", "linear_onecycle_schedule"]


def _check_pct(name: str, value: Any, low: float = 0.0) -> None:
    check_in_range(name, value, low, 1.0, low_inclusive=False, high_inclusive=False)


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: Any,
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
    """
    transition_steps = step_arg("transition_steps", transition_steps, minimum=1)
    check_finite("peak_value", peak_value)
    _check_pct("pct_start", pct_start)
    check_positive("div_factor", div_factor)
    check_positive("final_div_factor", final_div_factor)
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
    peak_value: Any,
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
    """
    transition_steps = step_arg("transition_steps", transition_steps, minimum=1)
    check_finite("peak_value", peak_value)
    _check_pct("pct_start", pct_start)
    _check_pct("pct_final", pct_final, low=pct_start)
    check_positive("div_factor", div_factor)
    check_positive("final_div_factor", final_div_factor)
    return piecewise_interpolate_schedule(
        "linear",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(pct_final * transition_steps): 1.0 / div_factor,
            transition_steps: 1.0 / final_div_factor,
        },
    )
