"""The articles' experiment: one line fitted under every learning-rate strategy.

Data: 200 points ``y = 2 x + 1 + noise`` with ``x ~ U[-1, 1]`` and Gaussian
noise of standard deviation 0.1, drawn from ``jax.random.PRNGKey(0)``. Model:
``y_hat = w * x + b`` from ``w = b = 0``, trained on the mean squared error with
full-batch gradient steps.

Each row of ``STRATEGIES`` maps a name to a factory ``steps -> optimizer``. The
schedule rows all use ``lrjax.sgd`` with heavy-ball momentum 0.5 and a peak
rate of 0.1, so only the schedule differs between them. Momentum 0.5 settles
about three times sooner here (a fixed 0.1 in 31 steps instead of 89 without
momentum); 0.9 overshoots on this well-conditioned problem and is slower
(143 steps) than none. The last rows are adaptive optimizers for contrast. A
strategy's whole training is one jitted function (a ``jax.lax.scan`` over the
steps), which also reads the rate the last step applied with
``lrjax.get_learning_rate``.

Columns: the recovered slope and intercept, the final mean squared error, the
final rate (the one the last step applied; for the adaptive optimizers it is
the global rate, before their per-parameter scaling), and "settled": the
number of steps after which both parameters stay within 1e-3 of the
least-squares fit, the articles' speed comparison (``-`` if never).

The table keeps the order of ``STRATEGIES`` (the articles' order: fixed, the
decays, the cycles, warm-up, random, clipped, then adaptive) rather than
sorting by loss: every strategy reaches the noise floor, so a sort by loss
would only shuffle families on differences in the 6th digit. Its first line is
the reference, the least-squares fit of the same noisy data (NumPy
``lstsq`` in float64): that, not exactly ``(2, 1)``, is what gradient descent
converges to.

Run: ``python examples/linear_regression.py [--steps N] [--strategies a,b]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import lrjax
from lrjax.plotting import format_rate

TRUE_SLOPE = 2.0
TRUE_INTERCEPT = 1.0
NUM_POINTS = 200
NOISE_STD = 0.1

Factory = Callable[[int], lrjax.GradientTransformation]


def _sgd(schedule: lrjax.ScalarOrSchedule) -> lrjax.GradientTransformation:
    return lrjax.sgd(schedule, momentum=0.5)


# name -> (number of steps N -> optimizer). `max(1, ...)` keeps tiny N valid.
STRATEGIES: dict[str, Factory] = {
    "fixed": lambda n: _sgd(0.1),
    "step decay": lambda n: _sgd(
        lrjax.step_decay_schedule(0.1, step_size=max(1, n // 4), decay_rate=0.5)
    ),
    "multistep": lambda n: _sgd(
        lrjax.multistep_decay_schedule(0.1, milestones=[n // 2, 3 * n // 4])
    ),
    "exponential decay": lambda n: _sgd(
        lrjax.exponential_decay(0.1, transition_steps=max(1, n // 5), decay_rate=0.5)
    ),
    "polynomial decay": lambda n: _sgd(
        lrjax.polynomial_schedule(0.1, 0.001, power=2.0, transition_steps=n)
    ),
    "linear decay": lambda n: _sgd(lrjax.linear_schedule(0.1, 0.001, n)),
    "inverse-time decay": lambda n: _sgd(
        lrjax.inverse_time_decay_schedule(
            0.1, decay_steps=max(1, n // 10), decay_rate=1.0
        )
    ),
    "cosine decay": lambda n: _sgd(lrjax.cosine_decay_schedule(0.1, n, alpha=0.01)),
    "cosine restarts": lambda n: _sgd(
        lrjax.cosine_restarts_schedule(
            0.1, first_period=max(1, n // 4), min_value=0.001
        )
    ),
    "cyclic (triangular)": lambda n: _sgd(
        lrjax.cyclic_schedule(0.01, 0.1, step_size_up=max(1, n // 10))
    ),
    "one-cycle": lambda n: _sgd(lrjax.one_cycle_schedule(0.1, total_steps=n)),
    "warmup-stable-decay": lambda n: _sgd(
        lrjax.warmup_stable_decay_schedule(
            0.1,
            warmup_steps=n // 10,
            stable_steps=n // 2,
            decay_steps=max(1, n - n // 10 - n // 2),
            end_value=0.001,
        )
    ),
    "random (log-uniform)": lambda n: _sgd(
        lrjax.random_schedule(jax.random.PRNGKey(1), 0.001, 0.1, hold_steps=10)
    ),
    # The article's "redwood" rate, max(min_lr, 0.1 * (1 - t / T)), with T = N.
    "clipped (redwood)": lambda n: _sgd(
        lrjax.clip_schedule(lrjax.linear_schedule(0.1, 0.0, n), min_value=0.01)
    ),
    "adam": lambda n: lrjax.adam(lrjax.cosine_decay_schedule(0.1, n, alpha=0.01)),
    "rmsprop": lambda n: lrjax.rmsprop(
        lrjax.cosine_decay_schedule(0.05, n, alpha=0.01)
    ),
    "adagrad": lambda n: lrjax.adagrad(0.5),
}


def make_data() -> tuple[jax.Array, jax.Array]:
    """The fixed noisy line: ``x ~ U[-1, 1]``, ``y = 2 x + 1 + N(0, 0.1^2)``."""
    kx, kn = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.uniform(kx, (NUM_POINTS,), minval=-1.0, maxval=1.0)
    noise = NOISE_STD * jax.random.normal(kn, (NUM_POINTS,))
    return x, TRUE_SLOPE * x + TRUE_INTERCEPT + noise


def least_squares(x: jax.Array, y: jax.Array) -> tuple[float, float, float]:
    """The exact fit in float64: (slope, intercept, its mean squared error)."""
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    design = np.stack([x64, np.ones_like(x64)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, y64, rcond=None)
    mse = float(np.mean((design @ [slope, intercept] - y64) ** 2))
    return float(slope), float(intercept), mse


class Fit(NamedTuple):
    """One strategy's result."""

    slope: float
    intercept: float
    loss: float  # the final mean squared error
    rate: float  # the rate the last step applied
    path: np.ndarray  # (steps, 2): slope and intercept after each step


