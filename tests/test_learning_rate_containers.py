"""get_learning_rate wherever the state lives: Flax, optax combinators, orbax.

Each expected rate is written out in the test (a schedule's formula, the
constants passed, or reduce-on-plateau's decisions replayed by hand).
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.training import train_state

import lrjax

PARAMS = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array([0.3, 0.1])}
GRADS = {"w": jnp.array([0.5, 1.0, -2.0]), "b": jnp.array([1.0, -0.5])}
LABELS = {"w": "weights", "b": "biases"}


def decay(t):
    """The schedule under test, and its formula: 0.1 * 0.8**t."""
    return 0.1 * 0.8**t


def test_nnx_optimizer_and_its_opt_state_eager_and_under_nnx_jit():
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(
        model, lrjax.sgd(lrjax.exponential_decay(0.1, 1, 0.8)), wrt=nnx.Param
    )
    x = jnp.array([[1.0, -1.0, 2.0]])
    loss = lambda m: jnp.sum(m(x) ** 2)
    np.testing.assert_allclose(lrjax.get_learning_rate(optimizer), decay(0), rtol=1e-6)

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(loss)(model)
        optimizer.update(model, grads)
        return (
            grads,
            lrjax.get_learning_rate(optimizer),
            lrjax.get_learning_rate(optimizer.opt_state),
        )

    for t in range(4):
        kernel = np.asarray(model.kernel[...])
        grads, in_jit, in_jit_state = step(model, optimizer)
        # The rate read is the one the update applied: w <- w - lr * g.
        np.testing.assert_allclose(
            model.kernel[...], kernel - decay(t) * grads["kernel"][...], rtol=1e-6
        )
        for got in (
            in_jit,
            in_jit_state,
            lrjax.get_learning_rate(optimizer),
            lrjax.get_learning_rate(optimizer.opt_state),
        ):
            np.testing.assert_allclose(got, decay(t), rtol=1e-6)


def test_flax_train_state_and_its_opt_state():
    state = train_state.TrainState.create(
        apply_fn=None,
        params=PARAMS,
        tx=lrjax.adam(lrjax.exponential_decay(0.1, 1, 0.8)),
    )
    apply = jax.jit(lambda s: s.apply_gradients(grads=GRADS))
    for t in range(3):
        state = apply(state)
        np.testing.assert_allclose(lrjax.get_learning_rate(state), decay(t), rtol=1e-6)
        np.testing.assert_allclose(
            lrjax.get_learning_rate(state.opt_state), decay(t), rtol=1e-6
        )


@pytest.mark.parametrize("combinator", [optax.multi_transform, optax.partition])
def test_partition_branches_are_reported_per_label_never_multiplied(combinator):
    tx = combinator({"weights": lrjax.adam(1e-2), "biases": lrjax.sgd(1e-1)}, LABELS)
    state = tx.init(PARAMS)
    _, state = tx.update(GRADS, state, PARAMS)
    got = lrjax.get_learning_rate(state)
    assert set(got) == {"weights", "biases"}
    np.testing.assert_allclose(got["weights"], 1e-2, rtol=1e-6)
    np.testing.assert_allclose(got["biases"], 1e-1, rtol=1e-6)
    jitted = jax.jit(lrjax.get_learning_rate)(state)
    np.testing.assert_allclose(jitted["biases"], 1e-1, rtol=1e-6)


def test_partition_labels_without_a_rate_are_left_out_and_outer_rates_multiply():
    # A frozen branch records no rate and is left out ...
    branches = {"weights": lrjax.sgd(0.5), "biases": optax.set_to_zero()}
    got = lrjax.get_learning_rate(optax.partition(branches, LABELS).init(PARAMS))
    assert set(got) == {"weights"}
    np.testing.assert_allclose(got["weights"], 0.5, rtol=1e-6)
    # ... and a rate chained after the partition multiplies every branch.
    tx = optax.chain(
        optax.partition(branches, LABELS),
        lrjax.scale_by_learning_rate(0.2, flip_sign=False),
    )
    got = lrjax.get_learning_rate(tx.init(PARAMS))
    assert set(got) == {"weights", "biases"}
    np.testing.assert_allclose(got["weights"], 0.5 * 0.2, rtol=1e-6)
    np.testing.assert_allclose(got["biases"], 0.2, rtol=1e-6)


def test_plain_dict_of_separate_optimizer_states_is_read_per_key():
    states = {
        "generator": lrjax.adam(2e-4).init(PARAMS),
        "discriminator": lrjax.sgd(1e-3).init(PARAMS),
    }
    got = lrjax.get_learning_rate(states)
    np.testing.assert_allclose(got["generator"], 2e-4, rtol=1e-6)
    np.testing.assert_allclose(got["discriminator"], 1e-3, rtol=1e-6)


def _plateau_scales(values, factor, patience, rtol):
    """reduce_on_plateau's scale after each value, replayed from its rule."""
    best, waited, scale, out = math.inf, 0, 1.0, []
    for v in values:
        if v < (1 - rtol) * best:
            best, waited = v, 0
        else:
            waited += 1
        if waited == patience:
            scale, waited = scale * factor, 0
        out.append(scale)
    return out


