"""report_metric: one plateau / loss-driven decision per call, wherever the state is.

The reference is PyTorch's documented ``ReduceLROnPlateau`` rule
(``references.TorchPlateau``): training runs several steps per epoch with
``update`` (no metric) and reports the validation loss once per epoch, as
``scheduler.step(val_loss)`` does.
"""

from __future__ import annotations

import logging

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from references import TorchPlateau

import lrjax

LR = 0.1
STEPS_PER_EPOCH = 4
# Validation losses with plateaus, a worse stretch and recoveries: positive,
# so PyTorch's relative test and lrjax's agree.
VAL_LOSSES = [1.0, 0.8, 0.8, 0.81, 0.79, 0.79, 0.79, 0.6, 0.61, 0.62, 0.6,
              0.6, 0.59, 0.7, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5]  # fmt: skip
PLATEAU = dict(factor=0.5, patience=1, cooldown=1, rtol=1e-2)


def torch_rates(values, min_lr=0.0):
    ref = TorchPlateau(
        "min", PLATEAU["factor"], PLATEAU["patience"], PLATEAU["rtol"], "rel",
        PLATEAU["cooldown"], lr=LR, min_lr=min_lr,
    )  # fmt: skip
    return [ref.step(v) for v in values]


def quadratic_grads(params):
    return jax.grad(lambda p: 0.5 * jnp.sum(p["w"] ** 2))(params)


def test_epoch_by_epoch_rates_equal_pytorch_reduce_lr_on_plateau():
    opt = optax.chain(lrjax.sgd(LR), lrjax.reduce_on_plateau(**PLATEAU))
    params = {"w": jnp.arange(1.0, 4.0)}
    state = opt.init(params)

    @jax.jit
    def train_step(params, state):
        updates, state = opt.update(quadratic_grads(params), state, params)
        return optax.apply_updates(params, updates), state, updates

    report = jax.jit(lrjax.report_metric)
    want = torch_rates(VAL_LOSSES)
    got = []
    for epoch, val_loss in enumerate(VAL_LOSSES):
        rate = want[epoch - 1] if epoch else LR
        for _ in range(STEPS_PER_EPOCH):
            grads = quadratic_grads(params)
            params, state, updates = train_step(params, state)
            # The rate applied in the epoch is the one decided after the last.
            chex.assert_trees_all_close(updates, {"w": -rate * grads["w"]}, rtol=1e-6)
        state = report(state, val_loss)
        got.append(float(lrjax.get_learning_rate(state)))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert min(want) < LR / 4  # the sequence exercises several reductions


def test_nnx_optimizer_is_updated_in_place_under_nnx_jit():
    nnx = pytest.importorskip("flax.nnx")

    class Model(nnx.Module):
        def __init__(self, rngs):
            self.linear = nnx.Linear(3, 1, rngs=rngs)

        def __call__(self, x):
            return self.linear(x)

    model = Model(nnx.Rngs(0))
    opt = nnx.Optimizer(
        model,
        optax.chain(lrjax.sgd(LR), lrjax.reduce_on_plateau(**PLATEAU)),
        wrt=nnx.Param,
    )
    x = jnp.ones((8, 3))

    @nnx.jit
    def train_step(model, opt):
        grads = nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)
        opt.update(model, grads)

    @nnx.jit
    def report(opt, value):
        lrjax.report_metric(opt, value)

    got = []
    for val_loss in VAL_LOSSES:
        for _ in range(STEPS_PER_EPOCH):
            train_step(model, opt)
        report(opt, val_loss)
        got.append(float(lrjax.get_learning_rate(opt)))
    np.testing.assert_allclose(got, torch_rates(VAL_LOSSES), rtol=1e-6)
    # The opt_state itself (a tree of nnx Variables) is updated in place too.
    before = float(lrjax.get_learning_rate(opt))
    for _ in range(PLATEAU["patience"] + 2):
        lrjax.report_metric(opt.opt_state, 1e3)
    assert float(lrjax.get_learning_rate(opt)) == pytest.approx(before / 2)


