"""Cyclical learning rates (CLR, Smith 2017): a triangle wave, forever.

Cycle numbers and positions inside a cycle are int32; only the fraction of
the cycle is float32, which keeps the shape exact at every step up to
``2**31 - 1``. Cosine cycles with restarts: :mod:`lrjax.schedules.restarts`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_in_range, check_non_negative, check_one_of
from lrjax.schedules._common import (
    as_value,
    geometric,
    log_factor,
    pinned_fractions,
    split_step,
    step_arg,
)

__all__ = ["cyclic_schedule"]

_MAX_STEP = 2**31 - 1


def cyclic_schedule(
    base_value: ArrayLike,
    max_value: ArrayLike,
    step_size_up: int,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: ArrayLike = 1.0,
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

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.cyclic_schedule(0.1, 1.0, step_size_up=10)
        >>> for t in (0, 5, 10, 20):  # 0.1 + 0.9 * x, x rising 0 -> 1 then falling
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 0.1000
        5 0.5500
        10 1.0000
        20 0.1000
        >>> halved = lrjax.cyclic_schedule(0.1, 1.0, 10, mode="triangular2")
        >>> print(f"{float(halved(30)):.4f}")  # second peak: 0.1 + 0.9 / 2
        0.5500
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

    def schedule(step: ArrayLike) -> jax.Array:
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
        low, high = as_value(base_value), as_value(max_value)
        return as_value(low + (high - low) * x * amplitude)

    return schedule
