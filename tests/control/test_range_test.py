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
from lrjax.control import range_test_rules as rate_rules

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
    for pick in (result.suggestion, result.steepest, result.min_loss_div_10):
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
    for name in ("suggestion", "steepest", "valley", "min_loss_div_10"):
        assert getattr(a, name) == pytest.approx(getattr(b, name))


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


# --- the rules skip the settling start -------------------------------------


def steep_start_batches(n=100):
    """Batch 0 adds a large constant to the loss: the bias-corrected average
    then drops steeply over the first points while nothing is learned."""
    offsets = np.zeros((n, 10), np.float32)
    offsets[0] = 30.0
    return jnp.asarray(offsets)


def offset_loss(p, batch):
    return loss_fn(p, jnp.zeros(10)) + jnp.sum(batch**2)


def test_a_steep_start_of_the_smoothed_curve_is_not_picked():
    result = lrjax.find_learning_rate(
        offset_loss, PARAMS, steep_start_batches(), lrjax.sgd
    )
    rates, smooth = result.learning_rates, result.smoothed_losses
    slope = np.gradient(smooth.astype(np.float64), np.log(rates.astype(np.float64)))
    # The steepest slope of the whole curve is at the start (the old pick).
    assert int(np.argmin(slope[1:-1])) + 1 < 3
    first = rate_rules.settling_points(100, 0.98)
    for name in ("suggestion", "steepest", "valley"):
        assert getattr(result, name) >= rates[first], name
    assert result.min_loss_div_10 >= rates[first] / 10
    assert train(result.suggestion) < float(loss_fn(PARAMS, jnp.zeros(10))) / 100


def test_each_rule_reads_only_between_the_settling_points_and_the_last():
    rates = np.geomspace(1e-6, 1.0, 60)
    t = np.arange(60.0)
    # Falls fastest at point 45, but faster still over the first points; the
    # last point jumps up (the sweep diverged there).
    curve = 10.0 - 8.0 / (1.0 + np.exp(-(t - 45.0) / 3.0))
    curve[:2], curve[-1] = [50.0, 20.0], 100.0
    skip = 5
    assert rate_rules.steepest(rates, curve, skip) == pytest.approx(rates[45])
    assert rate_rules.steepest(rates, curve, 0) == pytest.approx(rates[0])
    # A last point lower than all others is not picked either.
    curve[-1] = -100.0
    assert rate_rules.min_loss_div_10(rates, curve, skip) == pytest.approx(
        rates[58] / 10
    )
    # The longest falling run is 5..58; two thirds into it is point 40.
    assert rate_rules.valley(rates, curve, skip) == pytest.approx(rates[40])
    assert rate_rules.valley(rates, curve, 0) == pytest.approx(rates[38])
    # A curve shorter than the skip reads its second half (to the point
    # before the last), as settling_points caps the skip of a short sweep.
    assert rate_rules.min_loss_div_10(rates[:4], curve[:4], 10) == pytest.approx(
        rates[2] / 10
    )


def test_a_sweep_that_diverged_before_the_skip_reads_its_second_half_and_warns():
    # 31 points, diverging before the 34 the default smoothing skips: lowest
    # at point 16, then rising ever faster. Reading only point 29 (the old
    # window) picked a rate where the loss already rose.
    rates = np.geomspace(1.0, 30.0, 31)
    t = np.arange(31.0)
    curve = 1.0 + 0.01 * (t - 16.0) ** 2 + np.where(t > 16, 0.02 * (t - 16) ** 3, 0)
    curve[-1] = 1e3
    with pytest.warns(UserWarning, match="diverged after 31 points, before the 34"):
        picks = rate_rules.all_picks(rates, curve, 34)
    assert picks["min_loss_div_10"] == pytest.approx(rates[16] / 10)
    # Steepest descent within points 15..29: the only falling step is 15 -> 16
    # (central differences), so point 15.
    assert picks["steepest"] == pytest.approx(rates[15])
    # End to end: a sweep starting at half the stability limit diverges
    # within about 33 points; it warns and still suggests a stable rate.
    with pytest.warns(UserWarning, match="Lower min_lr"):
        result = lrjax.find_learning_rate(
            loss_fn, PARAMS, noisy_batches(), lrjax.sgd, min_lr=0.1, max_lr=100.0
        )
    assert len(result.learning_rates) < 35
    assert 0 < result.suggestion < 2.0 / L
    assert train(result.suggestion) < float(loss_fn(PARAMS, jnp.zeros(10))) / 100


@pytest.mark.parametrize("rule", ["steepest", "valley", "min_loss_div_10"])
def test_rule_chooses_what_suggestion_follows(rule):
    result = lrjax.find_learning_rate(
        loss_fn, PARAMS, noisy_batches(), lrjax.sgd, rule=rule
    )
    assert result.rule == rule
    assert result.suggestion == getattr(result, rule)
    skip = rate_rules.settling_points(100, 0.98)
    want = rate_rules.RULES[rule](result.learning_rates, result.smoothed_losses, skip)
    assert getattr(result, rule) == pytest.approx(want)


def test_default_rule_is_documented():
    result = lrjax.find_learning_rate(loss_fn, PARAMS, noisy_batches(), lrjax.sgd)
    assert result.rule == rate_rules.DEFAULT_RULE
    assert f'"{rate_rules.DEFAULT_RULE}"' in lrjax.find_learning_rate.__doc__


# --- several seeds under one vmap ------------------------------------------


def mlp_init(key):
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (3, 8)) / 2,
        "w2": jax.random.normal(k2, (8, 1)) / 3,
    }


def regression_data(n=12, batch=16):
    rng = np.random.RandomState(0)
    x = rng.randn(n, batch, 3).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(np.sin(x.sum(-1, keepdims=True)))


