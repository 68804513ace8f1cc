"""lrjax.sweep's grid against plain optax loops run one member at a time.

The references follow sweep's documented conventions only: seed ``s`` splits
``PRNGKey(s)`` into the init key and the data key; epoch ``e`` visits the
examples in ``permutation(fold_in(data_key, e), n)`` order, ``n // batch``
batches; evaluation after every ``eval_every`` steps and at the end.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sweep_problem import BATCH, DATA, ONE, N, X, Y, init, loss_fn

import lrjax

STEPS, EVERY = 20, 5


def random_batch(key, step):
    """A batch drawn with replacement (batch_fn's key: the member's own)."""
    idx = jax.random.randint(key, (BATCH,), 0, N)
    return {"x": X[idx], "y": Y[idx]}


def reference(factory, rate, seed, *, report=False, steps=STEPS, every=EVERY):
    """One member: a jitted optax step in a Python loop."""
    init_key, data_key = jax.random.split(jax.random.PRNGKey(seed))
    params = init(init_key)
    tx = factory(rate)
    state = tx.init(params)

    @jax.jit
    def step(params, state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, state = tx.update(grads, state, params)
        return loss, optax.apply_updates(params, updates), state

    losses, rates, metrics = [], [], []
    spe = N // BATCH
    for t in range(steps):
        epoch, pos = divmod(t, spe)
        if pos == 0:
            order = jax.random.permutation(jax.random.fold_in(data_key, epoch), N)
        idx = order[pos * BATCH : (pos + 1) * BATCH]
        loss, params, state = step(params, state, {"x": X[idx], "y": Y[idx]})
        losses.append(loss)
        rates.append(lrjax.get_learning_rate(state))
        if (t + 1) % every == 0 or t + 1 == steps:
            metrics.append(loss_fn(params, DATA))
            if report:
                state = lrjax.report_metric(state, metrics[-1])
    return np.array(losses), np.array(rates), np.array(metrics)


CASES = {
    "sgd-momentum": (lambda r: lrjax.sgd(r, momentum=0.9), False),
    "adam": (lrjax.adam, False),
    "cosine": (lambda r: lrjax.sgd(lrjax.cosine_decay_schedule(r, STEPS)), False),
    # The sweep reports its metric to the controller at every evaluation.
    "plateau": (
        lambda r: optax.chain(lrjax.sgd(r), lrjax.reduce_on_plateau(0.5, patience=0)),
        True,
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in ("adam", "cosine") else n
        for n in CASES
    ],
)
def test_batched_members_equal_separate_single_runs(name):
    factory, report = CASES[name]
    rates, seeds = [0.03, 0.3], [0, 5]
    result = lrjax.sweep(
        init, loss_fn, DATA, batch_size=BATCH, steps=STEPS, eval_every=EVERY,
        strategies={name: factory}, rates=rates, seeds=seeds, devices=ONE,
        progress=False,
    )  # fmt: skip
    runs = result.strategies[name]
    assert runs.compilations == 1 and runs.member_steps == 4 * STEPS
    np.testing.assert_array_equal(runs.eval_steps, [5, 10, 15, 20])
    # Both rates and both seeds, against the references (the other two
    # members mix the same rates and seeds).
    for i, j in ((0, 0), (1, 1)):
        losses, lrs, metrics = reference(factory, rates[i], seeds[j], report=report)
        np.testing.assert_allclose(runs.train_loss[i, j], losses, rtol=2e-5)
        np.testing.assert_allclose(runs.learning_rate[i, j], lrs, rtol=1e-6)
        np.testing.assert_allclose(runs.eval_metrics["loss"][i, j], metrics, rtol=2e-5)
        assert runs.final_metric[i, j] == pytest.approx(metrics[-1], rel=2e-5)
    if name == "plateau":  # the controller did decide
        assert np.any(runs.learning_rate[..., -1] < runs.rates[:, None])
    best = np.argmin(runs.final_metric.mean(axis=1))
    assert runs.chosen == best and runs.chosen_rate == rates[best]


def test_one_compilation_per_strategy_with_chunks_and_the_same_results():
    """7 members in chunks of 3 (the last padded) reuse one compilation."""
    traced = []

    def eval_fn(params, data):
        traced.append(1)  # once per trace (and once for sweep's checks)
        return {"loss": loss_fn(params, data)}

    strategies = {"sgd": lrjax.sgd, "adam": lrjax.adam}
    kwargs = dict(
        batch_fn=random_batch, eval_data=DATA, steps=12, eval_every=4,
        eval_fn=eval_fn, strategies=strategies,
        rates=[0.01, 0.1, 0.2, 0.5, 0.7, 0.9, 1.0], seeds=[3], devices=ONE,
        progress=False,
    )  # fmt: skip
    chunked = lrjax.sweep(init, loss_fn, max_members=3, **kwargs)
    assert [r.compilations for r in chunked.strategies.values()] == [1, 1]
    # One abstract check, then one trace per strategy (three equal periods
    # are one scan, whose body is traced once).
    assert len(traced) == 1 + 2
    kwargs["strategies"] = {"adam": lrjax.adam}
    whole = lrjax.sweep(init, loss_fn, **kwargs).strategies["adam"]
    part = chunked.strategies["adam"]
    assert whole.compilations == 1
    np.testing.assert_allclose(part.train_loss, whole.train_loss, rtol=1e-6)
    np.testing.assert_allclose(part.final_metric, whole.final_metric, rtol=1e-6)
    assert part.compile_seconds > 0 and part.run_seconds > 0


def test_grid_picks_the_rate_closest_to_the_analytic_optimum():
    """Gradient descent on 0.5 a x^2 contracts by |1 - rate a| per step: the
    best fixed rate is 1/a = 0.25; 0.27 is the grid's closest point."""
    a = 4.0
    rates = [0.05, 0.1, 0.2, 0.27, 0.4, 0.6]
    result = lrjax.sweep(
        lambda key: 1.0 + jax.random.uniform(key, (3,)),
        lambda w, batch: 0.5 * a * jnp.sum(w**2),
        jnp.zeros((4, 1)), batch_size=1, steps=10,
        strategies={"gd": lrjax.sgd}, rates=rates, seeds=2, devices=ONE,
        progress=False,
    )  # fmt: skip
    runs = result.strategies["gd"]
    assert runs.chosen_rate == 0.27
    assert runs.chosen == int(np.argmin(np.abs(1 - a * np.array(rates))))
    # After 10 steps at 0.27 the loss shrank by (1 - 0.27 a)^20.
    keys = [jax.random.split(jax.random.PRNGKey(s))[0] for s in range(2)]
    w0 = np.stack([1.0 + jax.random.uniform(k, (3,)) for k in keys])
    expected = 0.5 * a * np.sum(w0**2, axis=1) * (1 - a * 0.27) ** 20
    np.testing.assert_allclose(runs.final_metric[3], expected, rtol=1e-4)