def test_reduce_on_plateau_scale_multiplies_the_rate_on_its_path():
    values = [3.0, 2.0, 2.5, 2.0, 2.1, 2.2, 1.0, 1.5, 1.2, 1.1]
    expected = _plateau_scales(values, factor=0.5, patience=2, rtol=1e-4)
    assert expected[-1] == 0.125  # the run reduces three times
    tx = optax.chain(
        lrjax.sgd(0.8), optax.contrib.reduce_on_plateau(factor=0.5, patience=2)
    )
    state = tx.init(PARAMS)
    step = jax.jit(lambda s, v: tx.update(GRADS, s, PARAMS, value=v))
    for v, scale in zip(values, expected, strict=True):
        updates, state = step(state, jnp.asarray(v))
        np.testing.assert_allclose(state[1].scale, scale)
        np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.8 * scale)
        # ... and it is the rate the update applied.
        np.testing.assert_allclose(updates["w"], -0.8 * scale * GRADS["w"], rtol=1e-6)


def test_reduce_on_plateau_after_a_partition_scales_every_branch():
    tx = optax.chain(
        optax.partition(
            {"weights": lrjax.adam(1e-2), "biases": lrjax.sgd(1e-1)}, LABELS
        ),
        optax.contrib.reduce_on_plateau(factor=0.5, patience=1),
    )
    state = tx.init(PARAMS)
    for v in [1.0, 1.0]:  # the second value does not improve: scale 0.5
        _, state = tx.update(GRADS, state, PARAMS, value=jnp.asarray(v))
    got = lrjax.get_learning_rate(state)
    np.testing.assert_allclose(got["weights"], 1e-2 * 0.5, rtol=1e-6)
    np.testing.assert_allclose(got["biases"], 1e-1 * 0.5, rtol=1e-6)


def test_inject_hyperparams_of_an_optax_optimizer_reads_its_rate():
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=decay)
    state = tx.init(PARAMS)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), decay(0), rtol=1e-6)
    for t in range(3):
        _, state = tx.update(GRADS, state, PARAMS)
        np.testing.assert_allclose(lrjax.get_learning_rate(state), decay(t), rtol=1e-6)


def test_inject_hyperparams_of_an_lrjax_optimizer_is_not_counted_twice():
    tx = optax.inject_hyperparams(lrjax.sgd)(learning_rate=decay)
    state = tx.init(PARAMS)
    for t in range(3):
        _, state = tx.update(GRADS, state, PARAMS)
        np.testing.assert_allclose(lrjax.get_learning_rate(state), decay(t), rtol=1e-6)