def test_train_state_is_returned_replaced():
    train_state = pytest.importorskip("flax.training.train_state")
    opt = optax.chain(lrjax.adam(LR), lrjax.reduce_on_plateau(0.5, patience=0))
    ts = train_state.TrainState.create(apply_fn=None, params={"w": jnp.ones(2)}, tx=opt)
    ts = jax.jit(lrjax.report_metric)(ts, 1.0)
    ts2 = lrjax.report_metric(ts, 2.0)
    assert isinstance(ts2, train_state.TrainState)
    assert float(lrjax.get_learning_rate(ts)) == pytest.approx(LR)
    assert float(lrjax.get_learning_rate(ts2)) == pytest.approx(LR / 2)


@pytest.mark.parametrize("where", ["partition", "inject", "packed", "multi_steps"])
def test_controllers_are_found_inside_combinators(where):
    plateau = lrjax.reduce_on_plateau(0.5, patience=0)
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    if where == "partition":
        opt = optax.partition(
            {"x": optax.chain(lrjax.sgd(LR), plateau), "y": lrjax.sgd(LR)},
            {"a": "x", "b": "y"},
        )
    elif where == "inject":
        opt = optax.chain(
            lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=LR), plateau
        )
    elif where == "packed":
        opt = lrjax.packed(optax.chain(lrjax.sgd(LR), plateau), assume_elementwise=True)
    else:
        opt = optax.MultiSteps(optax.chain(lrjax.sgd(LR), plateau), 2)
    state = opt.init(params)
    for value in (1.0, 2.0, 3.0):
        state = lrjax.report_metric(state, value)
    rate = lrjax.get_learning_rate(state)
    if where == "partition":
        assert float(rate["x"]) == pytest.approx(LR / 4)
        assert float(rate["y"]) == pytest.approx(LR)
    else:
        assert float(rate) == pytest.approx(LR / 4)


def test_every_controller_in_the_state_decides_once():
    opt = optax.chain(
        lrjax.sgd(LR),
        lrjax.reduce_on_plateau(0.5, patience=0),
        lrjax.loss_adaptive_scale(increase=1.1, decrease=0.5),
    )
    state = opt.init({"w": jnp.ones(2)})
    state = lrjax.report_metric(state, 1.0)  # plateau: best; bold driver: first
    state = lrjax.report_metric(state, 0.5)  # both improve: x1 and x1.1
    state = lrjax.report_metric(state, 0.7)  # both worse: x0.5 and x0.5
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(LR * 1.1 * 0.25)


def test_bold_driver_rule_per_report():
    # Battiti's rule written out: x increase after a fall, x decrease after a
    # rise, clipped to [min_scale, max_scale]; the first report only records.
    values = [3.0, 2.0, 2.5, 2.5, 1.0, np.nan, 0.9]
    inc, dec, lo, hi = 1.2, 0.5, 0.3, 1.5
    want, scale, prev = [], 1.0, None
    for v in values:
        if not np.isfinite(v):
            scale *= dec
        elif prev is not None and v < prev:
            scale *= inc
        elif prev is not None and v > prev:
            scale *= dec
        scale = min(max(scale, lo), hi)
        prev = v if np.isfinite(v) else prev
        want.append(scale)
    opt = optax.chain(lrjax.sgd(1.0), lrjax.loss_adaptive_scale(inc, dec, lo, hi))
    state = opt.init(jnp.zeros(1))
    got = []
    for v in values:
        state = lrjax.report_metric(state, v)
        got.append(float(lrjax.get_learning_rate(state)))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_accumulation_size_averages_reports():
    opt = lrjax.reduce_on_plateau(0.5, patience=0, accumulation_size=2)
    state = opt.init({"w": jnp.ones(1)})
    for v in (1.0, 3.0, 2.0, 2.5):  # means 2.0, then 2.25: worse
        state = lrjax.report_metric(state, v)
    assert float(state.learning_rate_scale) == 0.5
    assert float(state.best_value) == 2.0