def fit(
    optimizer: lrjax.GradientTransformation, x: jax.Array, y: jax.Array, steps: int
) -> Fit:
    """Trains ``steps`` full-batch steps from ``w = b = 0`` in one jitted scan."""

    def loss_fn(params: dict[str, jax.Array]) -> jax.Array:
        return jnp.mean((params["w"] * x + params["b"] - y) ** 2)

    @jax.jit
    def train(params: dict[str, jax.Array]):
        def step(carry, _):
            p, s = carry
            updates, s = optimizer.update(jax.grad(loss_fn)(p), s, p)
            p = lrjax.apply_updates(p, updates)
            return (p, s), jnp.stack([p["w"], p["b"]])

        state = optimizer.init(params)
        (params, state), path = jax.lax.scan(step, (params, state), length=steps)
        # After an update the state holds the rate that update applied.
        return params, loss_fn(params), lrjax.get_learning_rate(state), path

    params, loss, rate, path = train({"w": jnp.zeros([]), "b": jnp.zeros([])})
    return Fit(
        float(params["w"]),
        float(params["b"]),
        float(loss),
        float(rate),
        np.asarray(path),
    )


def settled(path: np.ndarray, reference: np.ndarray, tol: float = 1e-3) -> int | None:
    """Steps after which every row of ``path`` stays within ``tol`` of ``reference``."""
    outside = np.nonzero(np.max(np.abs(path - reference), axis=1) > tol)[0]
    if not outside.size:
        return 0
    return None if outside[-1] == len(path) - 1 else int(outside[-1]) + 1


def _check_args(steps: int, strategies: Sequence[str] | None) -> list[str]:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}.")
    if strategies is None:
        return list(STRATEGIES)
    if isinstance(strategies, str):  # a bare name would iterate by character
        strategies = [strategies]
    names = list(strategies)
    if not names:
        raise ValueError("strategies must name at least one strategy, got none.")
    for name in names:
        if name not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {name!r}; choose from: {', '.join(STRATEGIES)}."
            )
    return list(dict.fromkeys(names))  # drop repeats, keep the order


def main(
    steps: int = 500, strategies: Sequence[str] | None = None
) -> dict[str, tuple[float, float, float]]:
    """Fits the line under each strategy and prints one table row per strategy.

    Args:
      steps: gradient steps per strategy, an integer ``>= 1``. Default 500.
      strategies: names from ``STRATEGIES`` to run, in the order given;
        ``None`` (the default) runs them all.

    Returns:
      name -> (recovered slope, recovered intercept, final mean squared error).
    """
    names = _check_args(steps, strategies)
    x, y = make_data()
    ref_slope, ref_intercept, ref_mse = least_squares(x, y)
    reference = np.array([ref_slope, ref_intercept])
    width = max(len("least squares (lstsq)"), *map(len, names))
    print(
        f"{'strategy':<{width}}  {'slope':>8}  {'intercept':>9}  "
        f"{'final MSE':>10}  {'final lr':>10}  {'settled':>7}"
    )
    print(
        f"{'least squares (lstsq)':<{width}}  {ref_slope:8.5f}  "
        f"{ref_intercept:9.5f}  {ref_mse:10.7f}  {'-':>10}  {'-':>7}"
    )
    print("-" * (width + 56))
    results = {}
    for name in names:
        result = fit(STRATEGIES[name](steps), x, y, steps)
        results[name] = (result.slope, result.intercept, result.loss)
        when = settled(result.path, reference)
        print(
            f"{name:<{width}}  {result.slope:8.5f}  {result.intercept:9.5f}  "
            f"{result.loss:10.7f}  {format_rate(result.rate):>10}  "
            f"{'-' if when is None else when:>7}"
        )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=500, help="steps per strategy (default 500)"
    )
    parser.add_argument(
        "--strategies",
        default=None,
        help="comma-separated names (default: all): " + ", ".join(STRATEGIES),
    )
    args = parser.parse_args()
    chosen = None
    if args.strategies is not None:
        chosen = [s.strip() for s in args.strategies.split(",") if s.strip()]
    try:
        main(args.steps, chosen)
    except ValueError as error:
        parser.error(str(error))
