"""Cosine schedules with optax's names: decay, warmup + decay, SGDR.

Constructors take optax 0.2.8's arguments, order and defaults and give its
values. Differences: negative ``alpha`` or ``exponent`` and
``decay_steps <= warmup_steps`` raise ``ValueError`` naming the argument
(optax raises for the latter too, from inside its cosine piece); steps are
int32-exact up to ``2**31 - 1`` and negative steps count as step 0.

Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with
Warm Restarts", ICLR 2017.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, is_checkable
from lrjax.schedules._common import (
    cosine_weight,
    phase_fractions,
    split_step,
    step_arg,
)
from lrjax.schedules.decay import check_finite, polynomial_phase, shaped
from lrjax.schedules.decay import shift as _shift_step
from lrjax.schedules.piecewise import join_schedules

__all__ = [
    "cosine_decay_schedule",
    "warmup_cosine_decay_schedule",
    "sgdr_schedule",
]


def _cosine_phase(
    whole: jax.Array,
    frac: jax.Array,
    init_value: Any,
    decay_steps: int,
    alpha: Any,
    exponent: Any,
) -> jax.Array:
    """``I * ((1 - alpha) * c ** exponent + alpha)``, ``c`` the half cosine."""
    _, left = phase_fractions(whole, frac, 0, decay_steps)
    cosine = cosine_weight(left)  # a square: never a negative base
    return init_value * ((1 - alpha) * cosine**exponent + alpha)


def cosine_decay_schedule(
    init_value: Any,
    decay_steps: int,
    alpha: Any = 0.0,
    exponent: Any = 1.0,
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
    """
    check_finite("init_value", init_value)
    decay_steps = step_arg("decay_steps", decay_steps, minimum=1)
    check_non_negative("alpha", alpha)
    check_non_negative("exponent", exponent)

    def schedule(step: Any) -> jax.Array:
        whole, frac = split_step(step)
        value = _cosine_phase(whole, frac, init_value, decay_steps, alpha, exponent)
        return shaped(value, step)

    return schedule


def _ratio(end_value: Any, peak_value: Any) -> Any:
    """``end / peak``, 0 when ``peak == 0`` (optax's ``alpha``); traceable."""
    if is_checkable(peak_value) and is_checkable(end_value):
        # NumPy, not jnp: inside a trace jnp.asarray gives a tracer.
        peak = np.asarray(peak_value)
        if peak.ndim == 0:
            return 0.0 if float(peak) == 0.0 else end_value / peak_value
    safe = jnp.where(jnp.asarray(peak_value) == 0, 1.0, peak_value)
    return jnp.where(jnp.asarray(peak_value) == 0, 0.0, end_value / safe)


def warmup_cosine_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: int,
    decay_steps: int,
    end_value: Any = 0.0,
    exponent: Any = 1.0,
) -> Schedule:
    """Linear warmup to ``peak_value``, then cosine decay to ``end_value``.

    Formula, with ``W = warmup_steps``, ``D = decay_steps - W`` (the total
    ``decay_steps`` includes the warmup) and ``alpha = E / P``::

        t < W:      lr(t) = I + (P - I) * t / W
        t >= W:     c = (1 + cos(pi * min(t - W, D) / D)) / 2
                    lr(t) = P * ((1 - alpha) * c ** exponent + alpha)

    Equivalents: optax ``warmup_cosine_decay_schedule``; Keras ``CosineDecay(
    initial_learning_rate=I, decay_steps=D, alpha=E / P, warmup_target=P,
    warmup_steps=W)``; PyTorch ``SequentialLR([LinearLR, CosineAnnealingLR(
    T_max=D, eta_min=E)], milestones=[W])``. Paper: Loshchilov & Hutter,
    SGDR, ICLR 2017 (warmup: Goyal et al., 2017).

    Args:
      init_value: value at step 0.
      peak_value: value at the end of the warmup.
      warmup_steps: length ``W >= 0`` of the warmup (0: none).
      decay_steps: total length ``> warmup_steps``, warmup included, at most
        ``2**31 - 1`` (steps are int32).
      end_value: value from ``decay_steps`` on (default 0).
      exponent: power ``>= 0`` applied to the cosine factor (default 1).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).
    """
    check_finite("init_value", init_value)
    check_finite("peak_value", peak_value)
    check_finite("end_value", end_value)
    check_non_negative("exponent", exponent)
    warmup_steps = step_arg("warmup_steps", warmup_steps)
    decay_steps = step_arg("decay_steps", decay_steps, minimum=1)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"decay_steps must be > warmup_steps = {warmup_steps} (it includes "
            f"the warmup), got {decay_steps}."
        )
    cosine_steps = decay_steps - warmup_steps
    alpha = _ratio(end_value, peak_value)

    def schedule(step: Any) -> jax.Array:
        whole, frac = split_step(step)
        local, local_frac = _shift_step(whole, frac, warmup_steps)
        value = _cosine_phase(
            local, local_frac, peak_value, cosine_steps, alpha, exponent
        )
        if warmup_steps > 0:
            warm = polynomial_phase(
                whole, frac, init_value, peak_value, 1, warmup_steps
            )
            value = jnp.where(whole < warmup_steps, warm, value)
        return shaped(value, step)

    return schedule


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """SGD with warm restarts: warmup-cosine cycles run back to back.

    Each dict of ``cosine_kwargs`` holds the arguments of one
    ``warmup_cosine_decay_schedule`` cycle; cycle ``k`` starts at the sum of
    the previous cycles' ``decay_steps`` and sees its own step from 0. The
    last cycle holds its ``end_value`` after it ends.

    Equivalents: optax ``sgdr_schedule``; PyTorch
    ``CosineAnnealingWarmRestarts`` (and Keras ``CosineDecayRestarts``) when
    the cycles have no warmup and lengths ``T_0 * T_mult**k``. Paper:
    Loshchilov & Hutter, SGDR, ICLR 2017.

    Args:
      cosine_kwargs: at least one dict of ``warmup_cosine_decay_schedule``
        keyword arguments (``init_value``, ``peak_value``, ``warmup_steps``,
        ``decay_steps``, and optionally ``end_value``, ``exponent``).

    Returns:
      A schedule ``step -> value`` (float32, the shape of ``step``).
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
    return join_schedules(schedules, boundaries[:-1])
