"""The learning-rate range test (Smith, 2017): sweep the rate, watch the loss."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _validation as val
from lrjax._base import GradientTransformation, apply_updates

__all__ = ["RangeTestResult", "find_learning_rate"]


@dataclasses.dataclass(frozen=True)
class RangeTestResult:
    """What :func:`find_learning_rate` measured, up to where it stopped.

    Attributes:
      learning_rates: rate used at each step (NumPy float32).
      losses: raw loss at each step, before that step's update.
      smoothed_losses: bias-corrected exponential moving average of the loss.
      suggestion: rate at the steepest descent of the smoothed loss against
        ``log(rate)`` (the classic pick).
      valley: rate two thirds of the way down the longest stretch of falling
        smoothed loss (more robust on noisy curves).
      min_loss_div_10: rate at the lowest smoothed loss, divided by 10.
      diverged: whether the sweep stopped because the loss diverged.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestion: float
    valley: float
    min_loss_div_10: float
    diverged: bool

    def plot(self, ax: Any = None, *, show_raw: bool = True) -> Any:
        """Draws the smoothed loss against the rate (log axis) with the picks.

        Needs matplotlib (``pip install "lrjax[examples]"``). Returns the axes.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        if show_raw:
            ax.plot(self.learning_rates, self.losses, color="0.75", lw=1, label="loss")
        ax.plot(self.learning_rates, self.smoothed_losses, lw=2, label="smoothed loss")
        picks = [
            (self.suggestion, "steepest", "tab:red"),
            (self.valley, "valley", "tab:green"),
            (self.min_loss_div_10, "min / 10", "tab:purple"),
        ]
        for rate, name, color in picks:
            ax.axvline(rate, color=color, ls="--", lw=1, label=f"{name}: {rate:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        finite = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        if finite.size:
            # The diverging tail would flatten everything else.
            lo, hi = finite.min(), finite[0]
            ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.5 * (hi - lo))
        ax.legend(fontsize="small")
        return ax


def _steepest(rates: np.ndarray, smoothed: np.ndarray) -> float:
    n = len(smoothed)
    if n < 3:
        return float(rates[0])
    slope = np.gradient(smoothed.astype(np.float64), np.log(rates.astype(np.float64)))
    # The first and last points have one-sided differences: skip them.
    inner = slope[1:-1]
    inner = np.where(np.isfinite(inner), inner, np.inf)
    return float(rates[1 + int(np.argmin(inner))])


def _valley(rates: np.ndarray, smoothed: np.ndarray) -> float:
    """Two thirds into the longest (not necessarily contiguous) falling run."""
    n = len(smoothed)
    if n < 2:
        return float(rates[0])
    length = np.ones(n, np.int64)
    start = np.arange(n)
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
                start[i] = start[j]
    end = int(np.argmax(length))
    first = int(start[end])
    return float(rates[first + (2 * (end - first)) // 3])


def _summarise(rates, losses, smoothed, diverged) -> RangeTestResult:
    finite = np.isfinite(smoothed)
    # Picks come from the finite part before divergence.
    r, s = rates[finite], smoothed[finite]
    if r.size == 0:
        raise ValueError(
            "find_learning_rate: the loss was not finite at the smallest rate; "
            "check loss_fn and params, or lower min_lr."
        )
    return RangeTestResult(
        learning_rates=rates,
        losses=losses,
        smoothed_losses=smoothed,
        suggestion=_steepest(r, s),
        valley=_valley(r, s),
        min_loss_div_10=float(r[int(np.argmin(s))]) / 10.0,
        diverged=bool(diverged),
    )


def find_learning_rate(
    loss_fn: Callable[[Any, Any], jax.Array],
    params: Any,
    batches: Any,
    optimizer: Callable[[Any], GradientTransformation],
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.98,
    diverge_threshold: float = 4.0,
) -> RangeTestResult:
    """Sweeps the learning rate exponentially and records the loss.

    Step ``t`` (``0 <= t < num_steps``) trains with rate
    ``min_lr * (max_lr / min_lr) ** (t / (num_steps - 1))`` on batch ``t``.
    The loss before each update is smoothed as
    ``a_t = smoothing * a_{t-1} + (1 - smoothing) * loss_t`` and reported as
    ``a_t / (1 - smoothing**(t+1))``. The sweep stops after the first step whose
    smoothed loss is not finite or exceeds ``diverge_threshold`` times the
    best so far (Smith, 2017, "Cyclical Learning Rates for Training Neural
    Networks"; the smoothing and stopping rule of the fast.ai LR finder).

    With array batches the whole sweep is one compiled ``lax.scan``; steps
    after divergence skip their computation. The parameters passed in are not
    modified (the sweep trains a copy).

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar loss``.
      params: the initial parameters.
      batches: an array or tree of arrays with a leading step axis (used
        cyclically when shorter than ``num_steps``), or an iterable of
        batches (then a Python loop over a compiled step).
      optimizer: ``learning_rate -> GradientTransformation``, e.g.
        ``lambda lr: lrjax.sgd(lr, momentum=0.9)``; it is called once with a
        schedule.
      min_lr: first rate, ``> 0``. Default 1e-7.
      max_lr: last rate, ``> min_lr``. Default 10.
      num_steps: steps of the sweep, integer ``>= 2``. Default 100.
      smoothing: EMA coefficient of the loss, in ``[0, 1)``. Default 0.98.
      diverge_threshold: stop when the smoothed loss exceeds this times its
        best, ``> 1``. Default 4.

    Returns:
      A :class:`RangeTestResult`; call ``.plot()`` to see the curve.
    """
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be callable (params, batch) -> loss, got {loss_fn!r}."
        )
    if not callable(optimizer):
        raise TypeError(
            "optimizer must be a callable learning_rate -> GradientTransformation "
            f"(e.g. lambda lr: lrjax.adam(lr)), got {optimizer!r}."
        )
    val.check_positive("min_lr", min_lr)
    val.check_positive("max_lr", max_lr)
    if not max_lr > min_lr:
        raise ValueError(
            f"max_lr must be > min_lr, got max_lr={max_lr!r}, min_lr={min_lr!r}."
        )
    val.check_positive_int("num_steps", num_steps)
    if num_steps < 2:
        raise ValueError(f"num_steps must be an integer >= 2, got {num_steps!r}.")
    val.check_in_range("smoothing", smoothing, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("diverge_threshold", diverge_threshold, 1.0, low_inclusive=False)

    log_min = math.log(min_lr)
    log_step = (math.log(max_lr) - log_min) / (num_steps - 1)

    def rate_at(t):
        return jnp.exp(log_min + log_step * jnp.asarray(t, jnp.float32))

    opt = optimizer(rate_at)
    value_and_grad = jax.value_and_grad(loss_fn)

    def train_step(params, state, batch):
        loss, grads = value_and_grad(params, batch)
        updates, state = opt.update(grads, state, params)
        return apply_updates(params, updates), state, loss.astype(jnp.float32)

    def track(avg, best, loss, t):
        loss = jnp.asarray(loss, jnp.float32)
        avg = smoothing * avg + (1.0 - smoothing) * loss
        smooth = avg / (1.0 - jnp.float32(smoothing) ** (t + 1).astype(jnp.float32))
        diverged = ~jnp.isfinite(smooth) | (smooth > diverge_threshold * best)
        return avg, jnp.minimum(best, smooth), smooth, diverged

    init = (
        params,
        opt.init(params),
        jnp.zeros([], jnp.float32),
        jnp.full([], jnp.inf, jnp.float32),
        jnp.zeros([], bool),
    )
    if _is_array_tree(batches):
        leaves = jax.tree_util.tree_leaves(batches)
        n = int(leaves[0].shape[0])

        @jax.jit
        def sweep(carry, batches):
            def body(carry, t):
                def live(carry):
                    params, state, avg, best, _ = carry
                    batch = jax.tree_util.tree_map(lambda b: b[t % n], batches)
                    params, state, loss = train_step(params, state, batch)
                    avg, best, smooth, diverged = track(avg, best, loss, t)
                    return (params, state, avg, best, diverged), (loss, smooth, True)

                def stopped(carry):
                    nan = jnp.full([], jnp.nan, jnp.float32)
                    return carry, (nan, nan, False)

                return jax.lax.cond(carry[-1], stopped, live, carry)

            carry, rows = jax.lax.scan(body, carry, jnp.arange(num_steps))
            return carry[-1], rows

        diverged, (losses, smoothed, valid) = sweep(init, batches)
        valid = np.asarray(valid)
        losses, smoothed = np.asarray(losses)[valid], np.asarray(smoothed)[valid]
    else:
        step = jax.jit(train_step)
        params, state, avg, best, diverged = init
        rows = []
        for t, batch in zip(range(num_steps), _as_iter(batches), strict=False):
            params, state, loss = step(params, state, batch)
            avg, best, smooth, diverged = track(avg, best, loss, jnp.asarray(t))
            rows.append((float(loss), float(smooth)))
            if bool(diverged):
                break
        if not rows:
            raise ValueError("find_learning_rate: batches yielded no batch.")
        losses = np.asarray([r[0] for r in rows], np.float32)
        smoothed = np.asarray([r[1] for r in rows], np.float32)
    rates = np.asarray(rate_at(np.arange(len(losses))), np.float32)
    return _summarise(rates, losses, smoothed, bool(diverged))


def _is_array_tree(batches: Any) -> bool:
    leaves = jax.tree_util.tree_leaves(batches)
    return bool(leaves) and all(
        isinstance(x, (np.ndarray, jax.Array)) and np.ndim(x) >= 1 for x in leaves
    )


def _as_iter(batches: Iterable[Any]):
    try:
        return iter(batches)
    except TypeError as e:
        raise TypeError(
            "batches must be an array (or tree of arrays) with a leading step "
            f"axis, or an iterable of batches, got {type(batches).__name__}."
        ) from e
