"""Cosine decay with optax's name: ``cosine_decay_schedule``.

The constructor takes optax 0.2.8's arguments, order and defaults and gives
its values. Differences: a negative ``alpha`` or ``exponent`` raises
``ValueError`` naming the argument; steps are int32-exact up to ``2**31 - 1``
and negative steps count as step 0. With a warmup in front:
:func:`lrjax.warmup_cosine_decay_schedule`; with restarts:
:func:`lrjax.sgdr_schedule` and :func:`lrjax.cosine_restarts_schedule`.

Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with
Warm Restarts", ICLR 2017.
"""

from __future__ import annotations

import jax
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_non_negative
from lrjax.schedules._common import check_finite, shaped, split_step, step_arg
from lrjax.schedules._phases import cosine_phase

__all__ = ["cosine_decay_schedule"]


def cosine_decay_schedule(
    init_value: ArrayLike,
    decay_steps: int,
    alpha: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value``.

    Formula, with ``T = decay_steps`` and ``t' = min(t, T)``::

        c(t) = (1 + cos(pi * t' / T)) / 2
        lr(t) = I * ((1 - alpha) * c(t) ** exponent + alpha)

    held at ``alpha * I`` from ``T`` on.

    Equivalents: optax ``cosine_decay_schedule``; Keras ``CosineDecay(I, T,
    alpha)``; PyTorch ``CosineAnnealingLR(T_max=T, eta_min=alpha * I)`` for
    ``t <= T`` (PyTorch's then rises again; this one holds). Paper: Loshchilov
    & Hutter, SGDR, ICLR 2017.

    Args:
      init_value: value at step 0.
      decay_steps: length ``T`` of the decay, an integer in ``[1, 2**31 - 1]``
        (steps are int32).
      alpha: final value as a fraction ``>= 0`` of ``init_value`` (default 0).
      exponent: power ``>= 0`` applied to ``c`` (default 1).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).

    Examples:
        >>> import lrjax
        >>> schedule = lrjax.cosine_decay_schedule(1.0, decay_steps=100, alpha=0.1)
        >>> for t in (0, 50, 100, 200):  # 0.9 * (1 + cos(pi * t / 100)) / 2 + 0.1
        ...     print(t, f"{float(schedule(t)):.4f}")
        0 1.0000
        50 0.5500
        100 0.1000
        200 0.1000
    """
    check_finite("init_value", init_value)
    decay_steps = step_arg("decay_steps", decay_steps, minimum=1)
    check_non_negative("alpha", alpha)
    check_non_negative("exponent", exponent)

    def schedule(step: ArrayLike) -> jax.Array:
        whole, frac = split_step(step)
        value = cosine_phase(whole, frac, init_value, decay_steps, alpha, exponent)
        return shaped(value, step)

    return schedule