def test_optax_tree_get_on_an_injected_lrjax_state_as_documented():
    # The rate is held twice (equal values): optax.tree.get refuses the
    # duplicate, and the two documented selections each give it.
    state = optax.inject_hyperparams(lrjax.sgd)(learning_rate=0.3).init(PARAMS)
    with pytest.raises(KeyError, match="multiple values"):
        optax.tree.get(state, "learning_rate")
    injected = optax.tree.get(state, "hyperparams")["learning_rate"]
    recorded = optax.tree.get(state, "ScaleByLearningRateState").learning_rate
    np.testing.assert_allclose([injected, recorded], [0.3, 0.3], rtol=1e-6)


def test_batched_partition_and_plateau_state_under_vmap():
    def run(rate):
        tx = optax.chain(
            optax.partition(
                {"weights": lrjax.sgd(rate), "biases": lrjax.sgd(0.1)}, LABELS
            ),
            optax.contrib.reduce_on_plateau(factor=0.5, patience=1),
        )
        state = tx.init(PARAMS)
        for v in [1.0, 1.0]:
            _, state = tx.update(GRADS, state, PARAMS, value=jnp.asarray(v))
        return state

    rates = jnp.array([0.2, 0.4, 0.6])
    states = jax.vmap(run)(rates)
    got = lrjax.get_learning_rate(states)
    np.testing.assert_allclose(got["weights"], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(got["biases"], [0.05, 0.05, 0.05], rtol=1e-6)
    in_vmap = jax.vmap(lambda r: lrjax.get_learning_rate(run(r)))(rates)
    np.testing.assert_allclose(in_vmap["weights"], [0.1, 0.2, 0.3], rtol=1e-6)


@pytest.mark.parametrize(
    "tx",
    [
        optax.adam(1e-3),
        optax.partition({"weights": optax.sgd(0.1), "biases": optax.adam(0.1)}, LABELS),
        optax.chain(optax.sgd(0.1), optax.contrib.reduce_on_plateau()),
    ],
    ids=["adam", "partition", "plateau_without_rate"],
)
def test_no_rate_raises_a_clear_value_error(tx):
    with pytest.raises(ValueError, match="records no learning rate"):
        lrjax.get_learning_rate(tx.init(PARAMS))
    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="inject_hyperparams"):
        lrjax.get_learning_rate(nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param))


@pytest.mark.slow
def test_orbax_checkpoint_continues_bit_identically_in_a_fresh_process(tmp_path):
    import checkpoint_training as ct
    import orbax.checkpoint as ocp

    opt = ct.OPTIMIZER
    params = ct.init_params()
    params, opt_state = ct.train(params, opt.init(params), 0, 5)
    checkpointer = ocp.StandardCheckpointer()
    ckpt = tmp_path / "ckpt"
    checkpointer.save(
        ckpt, {"params": params, "opt_state": opt_state, "step": jnp.asarray(5)}
    )
    checkpointer.wait_until_finished()

    out = tmp_path / "continued.npz"
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), str(repo / "tests")]))
    subprocess.run(
        [
            sys.executable,
            str(repo / "tests" / "checkpoint_training.py"),
            str(ckpt),
            "6",
            str(out),
        ],
        check=True,
        cwd=repo,
        env=env,
        timeout=300,
    )
    fresh = np.load(out)
    here = ct.as_arrays(*ct.train(params, opt_state, 5, 6))
    assert set(fresh.files) == set(here)
    for name, value in here.items():
        np.testing.assert_array_equal(fresh[name], value, err_msg=name)
    # The 11th update applied schedule(10): the cosine part at 7 of 17 steps.
    cosine = 0.5 * (1 + math.cos(math.pi * 7 / 17))
    np.testing.assert_allclose(
        here["learning_rate"], 1e-3 + (0.05 - 1e-3) * cosine, rtol=1e-5
    )
