"""The comparison's training loop against independent references.

A hand-written Python loop with optax's own SGD, NumPy formulas for the
recorded rates, and ``lax.conv`` for the CNN's patch convolution.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

pytest.importorskip("sklearn")

import lrjax  # noqa: E402
from lrjax.compare import (  # noqa: E402
    STRATEGIES,
    Context,
    Plan,
    cnn,
    cnn1d,
    load_digits,
    make_seed_run,
    mlp,
    train_seeds,
)
from lrjax.tune.catalogue import select  # noqa: E402

DATA = load_digits(validation=0)  # the whole 1,347-image training split
SMALL = mlp((32,))


def _strategy(name):
    (strategy,) = select([name])
    return strategy


def _context(plan, rate=0.05):
    return Context(plan, lambda make_optimizer: rate)


def test_digits_split_is_fixed_stratified_and_scaled():
    x_train, y_train, x_val, _, x_test, y_test = DATA
    assert x_train.shape == (1347, 8, 8, 1) and x_test.shape == (450, 8, 8, 1)
    assert x_val.shape == (0, 8, 8, 1)
    carved = load_digits()  # the last 300 training images validate
    np.testing.assert_array_equal(carved.val_x, x_train[-300:])
    np.testing.assert_array_equal(carved.train_y, y_train[:-300])
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # Stratified: each class's share of the test set is its share overall (+-1).
    counts = np.bincount(np.concatenate([y_train, y_test]), minlength=10)
    np.testing.assert_allclose(np.bincount(y_test, minlength=10), counts / 4, atol=1)
    again = load_digits()
    np.testing.assert_array_equal(again.test_y, y_test)
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.0)


def test_cnn_patch_convolution_equals_lax_conv():
    model = cnn()
    params = model.init(jax.random.PRNGKey(3))
    images = jnp.asarray(DATA.test_x[:7])

    def conv(x, layer):
        y = jax.lax.conv_general_dilated(
            x, layer["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return jax.nn.relu(y + layer["b"])

    h = conv(conv(images, params["conv1"]), params["conv2"])
    pooled = jax.lax.reduce_window(
        h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
    ).reshape(7, -1)
    expected = pooled @ params["out"]["w"] + params["out"]["b"]
    np.testing.assert_allclose(model.apply(params, images), expected, atol=2e-5)


def test_cnn1d_patch_convolution_equals_lax_conv():
    """MNIST-1D's CNN: kernels 5, 3, 3, stride 2, padding 1; 40 -> 19 -> 10 -> 5."""
    model = cnn1d()
    params = model.init(jax.random.PRNGKey(4))
    signals = jax.random.normal(jax.random.PRNGKey(5), (6, 40))
    h = signals[..., None]
    for name in ("conv1", "conv2", "conv3"):
        layer = params[name]
        h = jax.lax.conv_general_dilated(
            h, layer["w"], (2,), [(1, 1)], dimension_numbers=("NWC", "WIO", "NWC")
        )
        h = jax.nn.relu(h + layer["b"])
    assert h.shape == (6, 5, 25)
    expected = h.reshape(6, -1) @ params["out"]["w"] + params["out"]["b"]
    np.testing.assert_allclose(model.apply(params, signals), expected, atol=2e-5)


