"""find_learning_rate: the sweep, its stopping rule and its suggestions.

References: SGD on a quadratic with largest curvature L is unstable above
2/L (a fact of the problem, not of lrjax); the smoothing and the rate grid are
recomputed here with NumPy from their formulas.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import pytest

import lrjax

matplotlib.use("Agg")

L = 10.0
CURV = jnp.asarray(np.linspace(1.0, L, 10), jnp.float32)
PARAMS = jnp.full(10, 5.0)


def loss_fn(p, batch):
    return 0.5 * jnp.sum(CURV * (p - batch) ** 2)


def noisy_batches(n=100, seed=0):
    return jnp.asarray(np.random.RandomState(seed).randn(n, 10) * 0.1, jnp.float32)


def train(lr, steps=200):
    opt = lrjax.sgd(lr)
    p, s = PARAMS, opt.init(PARAMS)
    for _ in range(steps):
        u, s = opt.update(jax.grad(loss_fn)(p, jnp.zeros(10)), s, p)
        p = optax.apply_updates(p, u)
    return float(loss_fn(p, jnp.zeros(10)))


def test_stops_past_the_stability_limit_and_suggests_a_stable_rate():
    result = lrjax.find_learning_rate(loss_fn, PARAMS, noisy_batches(), lrjax.sgd)
    limit = 2.0 / L
    assert result.diverged
    stop = float(result.learning_rates[-1])
    assert limit < stop < 10 * limit, stop
    assert len(result.learning_rates) < 100
    start = float(loss_fn(PARAMS, jnp.zeros(10)))
    for pick in (result.suggestion, result.min_loss_div_10):
        assert 0 < pick < limit, pick
        assert train(pick) < start / 100, pick
    assert 0 < result.valley < limit


def test_rates_and_smoothing_follow_their_formulas():
    result = lrjax.find_learning_rate(
        loss_fn,
        PARAMS,
        noisy_batches(),
        lrjax.sgd,
        min_lr=1e-5,
        max_lr=1e-1,
        num_steps=40,
        smoothing=0.9,
    )
    assert not result.diverged and len(result.losses) == 40
    np.testing.assert_allclose(
        result.learning_rates, np.geomspace(1e-5, 1e-1, 40), rtol=1e-5
    )
    avg, want = 0.0, []
    for t, loss in enumerate(result.losses.astype(np.float64)):
        avg = 0.9 * avg + 0.1 * loss
        want.append(avg / (1 - 0.9 ** (t + 1)))
    np.testing.assert_allclose(result.smoothed_losses, want, rtol=1e-5)
    # The first loss is the loss of the initial parameters on batch 0.
    np.testing.assert_allclose(
        result.losses[0], loss_fn(PARAMS, noisy_batches()[0]), rtol=1e-6
    )


def test_iterator_batches_give_the_same_sweep():
    batches = noisy_batches()
    a = lrjax.find_learning_rate(loss_fn, PARAMS, batches, lrjax.sgd)
    b = lrjax.find_learning_rate(loss_fn, PARAMS, iter(np.asarray(batches)), lrjax.sgd)
    assert len(a.losses) == len(b.losses)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4)
    assert a.suggestion == pytest.approx(b.suggestion)


def test_short_batch_arrays_are_cycled_and_trees_accepted():
    def tree_loss(p, batch):
        return loss_fn(p, batch["target"]) * batch["weight"]

    batches = {"target": noisy_batches(3), "weight": jnp.ones(3)}
    result = lrjax.find_learning_rate(
        tree_loss, PARAMS, batches, lrjax.sgd, max_lr=1e-2, num_steps=10
    )
    np.testing.assert_allclose(
        result.losses[3],
        tree_loss(PARAMS, {"target": batches["target"][0], "weight": 1.0}),
        rtol=0.05,
    )


def test_array_sweep_is_compiled_once():
    traces = []

    def counting_loss(p, batch):
        traces.append(1)
        return loss_fn(p, batch)

    lrjax.find_learning_rate(counting_loss, PARAMS, noisy_batches(), lrjax.sgd)
    assert len(traces) <= 2, len(traces)  # traced, not called per step


def test_works_with_adaptive_optimizers_and_plots():
    result = lrjax.find_learning_rate(
        loss_fn, PARAMS, noisy_batches(), lambda lr: lrjax.adam(lr), max_lr=100.0
    )
    ax = result.plot()
    assert ax.get_xscale() == "log"
    assert len(ax.lines) >= 4


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"min_lr": 0.0}, "min_lr"),
        ({"max_lr": 1e-8}, "max_lr"),
        ({"num_steps": 1}, "num_steps"),
        ({"num_steps": 10.5}, "num_steps"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"diverge_threshold": 1.0}, "diverge_threshold"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"loss_fn": None}, "loss_fn"),
    ],
)
def test_rejects_invalid_arguments(kwargs, name):
    args = dict(
        loss_fn=loss_fn, params=PARAMS, batches=noisy_batches(), optimizer=lrjax.sgd
    )
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        lrjax.find_learning_rate(**args)