def test_seeds_match_separate_sweeps_and_compile_once():
    traces = {"loss": 0, "init": 0}

    def loss(p, batch):
        traces["loss"] += 1
        x, y = batch
        return jnp.mean((jnp.tanh(x @ p["w1"]) @ p["w2"] - y) ** 2)

    def init(key):
        traces["init"] += 1
        return mlp_init(key)

    batches = regression_data()
    seeds = [0, 3, 7]

    def opt(lr):
        return lrjax.sgd(lr, momentum=0.9)

    many = lrjax.find_learning_rate(loss, init, batches, opt, seeds=seeds)
    assert traces["init"] == 1 and traces["loss"] <= 2, traces

    assert many.seeds == tuple(seeds)
    # Every seed diverged, not all at the same step: NaN tails to check.
    assert many.per_seed["diverged"].all() and np.isnan(many.losses).any()
    assert many.losses.shape == many.smoothed_losses.shape
    assert many.losses.shape == (3, len(many.learning_rates))
    for i, seed in enumerate(seeds):
        init_key, order_key = jax.random.split(jax.random.key(seed))
        perm = np.asarray(jax.random.permutation(order_key, batches[0].shape[0]))
        one = lrjax.find_learning_rate(
            loss, mlp_init(init_key), (batches[0][perm], batches[1][perm]), opt
        )
        k = len(one.losses)
        np.testing.assert_allclose(many.losses[i, :k], one.losses, rtol=1e-5)
        np.testing.assert_allclose(
            many.smoothed_losses[i, :k], one.smoothed_losses, rtol=1e-5
        )
        assert np.all(np.isnan(many.losses[i, k:]))
        for name in ("steepest", "valley", "min_loss_div_10"):
            assert many.per_seed[name][i] == pytest.approx(getattr(one, name))
        assert many.suggestions[i] == pytest.approx(one.suggestion)
        assert bool(many.per_seed["diverged"][i]) == one.diverged
    assert many.suggestion == pytest.approx(float(np.median(many.suggestions)))
    assert many.suggestion_range == (
        pytest.approx(many.suggestions.min()),
        pytest.approx(many.suggestions.max()),
    )
    for name in ("steepest", "valley", "min_loss_div_10"):
        assert getattr(many, name) == float(np.median(many.per_seed[name]))


def test_seeds_count_with_shared_params_only_permute_the_batches():
    batches = noisy_batches(20)
    many = lrjax.find_learning_rate(loss_fn, PARAMS, batches, lrjax.sgd, seeds=2)
    assert many.seeds == (0, 1)
    for i in range(2):
        order_key = jax.random.split(jax.random.key(i))[1]
        perm = np.asarray(jax.random.permutation(order_key, 20))
        one = lrjax.find_learning_rate(loss_fn, PARAMS, batches[perm], lrjax.sgd)
        np.testing.assert_allclose(
            many.losses[i, : len(one.losses)], one.losses, rtol=1e-5
        )
    # Two seeds: the median is the geometric mean of the two picks.
    lo, hi = many.suggestion_range
    assert many.suggestion == pytest.approx(np.sqrt(lo * hi))


def test_plot_with_seeds_draws_the_median_a_band_and_the_picks():
    many = lrjax.find_learning_rate(
        lambda p, b: loss_fn(p, b), PARAMS, noisy_batches(), lrjax.sgd, seeds=3
    )
    ax = many.plot()
    assert ax.get_xscale() == "log"
    median = np.nanmedian(many.smoothed_losses, axis=0)
    drawn = [line.get_ydata() for line in ax.lines]
    assert any(
        len(y) == len(median) and np.allclose(y, median, equal_nan=True) for y in drawn
    )
    assert len(ax.collections) >= 1  # the min..max band
    verticals = [x for line in ax.lines for x in [line.get_xdata()] if len(x) == 2]
    assert {float(x[0]) for x in verticals} >= {
        many.steepest,
        many.valley,
        many.min_loss_div_10,
    }
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("suggestion" in t for t in legend)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"rule": "fastest"}, ValueError, ["rule", "fastest", "valley"]),
        ({"rule": None}, ValueError, ["rule", "None", "steepest"]),
        ({"seeds": 0}, ValueError, ["seeds", "0", ">= 1"]),
        ({"seeds": -2}, ValueError, ["seeds", "-2"]),
        ({"seeds": []}, ValueError, ["seeds", "empty"]),
        ({"seeds": [1, -1]}, ValueError, ["seeds", "-1", "2147483647"]),
        ({"seeds": [2**31]}, ValueError, ["seeds", "2147483648"]),
        ({"seeds": [0, 1.5]}, TypeError, ["seeds", "1.5"]),
        ({"seeds": 2.0}, TypeError, ["seeds", "2.0"]),
        ({"seeds": True}, TypeError, ["seeds", "True"]),
        ({"seeds": "01"}, TypeError, ["seeds", "'01'"]),
        ({"params": mlp_init}, TypeError, ["params", "seeds", "mlp_init"]),
        ({"batches": iter([0.0]), "seeds": 2}, TypeError, ["batches", "seeds"]),
    ],
)
def test_rejects_invalid_new_arguments_before_tracing(kwargs, error, words):
    traced = []

    def counting_loss(p, batch):
        traced.append(1)
        return loss_fn(p, batch)

    args = dict(
        loss_fn=counting_loss,
        params=PARAMS,
        batches=noisy_batches(),
        optimizer=lrjax.sgd,
    )
    args.update(kwargs)
    with pytest.raises(error) as info:
        lrjax.find_learning_rate(**args)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert not traced
