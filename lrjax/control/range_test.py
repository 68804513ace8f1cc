"""The learning-rate range test (Smith, 2017): sweep the rate, watch the loss.

:func:`find_learning_rate` trains a copy of the model while the rate grows
exponentially, smooths the loss, stops when it diverges and reads a rate off
the curve with the rules of :mod:`lrjax.control.range_test_rules`. With
``seeds`` it runs one sweep per initialisation and batch order, all at once
under ``jax.vmap`` in one compiled function, and reports the median pick and
its spread.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _validation as val
from lrjax._base import GradientTransformation, apply_updates
from lrjax.control.range_test_rules import (
    DEFAULT_RULE,
    RULES,
    all_picks,
    median_rate,
    plot_result,
    settling_points,
)

__all__ = ["RangeTestResult", "find_learning_rate"]

MAX_SEED = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class RangeTestResult:
    """What :func:`find_learning_rate` measured, up to where it stopped.

    Attributes:
      learning_rates: rate used at each step (NumPy float32).
      losses: raw loss at each step, before that step's update; with
        ``seeds``, one row per seed (``seeds x steps``), NaN after the step
        where that seed's sweep diverged.
      smoothed_losses: bias-corrected exponential moving average of the loss,
        shaped like ``losses``.
      suggestion: the pick of ``rule``, the rate to train at; with ``seeds``,
        the median of the per-seed picks (the geometric mean of the middle two
        for an even count).
      steepest: rate at the steepest descent of the smoothed loss against
        ``log(rate)`` (Smith's pick); with ``seeds``, the median.
      valley: rate two thirds of the way down the longest falling run (not
        necessarily contiguous) of the smoothed loss, after fast.ai's
        ``valley`` (its documentation says about two thirds; its code takes
        about the middle of the run); with ``seeds``, the median.
      min_loss_div_10: rate at the lowest smoothed loss, divided by 10; with
        ``seeds``, the median.
      diverged: whether the sweep stopped because the loss diverged (with
        ``seeds``, whether any seed's did).
      rule: the rule ``suggestion`` follows.
      seeds: the seeds swept, or None for a single sweep.
      suggestions: with ``seeds``, each seed's pick of ``rule`` (else None).
      suggestion_range: with ``seeds``, ``(min, max)`` of ``suggestions``.
      per_seed: with ``seeds``, each rule's per-seed picks and the per-seed
        ``"diverged"`` flags, as NumPy arrays keyed by name.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestion: float
    steepest: float
    valley: float
    min_loss_div_10: float
    diverged: bool
    rule: str = DEFAULT_RULE
    seeds: tuple[int, ...] | None = None
    suggestions: np.ndarray | None = None
    suggestion_range: tuple[float, float] | None = None
    per_seed: dict[str, np.ndarray] | None = None

    def plot(self, ax: Any = None, *, show_raw: bool = True) -> Any:
        """Draws the smoothed loss against the rate (log axis) with the picks.

        With ``seeds``: the median smoothed curve over seeds, a band from the
        lowest to the highest seed, and the spread of ``suggestions`` shaded.
        Needs matplotlib (``pip install "lrjax[examples]"``). Returns the axes.
        """
        return plot_result(self, ax, show_raw=show_raw)


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
    *,
    rule: str = DEFAULT_RULE,
    seeds: int | Sequence[int] | None = None,
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

    The rules read the smoothed curve from point
    ``ceil(log(1/2) / log(smoothing)) - 1`` (34 for the default 0.98; at most
    half the sweep), where the bias correction has settled, to the point
    before the last: before it, each batch moves the average by ``1/(t+1)``
    of its deviation and that noise, not training, is the steepest slope of
    the curve (the old default picked the sweep's second point).

    The default rule, ``"min_loss_div_10"``, was chosen by measurement
    (``benchmarks/range_test_rules.py``; the table is in
    :mod:`lrjax.control.range_test_rules`): over 6 small problems x SGD with
    momentum and Adam x 5 seeds x 3 sweeps, training at its pick ends on
    average 2% (worst run 23%) of the way from the best of 13 grid rates back
    to the untrained loss; ``valley`` 3% (59%), ``steepest`` 9% (488%: worse
    than not training), the old default 61% (100%). Its weak spot is Adam on a convex
    problem that does not diverge inside the sweep (about 12%).

    With array batches the whole sweep is one compiled ``lax.scan``; steps
    after divergence skip their computation. The parameters passed in are not
    modified (the sweep trains a copy).

    With ``seeds``, seed ``s`` initialises with
    ``init_key, order_key = jax.random.split(jax.random.key(s))``:
    ``params(init_key)`` when ``params`` is an init function, and step ``t``
    trains on batch ``perm[t % n]`` with
    ``perm = jax.random.permutation(order_key, n)`` (``n`` batches). All
    sweeps run under ``jax.vmap`` in one jit (one compilation); each seed's
    result equals a single sweep from the same parameters on the permuted
    batches.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar loss``.
      params: the initial parameters; with ``seeds``, may instead be an init
        function ``params(key) -> parameters`` (a callable without array
        leaves), traced once under ``jax.vmap``.
      batches: an array or tree of arrays with a leading step axis (used
        cyclically when shorter than ``num_steps``), or an iterable of
        batches (then a Python loop over a compiled step; not with
        ``seeds``).
      optimizer: ``learning_rate -> GradientTransformation``, e.g.
        ``lambda lr: lrjax.sgd(lr, momentum=0.9)``; it is called once with a
        schedule.
      min_lr: first rate, ``> 0``. Default 1e-7.
      max_lr: last rate, ``> min_lr``. Default 10.
      num_steps: steps of the sweep, integer ``>= 2``. Default 100.
      smoothing: EMA coefficient of the loss, in ``[0, 1)``. Default 0.98.
      diverge_threshold: stop when the smoothed loss exceeds this times its
        best, ``> 1``. Default 4.
      rule: the rule ``suggestion`` follows: ``"min_loss_div_10"`` (default),
        ``"valley"`` or ``"steepest"``; every rule's pick is in the result.
      seeds: None (one sweep), a count ``k >= 1`` (seeds ``0..k-1``) or a
        non-empty sequence of integers in ``[0, 2**31 - 1]``.

    Returns:
      A :class:`RangeTestResult`; call ``.plot()`` to see the curve.

    Examples:
        >>> import jax, jax.numpy as jnp, numpy as np
        >>> import lrjax
        >>> x = np.random.RandomState(0).randn(50, 32, 3).astype(np.float32)
        >>> batches = (x, x @ np.float32([1.0, -2.0, 0.5]))
        >>> def loss_fn(w, batch):
        ...     return jnp.mean((batch[0] @ w - batch[1]) ** 2)
        >>> def sgdm(lr):
        ...     return lrjax.sgd(lr, momentum=0.9)
        >>> result = lrjax.find_learning_rate(loss_fn, jnp.zeros(3), batches, sgdm)
        >>> result.rule, result.diverged
        ('min_loss_div_10', True)
        >>> bool(1e-3 < result.suggestion < 1.0)
        True
        >>> def init_fn(key):
        ...     return jax.random.normal(key, (3,))
        >>> many = lrjax.find_learning_rate(loss_fn, init_fn, batches, sgdm, seeds=5)
        >>> many.smoothed_losses.shape[0], many.suggestions.shape
        (5, (5,))
        >>> lo, hi = many.suggestion_range
        >>> bool(lo <= many.suggestion <= hi)
        True
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
    val.check_one_of("rule", rule, RULES)
    seed_list = _seed_list(seeds)
    init_fn = _init_function(params, batches, seeds)
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

    def start(params):
        zero, inf = jnp.zeros([], jnp.float32), jnp.full([], jnp.inf, jnp.float32)
        return params, opt.init(params), zero, inf, jnp.zeros([], bool)

    def sweep(params, batches, order):
        """One sweep; step ``t`` trains on batch ``order[t % len(order)]``."""
        n = order.shape[0]

        def body(carry, t):
            def live(carry):
                params, state, avg, best, _ = carry
                batch = jax.tree_util.tree_map(lambda b: b[order[t % n]], batches)
                params, state, loss = train_step(params, state, batch)
                avg, best, smooth, diverged = track(avg, best, loss, t)
                return (params, state, avg, best, diverged), (loss, smooth, True)

            def stopped(carry):
                nan = jnp.full([], jnp.nan, jnp.float32)
                return carry, (nan, nan, False)

            # Steps after divergence skip their computation (under vmap, with
            # seeds, both branches run and the stopped one is selected).
            return jax.lax.cond(carry[-1], stopped, live, carry)

        carry, rows = jax.lax.scan(body, start(params), jnp.arange(num_steps))
        return carry[-1], rows

    if seed_list is not None:
        n = int(jax.tree_util.tree_leaves(batches)[0].shape[0])

        @jax.jit
        def sweep_seeds(seed_array, params, batches):
            def one(seed):
                init_key, order_key = jax.random.split(jax.random.key(seed))
                p = params if init_fn is None else init_fn(init_key)
                return sweep(p, batches, jax.random.permutation(order_key, n))

            return jax.vmap(one)(seed_array)

        seed_array = jnp.asarray(seed_list, jnp.uint32)
        shared = None if init_fn is not None else params
        diverged, rows = sweep_seeds(seed_array, shared, batches)
        return _summarise_seeds(
            rate_at,
            seed_list,
            np.asarray(diverged),
            rows,
            settling_points(num_steps, smoothing),
            rule,
        )
    if _is_array_tree(batches):
        n = int(jax.tree_util.tree_leaves(batches)[0].shape[0])
        diverged, (losses, smoothed, valid) = jax.jit(sweep)(
            params, batches, jnp.arange(n)
        )
        valid = np.asarray(valid)
        losses, smoothed = np.asarray(losses)[valid], np.asarray(smoothed)[valid]
    else:
        step = jax.jit(train_step)
        params, state, avg, best, diverged = start(params)
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
    picks = all_picks(rates, smoothed, settling_points(num_steps, smoothing), "")
    return RangeTestResult(
        learning_rates=rates,
        losses=losses,
        smoothed_losses=smoothed,
        suggestion=picks[rule],
        diverged=bool(diverged),
        rule=rule,
        **picks,
    )


def _summarise_seeds(
    rate_at: Callable[[Any], jax.Array],
    seeds: list[int],
    diverged: np.ndarray,
    rows: tuple[jax.Array, jax.Array, jax.Array],
    skip: int,
    rule: str,
) -> RangeTestResult:
    """The per-seed picks, their medians and the curves, NaN where a seed had
    stopped."""
    losses, smoothed, valid = (np.asarray(x) for x in rows)
    # Keep the steps where at least one seed was still sweeping.
    length = int(valid.sum(axis=1).max())
    rates = np.asarray(rate_at(np.arange(length)), np.float32)
    losses = np.where(valid, losses, np.nan)[:, :length]
    smoothed = np.where(valid, smoothed, np.nan)[:, :length]
    per_seed = [
        all_picks(rates, s, skip, f" of seed {seed}")
        for seed, s in zip(seeds, smoothed, strict=True)
    ]
    table = {name: np.asarray([p[name] for p in per_seed]) for name in RULES}
    medians = {name: median_rate(table[name]) for name in RULES}
    return RangeTestResult(
        learning_rates=rates,
        losses=losses,
        smoothed_losses=smoothed,
        suggestion=medians[rule],
        diverged=bool(diverged.any()),
        rule=rule,
        seeds=tuple(seeds),
        suggestions=table[rule],
        suggestion_range=(float(table[rule].min()), float(table[rule].max())),
        per_seed={**table, "diverged": diverged.astype(bool)},
        **medians,
    )


def _init_function(
    params: Any, batches: Any, seeds: Any
) -> Callable[[Any], Any] | None:
    """``params`` when it is an init function (only with ``seeds``), else
    None; checks that ``seeds`` come with array batches."""
    # A callable without array leaves is an init function; an nnx module is
    # callable too, but carries its arrays.
    is_init = callable(params) and not any(
        isinstance(x, (np.ndarray, jax.Array))
        for x in jax.tree_util.tree_leaves(params)
    )
    if seeds is None:
        if is_init:
            raise TypeError(
                "params may be an init function init_fn(key) -> params only with "
                f"seeds=...; without seeds pass the parameters, got {params!r}."
            )
        return None
    if not _is_array_tree(batches):
        raise TypeError(
            "with seeds, batches must be an array (or tree of arrays) with a "
            "leading step axis, whose order each seed permutes; got "
            f"{type(batches).__name__}."
        )
    return params if is_init else None


def _seed_list(seeds: Any) -> list[int] | None:
    """``seeds`` as a list of ints, checked; None stays None."""
    if seeds is None:
        return None
    expected = (
        f"an integer count >= 1 or a non-empty sequence of integers in [0, {MAX_SEED}]"
    )
    if isinstance(seeds, (np.ndarray, jax.Array)):
        seeds = np.asarray(seeds).tolist()  # a 0-d array becomes a number
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be {expected}, got {seeds!r}.")
        return list(range(int(seeds)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"seeds must be {expected}, got {seeds!r}.")
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"seeds must be {expected}, got the element {s!r}.")
        if not 0 <= s <= MAX_SEED:
            raise ValueError(f"seeds must be {expected}, got the element {s!r}.")
        out.append(int(s))
    if not out:
        raise ValueError(f"seeds must be {expected}, got an empty sequence.")
    return out


def _is_array_tree(batches: Any) -> bool:
    if isinstance(batches, Iterator):
        return False  # not a pytree: flattening one is deprecated
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