def test_per_member_metrics_under_vmap():
    opt = optax.chain(lrjax.sgd(LR), lrjax.reduce_on_plateau(0.5, patience=0))

    def run(values):
        state = opt.init(jnp.zeros(2))
        for k in range(values.shape[0]):
            state = lrjax.report_metric(state, values[k])
        return lrjax.get_learning_rate(state)

    values = jnp.array([[1.0, 0.5, 0.4], [1.0, 2.0, 3.0], [1.0, 1.0, 0.5]])
    got = jax.jit(jax.vmap(run))(values)
    np.testing.assert_allclose(got, [LR, LR / 4, LR / 2], rtol=1e-6)


def test_update_with_value_still_decides_per_update():
    # The per-step form: patience then counts updates.
    opt = optax.chain(lrjax.sgd(LR), lrjax.reduce_on_plateau(0.5, patience=1))
    params = jnp.zeros(1)
    state = opt.init(params)
    for v in (1.0, 1.0, 1.0):
        _, state = opt.update(jnp.ones(1), state, params, value=v)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(LR / 2)


def test_a_state_without_controllers_is_rejected():
    with pytest.raises(ValueError, match="no lrjax.reduce_on_plateau"):
        lrjax.report_metric(lrjax.adam(1e-3).init(jnp.zeros(2)), 1.0)
    optax_plateau = optax.contrib.reduce_on_plateau()
    with pytest.raises(ValueError, match="optax.contrib.reduce_on_plateau"):
        lrjax.report_metric(optax_plateau.init(jnp.zeros(2)), 1.0)


@pytest.mark.parametrize(
    "value, error",
    [
        (jnp.ones(2), ValueError),
        (np.ones((1, 1)), ValueError),
        ("0.5", TypeError),
        (None, TypeError),
        (1 + 2j, TypeError),
        (lambda: 1.0, TypeError),
    ],
)
def test_bad_values_are_rejected_naming_value(value, error):
    state = lrjax.reduce_on_plateau().init(jnp.zeros(1))
    with pytest.raises(error, match="value"):
        lrjax.report_metric(state, value)


def test_eager_calls_after_the_first_compile_nothing(caplog):
    # Once per epoch, eagerly, as PyTorch's scheduler.step(val_loss): every
    # decision after the first reuses the compiled conditional (a fresh
    # lambda branch per call used to recompile it, 100-200 ms each).
    for controller in (
        lrjax.reduce_on_plateau(patience=1),
        lrjax.loss_adaptive_scale(),
    ):
        state = optax.chain(lrjax.sgd(0.1), controller).init(jnp.zeros(3))
        state = lrjax.report_metric(state, 1.0)
        with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
            caplog.clear()
            for value in (0.9, 1.1, 1.2):
                state = lrjax.report_metric(state, value)
        assert not [r for r in caplog.records if "Compiling" in r.getMessage()]


def test_a_plain_state_built_from_an_nnx_state_is_replaced_not_updated():
    # The init of lrjax.sweep on an nnx model returns nnx.split(model)[1]: an
    # nnx.State of nnx.Param boxes. The optax state built from it boxes its
    # moments but not its counts, so it is a plain tree: report_metric
    # returns the decided state (it used to try an in-place nnx.update and
    # fail on the count of an immutable NamedTuple).
    from flax import nnx

    params = nnx.split(nnx.Linear(2, 1, rngs=nnx.Rngs(0)))[1]
    opt = optax.chain(
        lrjax.sgd(0.1, momentum=0.9), lrjax.reduce_on_plateau(0.5, patience=0)
    )
    state = opt.init(params)
    structure = jax.tree_util.tree_structure(state)
    rates = []
    for value in (1.0, 2.0, 3.0):  # worse and worse: patience 0 halves each time
        state = lrjax.report_metric(state, value)
        # The same tree, boxes included: it can be a lax.scan carry.
        assert jax.tree_util.tree_structure(state) == structure
        rates.append(float(lrjax.get_learning_rate(state)))
    np.testing.assert_allclose(rates, [0.1, 0.05, 0.025], rtol=1e-6)
    # The nnx.Optimizer's own opt_state (every leaf boxed) is still updated
    # in place.
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, opt, wrt=nnx.Param)
    for value in (1.0, 2.0):
        lrjax.report_metric(optimizer.opt_state, value)
    np.testing.assert_allclose(
        float(lrjax.get_learning_rate(optimizer)), 0.05, rtol=1e-6
    )