def test_run_equals_a_plain_python_loop_with_optax_sgd():
    """Seed i: PRNGKey(i) split into (init, order); epoch e's order is
    permutation(fold_in(order, e)); the last incomplete batch is dropped."""
    plan = Plan(epochs=2, batch_size=128, steps_per_epoch=1347 // 128)
    run = jax.jit(make_seed_run(SMALL, lrjax.sgd(0.05, momentum=0.9), plan))
    curves = run(jax.random.PRNGKey(1), DATA)

    init_key, order_key = jax.random.split(jax.random.PRNGKey(1))
    params = SMALL.init(init_key)
    tx = optax.sgd(0.05, momentum=0.9)
    state = tx.init(params)

    def loss_fn(p, x, y):
        logits = SMALL.apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    grad_fn = jax.jit(jax.value_and_grad(loss_fn))
    for epoch in range(2):
        order = np.asarray(
            jax.random.permutation(jax.random.fold_in(order_key, epoch), 1347)
        )
        losses = []
        for step in range(plan.steps_per_epoch):
            idx = order[step * 128 : (step + 1) * 128]
            loss, grads = grad_fn(params, DATA.train_x[idx], DATA.train_y[idx])
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            losses.append(float(loss))
        logits = SMALL.apply(params, DATA.test_x)
        np.testing.assert_allclose(curves.train_loss[epoch], np.mean(losses), rtol=1e-5)
        np.testing.assert_allclose(
            curves.test_accuracy[epoch], np.mean(np.argmax(logits, -1) == DATA.test_y)
        )
        np.testing.assert_allclose(
            curves.test_loss[epoch],
            loss_fn(params, DATA.test_x, DATA.test_y),
            rtol=1e-5,
        )
    np.testing.assert_array_equal(
        curves.learning_rate, np.full(2 * 10, 0.05, np.float32)
    )


@pytest.mark.parametrize(
    "name",
    [
        "adam",
        pytest.param("reduce-on-plateau", marks=pytest.mark.slow),
        pytest.param("schedule-free-adamw", marks=pytest.mark.slow),
    ],
)
def test_vmapped_seeds_equal_separate_single_seed_runs(name):
    strategy = _strategy(name)
    plan = Plan(epochs=3, batch_size=128, steps_per_epoch=10)
    tx = strategy.build(_context(plan))
    batched = train_seeds(
        SMALL, tx, plan, DATA, seeds=3, eval_params=strategy.eval_params
    )
    single = jax.jit(make_seed_run(SMALL, tx, plan, strategy.eval_params))
    for seed in range(3):
        alone = single(jax.random.PRNGKey(seed), DATA)
        for got, want in zip(batched.curves, alone, strict=True):
            np.testing.assert_allclose(got[seed], want, rtol=2e-5, atol=1e-6)
    # Different seeds really differ (initialisation and data order).
    assert np.ptp(batched.curves.train_loss[:, -1]) > 0


def test_recorded_rate_is_the_cosine_formula_at_every_step():
    plan = Plan(epochs=2, batch_size=256, steps_per_epoch=5)
    tx = _strategy("cosine").build(_context(plan))
    curves = train_seeds(SMALL, tx, plan, DATA, seeds=1).curves
    t = np.arange(plan.total_steps)
    expected = 0.1 * 0.5 * (1 + np.cos(np.pi * t / plan.total_steps))
    np.testing.assert_allclose(curves.learning_rate[0], expected, rtol=1e-5, atol=1e-8)


def test_loss_driven_rates_change_only_at_epoch_boundaries():
    """The monitored value is the last epoch's mean training loss: the bold
    driver compares it once per epoch (x1.1 after a better epoch, x0.5 after
    a worse one); the first epoch compares with the initial loss."""
    plan = Plan(epochs=4, batch_size=128, steps_per_epoch=10)
    tx = _strategy("loss-driven").build(_context(plan))
    curves = train_seeds(SMALL, tx, plan, DATA, seeds=2).curves
    rates = curves.learning_rate.reshape(2, 4, 10)
    np.testing.assert_array_equal(rates, np.broadcast_to(rates[..., :1], rates.shape))
    for seed in range(2):
        init_key, _ = jax.random.split(jax.random.PRNGKey(seed))
        logits = SMALL.apply(SMALL.init(init_key), DATA.train_x)
        initial = optax.softmax_cross_entropy_with_integer_labels(
            logits, DATA.train_y
        ).mean()
        monitored = [initial, *curves.train_loss[seed, :3]]
        expected = [0.05]
        for e in range(1, 4):
            better = monitored[e] < monitored[e - 1]
            expected.append(expected[-1] * (1.1 if better else 0.5))
        np.testing.assert_allclose(rates[seed, :, 0], expected, rtol=1e-5)


def test_range_test_row_trains_at_the_rate_find_rate_returns():
    plan = Plan(epochs=1, batch_size=256, steps_per_epoch=5)
    seen = []

    def find_rate(make_optimizer):
        seen.append(make_optimizer)
        return 0.0123

    tx = _strategy("range-test").build(Context(plan, find_rate))
    curves = train_seeds(SMALL, tx, plan, DATA, seeds=1).curves
    np.testing.assert_allclose(curves.learning_rate, 0.0123, rtol=1e-6)
    assert len(seen) == 1


def test_averaging_rows_evaluate_the_averaged_weights():
    """ema-weights and polyak train the same SGD; only their evaluation
    differs, so their training losses agree and their test losses do not."""
    plan = Plan(epochs=2, batch_size=128, steps_per_epoch=10)
    out = {}
    for name in ("ema-weights", "polyak"):
        strategy = _strategy(name)
        out[name] = train_seeds(
            SMALL, strategy.build(_context(plan)), plan, DATA, 1, strategy.eval_params
        ).curves
    np.testing.assert_allclose(
        out["ema-weights"].train_loss, out["polyak"].train_loss, rtol=1e-6
    )
    assert np.all(out["ema-weights"].test_loss != out["polyak"].test_loss)


def test_strategy_table_names_are_unique_and_select_by_family():
    names = [s.name for s in STRATEGIES]
    assert len(names) == len(set(names)) >= 31
    assert [s.name for s in select(["decay", "adam"])] == [
        "step", "multistep", "exponential", "polynomial", "inverse-time",
        "cosine", "warmup-stable-decay", "clipped", "adam",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="'nope'"):
        select(["nope"])


@pytest.mark.slow
def test_every_strategy_trains_and_learns():
    """Each row builds, compiles, lowers its loss and beats chance (0.1)
    threefold in five short epochs."""
    plan = Plan(epochs=5, batch_size=64, steps_per_epoch=1347 // 64)
    context = _context(plan, rate=0.05)
    for strategy in STRATEGIES:
        curves = train_seeds(
            SMALL, strategy.build(context), plan, DATA, 1, strategy.eval_params
        ).curves
        assert np.all(np.isfinite(curves.train_loss)), strategy.name
        assert curves.train_loss[0, -1] < curves.train_loss[0, 0], strategy.name
        assert curves.test_accuracy[0, -1] > 0.3, (strategy.name, curves.test_accuracy)
        rates = curves.learning_rate
        assert np.all(rates >= 0) and np.any(rates > 0), strategy.name