def test_sharded_over_eight_devices_equals_one_device():
    assert jax.device_count() == 8
    kwargs = dict(
        batch_size=BATCH, steps=10, strategies={"adam": lrjax.adam},
        rates=[0.01, 0.03, 0.1], seeds=2, progress=False,
    )  # fmt: skip
    sharded = lrjax.sweep(init, loss_fn, DATA, **kwargs).strategies["adam"]
    single = lrjax.sweep(init, loss_fn, DATA, devices=ONE, **kwargs).strategies["adam"]
    assert sharded.compilations == single.compilations == 1
    np.testing.assert_allclose(sharded.train_loss, single.train_loss, rtol=1e-5)
    np.testing.assert_allclose(sharded.final_metric, single.final_metric, rtol=1e-5)
    assert sharded.chosen == single.chosen


def test_eval_fn_metric_eval_params_and_final_seeds():
    """eval_fn's keys, an eval_params hook, and the re-run on fresh seeds."""

    def eval_fn(params, data):
        return {"mse": loss_fn(params, data), "neg": -loss_fn(params, data)}

    zero = jax.tree_util.tree_map(jnp.zeros_like, init(jax.random.PRNGKey(0)))
    result = lrjax.sweep(
        init, loss_fn, DATA, batch_size=BATCH, steps=10, eval_fn=eval_fn,
        metric="neg", higher_is_better=True,
        strategies={"sgd": lrjax.sgd, "zero": (lrjax.sgd, lambda s, p: zero)},
        rates=[0.01, 0.3], seeds=2, final_seeds=2, devices=ONE, progress=False,
    )  # fmt: skip
    assert result.metric == "neg" and result.higher_is_better
    sgd, hooked = result.strategies["sgd"], result.strategies["zero"]
    np.testing.assert_allclose(sgd.eval_metrics["neg"], -sgd.eval_metrics["mse"])
    assert sgd.chosen == int(np.argmax(sgd.final_metric.mean(axis=1)))
    # evaluated on the hook's weights, trained as plain SGD
    np.testing.assert_allclose(
        hooked.eval_metrics["mse"], loss_fn(zero, DATA), rtol=1e-6
    )
    np.testing.assert_allclose(hooked.train_loss, sgd.train_loss, rtol=1e-6)
    # The chosen rate re-run on fresh seeds 2 and 3 for the whole budget.
    np.testing.assert_array_equal(sgd.final_seeds, [2, 3])
    assert sgd.compilations == 2  # the population, then the re-run
    for k, seed in enumerate([2, 3]):
        *_, metrics = reference(lrjax.sgd, sgd.chosen_rate, seed, steps=10)
        assert sgd.final_metrics["mse"][k] == pytest.approx(metrics[-1], rel=2e-5)
        assert sgd.final_metrics["neg"][k] == pytest.approx(-metrics[-1], rel=2e-5)


