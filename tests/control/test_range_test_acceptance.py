"""Acceptance: the range test's default pick trains about as well as the best
rate of a grid.

On five small problems (least squares, logistic regression, an MLP on two
moons, an MLP on 20-dimensional 5-class blobs, a CNN on 8x8 images of bars),
:func:`lrjax.find_learning_rate` with its defaults picks a rate; training
``BUDGET`` steps at it must end within 10% of the way from the best of 13
rates 1e-5..10 (half a decade apart, trained the same way) back to the
untrained loss:

    loss(pick) <= loss(best) + 0.1 * (loss(untrained) - loss(best))

Every rate trains from the same initialisation on the same batches; the 13
rates and the pick train at once, under ``jax.vmap`` in one jitted
``lax.scan``. The data are generated here with NumPy. SGD with momentum 0.9
(the optimizer of the report that made ``min_loss_div_10`` the default) runs
by default, Adam with the slow checks; one Adam case misses the bound and is
an expected failure (see ``ADAM_LOGISTIC``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax

GRID = np.logspace(-5, 1, 13)
BUDGET = 300
BATCH = 32
N = 512

OPTIMIZERS = {
    "sgd-momentum": lambda lr: lrjax.sgd(lr, momentum=0.9),
    "adam": lambda lr: lrjax.adam(lr),
}


@dataclasses.dataclass(frozen=True)
class Problem:
    init: Callable[[jax.Array], Any]  # key -> params
    loss: Callable[[Any, Any], jax.Array]  # (params, (x, y)) -> mean loss
    batches: tuple[jax.Array, jax.Array]  # (steps, BATCH, ...)


def batched(x: np.ndarray, y: np.ndarray) -> tuple[jax.Array, jax.Array]:
    k = len(x) // BATCH
    return (
        jnp.asarray(x[: k * BATCH].reshape(k, BATCH, *x.shape[1:]), jnp.float32),
        jnp.asarray(y[: k * BATCH].reshape(k, BATCH, *y.shape[1:])),
    )


def dense_init(key: jax.Array, sizes: list[int]) -> list[dict[str, jax.Array]]:
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (a, b)) * math.sqrt(2.0 / a), "b": jnp.zeros(b)}
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp(layers: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in layers[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits)
    return -jnp.take_along_axis(logp, labels[:, None], axis=1).mean()


def mlp_loss(params, batch):
    return cross_entropy(mlp(params, batch[0]), batch[1])


def linear_init(key):
    return {"w": 0.01 * jax.random.normal(key, (20,)), "b": jnp.zeros([])}


def least_squares() -> Problem:
    rng = np.random.RandomState(0)
    x = rng.randn(N, 20) * np.geomspace(0.3, 3.0, 20)  # condition number 100
    y = x @ rng.randn(20) + 0.1 * rng.randn(N)

    def loss(p, batch):
        return 0.5 * jnp.mean((batch[0] @ p["w"] + p["b"] - batch[1]) ** 2)

    return Problem(linear_init, loss, batched(x, y))


def logistic_regression() -> Problem:
    rng = np.random.RandomState(1)
    x = rng.randn(N, 20)
    y = (x @ rng.randn(20) + 0.5 * rng.randn(N) > 0).astype(np.float32)

    def loss(p, batch):
        z = batch[0] @ p["w"] + p["b"]
        return jnp.mean(jax.nn.softplus(z) - batch[1] * z)

    return Problem(linear_init, loss, batched(x, y))


def two_moons() -> Problem:
    """Two interleaved half circles plus Gaussian noise; an MLP 2-32-32-2."""
    rng = np.random.RandomState(2)
    t = rng.uniform(0, np.pi, N)
    y = rng.randint(0, 2, N)
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    x = np.where(y[:, None] == 0, upper, lower) + 0.15 * rng.randn(N, 2)
    return Problem(lambda k: dense_init(k, [2, 32, 32, 2]), mlp_loss, batched(x, y))


def blobs() -> Problem:
    """5 Gaussian classes in 20 dimensions, overlapping; an MLP 20-64-5."""
    rng = np.random.RandomState(3)
    y = rng.randint(0, 5, N)
    x = rng.randn(5, 20)[y] + 1.5 * rng.randn(N, 20)
    return Problem(lambda k: dense_init(k, [20, 64, 5]), mlp_loss, batched(x, y))


def cnn_bars() -> Problem:
    """8x8 images of a horizontal, vertical, diagonal or anti-diagonal bar in
    noise; one 3x3 convolution, ReLU, global average pooling, a dense layer."""
    rng = np.random.RandomState(4)
    y = rng.randint(0, 4, N)
    pos = rng.randint(1, 7, N)
    img = np.zeros((N, 8, 8))
    ar = np.arange(8)
    for i in range(N):
        rows, cols = [
            (pos[i], ar),
            (ar, pos[i]),
            (ar, (ar + pos[i]) % 8),
            (ar, (pos[i] - ar) % 8),
        ][y[i]]
        img[i, rows, cols] = 1.0
    x = img[..., None] + 0.5 * rng.randn(N, 8, 8, 1)

    def init(key):
        k1, k2 = jax.random.split(key)
        conv = jax.random.normal(k1, (3, 3, 1, 8)) * math.sqrt(2.0 / 9)
        return {"conv": conv, "b": jnp.zeros(8), "head": dense_init(k2, [8, 4])}

    def loss(p, batch):
        h = jax.lax.conv_general_dilated(
            batch[0],
            p["conv"],
            window_strides=(1, 1),
            padding="SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        h = jax.nn.relu(h + p["b"]).mean(axis=(1, 2))
        return cross_entropy(mlp(p["head"], h), batch[1])

    return Problem(init, loss, batched(x, y))


PROBLEMS = {
    "least-squares": least_squares,
    "logistic-regression": logistic_regression,
    "mlp-two-moons": two_moons,
    "mlp-blobs": blobs,
    "cnn-bars": cnn_bars,
}


def trained_losses(problem: Problem, optimizer, params, rates) -> np.ndarray:
    """Full-data loss after BUDGET steps at each rate (inf if not finite),
    then the untrained loss; all rates at once in one jitted scan."""
    xs, ys = problem.batches
    k = xs.shape[0]

    def full_loss(p):
        return jax.vmap(lambda x, y: problem.loss(p, (x, y)))(xs, ys).mean()

    def train(rate):
        opt = optimizer(rate)  # lrjax takes a batched rate under vmap

        def step(carry, t):
            p, s = carry
            g = jax.grad(problem.loss)(p, (xs[t % k], ys[t % k]))
            u, s = opt.update(g, s, p)
            return (lrjax.apply_updates(p, u), s), None

        init = (params, opt.init(params))
        (p, _), _ = jax.lax.scan(step, init, jnp.arange(BUDGET))
        return full_loss(p)

    @jax.jit
    def run(rates):
        return jnp.append(jax.vmap(train)(rates), full_loss(params))

    out = np.asarray(run(jnp.asarray(rates, jnp.float32)), np.float64)
    return np.where(np.isfinite(out), out, np.inf)


def check_pick_trains(problem: Problem, optimizer, pick: float, params) -> None:
    losses = trained_losses(problem, optimizer, params, [*GRID, pick])
    grid, at_pick, untrained = losses[: len(GRID)], losses[-2], losses[-1]
    best = grid.min()
    bound = best + 0.1 * (untrained - best)
    score = (at_pick - best) / (untrained - best)
    assert at_pick <= bound, (
        f"pick {pick:.3g} trained to {at_pick:.4g}; best grid rate "
        f"{GRID[grid.argmin()]:.3g} to {best:.4g}, untrained {untrained:.4g} "
        f"(score {score:.3f} > 0.1)"
    )


# min_loss_div_10 with Adam on logistic regression: the sweep never diverges
# (Adam's steps stay bounded and the problem is convex), the lowest smoothed
# loss sits near max_lr and its tenth (0.83) is 2.6x the best grid rate.
ADAM_LOGISTIC = pytest.mark.xfail(
    strict=True,
    reason="min_loss_div_10 + Adam on logistic regression scores 0.13 > 0.1",
)
CASES = [pytest.param(name, "sgd-momentum") for name in PROBLEMS] + [
    # Adam doubles the file's time: with the deep checks.
    pytest.param(
        name,
        "adam",
        marks=[pytest.mark.slow]
        + ([ADAM_LOGISTIC] if name == "logistic-regression" else []),
    )
    for name in PROBLEMS
]


@pytest.mark.parametrize("name, optimizer", CASES)
def test_default_pick_trains_within_10_percent_of_the_best_grid_rate(name, optimizer):
    problem = PROBLEMS[name]()
    params = problem.init(jax.random.key(0))
    opt = OPTIMIZERS[optimizer]
    result = lrjax.find_learning_rate(problem.loss, params, problem.batches, opt)
    check_pick_trains(problem, opt, result.suggestion, params)


def test_median_pick_over_seeds_trains_on_two_moons():
    problem = two_moons()
    opt = OPTIMIZERS["sgd-momentum"]
    result = lrjax.find_learning_rate(
        problem.loss, problem.init, problem.batches, opt, seeds=3
    )
    assert result.suggestion in result.suggestions
    params = problem.init(jax.random.split(jax.random.key(0))[0])
    check_pick_trains(problem, opt, result.suggestion, params)
