"""State helpers inside Flax nnx: the same answers as on plain dicts.

Each helper that reads or rewrites optimizer state is given an
``nnx.Optimizer`` (or its ``opt_state``) and the model (or
``nnx.state(model, nnx.Param)``) after a few training steps, and compared with
the same run on plain dicts; its result must load with ``nnx.update``.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

nnx = pytest.importorskip("flax.nnx")

X = jnp.asarray(np.random.RandomState(0).randn(16, 3), jnp.float32)
Y = jnp.asarray(np.random.RandomState(1).randn(16, 1), jnp.float32)


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 8, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.tanh(self.hidden(x)))


def loss(model):
    return jnp.mean((model(X) - Y) ** 2)


def trained_both_ways(tx, steps=4):
    """(model, nnx.Optimizer, plain params, plain state) after ``steps`` updates."""
    model = MLP(nnx.Rngs(0))
    graphdef, param_state = nnx.split(model)
    params = nnx.to_pure_dict(param_state)  # plain nested dicts of arrays
    state = tx.init(params)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @jax.jit
    def plain_step(params, state):
        grads = jax.grad(lambda p: loss(nnx.merge(graphdef, p)))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    @nnx.jit
    def nnx_step(model, opt):
        opt.update(model, nnx.grad(loss)(model))

    for _ in range(steps):
        params, state = plain_step(params, state)
        nnx_step(model, opt)
    return model, opt, params, state


def assert_matches_plain(nnx_result, plain_result, model):
    chex.assert_trees_all_close(
        nnx.to_pure_dict(nnx_result), plain_result, rtol=1e-5, atol=1e-7
    )
    before = loss(model)
    nnx.update(model, nnx_result)  # loads into the model
    chex.assert_trees_all_close(
        nnx.to_pure_dict(nnx.state(model, nnx.Param)), plain_result, rtol=1e-5
    )
    assert loss(model) != before


def test_schedule_free_eval_params():
    model, opt, params, state = trained_both_ways(lrjax.schedule_free_adamw(0.05))
    want = lrjax.schedule_free_eval_params(state, params)
    given_objects = lrjax.schedule_free_eval_params(opt, model)
    given_states = lrjax.schedule_free_eval_params(
        opt.opt_state, nnx.state(model, nnx.Param)
    )
    chex.assert_trees_all_equal(given_objects, given_states)
    assert_matches_plain(given_objects, want, model)


@pytest.mark.parametrize("average", ["ema", "polyak", "packed_ema"])
def test_averaged_params(average):
    if average == "polyak":
        tx = optax.chain(lrjax.sgd(0.1), lrjax.polyak_averaging())
    else:
        tx = optax.chain(lrjax.sgd(0.1), lrjax.ema_params(0.8))
    if average == "packed_ema":
        tx = lrjax.packed(tx, min_size=64, assume_elementwise=True)
    model, opt, params, state = trained_both_ways(tx)
    want = lrjax.averaged_params(state)
    chex.assert_trees_all_equal(
        lrjax.averaged_params(opt), lrjax.averaged_params(opt.opt_state)
    )
    assert_matches_plain(lrjax.averaged_params(opt), want, model)


@pytest.mark.parametrize("packed", [False, True])
def test_get_learning_rate_and_report_metric(packed):
    tx = optax.chain(lrjax.adam(0.01), lrjax.reduce_on_plateau(0.5, patience=0))
    if packed:
        tx = lrjax.packed(tx, min_size=64, assume_elementwise=True)
    model, opt, params, state = trained_both_ways(tx)
    for value in (1.0, 2.0):
        state = lrjax.report_metric(state, value)
        assert lrjax.report_metric(opt, value) is opt
    chex.assert_trees_all_close(
        lrjax.get_learning_rate(opt), lrjax.get_learning_rate(state)
    )
    assert float(lrjax.get_learning_rate(opt)) == pytest.approx(0.005)
    # The next step applies the reduced rate.
    opt.update(model, nnx.grad(loss)(model))
    assert float(lrjax.get_learning_rate(opt)) == pytest.approx(0.005)