def test_named_strategies_tune_their_rows_over_the_budget():
    from lrjax.compare import STRATEGIES

    result = lrjax.sweep(
        init, loss_fn, batch_fn=random_batch, eval_data=DATA, steps=12,
        strategies=["cosine", "schedule-free-adamw"], seeds=1, devices=ONE,
        progress=False,
    )  # fmt: skip
    rows = {s.name: s for s in STRATEGIES}
    for name, runs in result.strategies.items():
        np.testing.assert_allclose(
            runs.rates, rows[name].rate * 10.0 ** np.linspace(-2, 1, 10)
        )
    # cosine from each peak to 0 over the sweep's budget (SGD momentum 0.9)
    cosine = result.strategies["cosine"]
    t = np.arange(12)
    expected = cosine.rates[:, None] * 0.5 * (1 + np.cos(np.pi * t / 12))
    np.testing.assert_allclose(
        cosine.learning_rate[:, 0], expected, rtol=1e-5, atol=1e-9
    )


def test_batch_fn_and_no_tqdm(monkeypatch):
    """batch_fn(key, step) with key = fold_in(data key, step); progress falls
    back silently when tqdm is missing."""
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)

    batch_fn = random_batch
    runs = lrjax.sweep(
        init, loss_fn, batch_fn=batch_fn, eval_data=DATA, steps=6,
        strategies={"sgd": lrjax.sgd}, rates=[0.1], seeds=[7], devices=ONE,
    ).strategies["sgd"]  # fmt: skip
    init_key, data_key = jax.random.split(jax.random.PRNGKey(7))
    params = init(init_key)
    for t in range(6):
        batch = batch_fn(jax.random.fold_in(data_key, t), t)
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        assert runs.train_loss[0, 0, t] == pytest.approx(float(loss), rel=1e-5)
        params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)


@pytest.mark.slow
def test_controllers_see_a_maximised_metric_negated():
    """With higher_is_better the metric reaches the controllers negated, so a
    plateau built with its default mode="min" decides as on the loss."""
    plateau = lambda r: optax.chain(
        lrjax.sgd(r), lrjax.reduce_on_plateau(0.5, patience=0)
    )
    kwargs = dict(
        batch_size=BATCH, steps=STEPS, eval_every=EVERY, strategies={"p": plateau},
        rates=[0.3], seeds=[0], devices=ONE, progress=False,
    )  # fmt: skip
    by_loss = lrjax.sweep(init, loss_fn, DATA, **kwargs).strategies["p"]
    by_score = lrjax.sweep(
        init, loss_fn, DATA, eval_fn=lambda p, d: {"score": -loss_fn(p, d)},
        higher_is_better=True, **kwargs,
    ).strategies["p"]  # fmt: skip
    assert np.any(by_loss.learning_rate < 0.3)  # it decided
    np.testing.assert_array_equal(by_score.learning_rate, by_loss.learning_rate)
