"""lrjax.inject_hyperparams: optax's convention, float32 hyperparameters."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax import _numerics as num

SCHED = optax.linear_schedule(0.1, 0.01, 10)
PARAMS = {"w": jnp.asarray([1.0, -2.0, 0.5]), "b": jnp.asarray([[0.3, -0.7]])}


def grads_at(t):
    # Gradients that keep their sign (Adam-like steps stay comparable).
    return {
        "w": jnp.asarray([0.5, -1.0, 2.0]) * (1.0 + 0.1 * t),
        "b": jnp.asarray([[1.5, -0.25]]) / (1.0 + 0.2 * t),
    }


def run(opt, steps, params=PARAMS, jit=True, **extra):
    state = opt.init(params)
    update = jax.jit(opt.update) if jit else opt.update
    out = []
    for t in range(steps):
        u, state = update(grads_at(t), state, params, **extra)
        out.append(u)
    return out, state


def assert_updates_close(got, want, rtol=1e-5):
    for g, w in zip(got, want, strict=True):
        chex.assert_trees_all_close(g, w, rtol=rtol, atol=1e-7)


# --------------------------------------------------------------------------
# Values: against optax's same-named optimizers.


@pytest.mark.parametrize("lr", [0.05, SCHED], ids=["constant", "schedule"])
def test_injected_lrjax_adam_matches_optax_adam(lr):
    got, state = run(lrjax.inject_hyperparams(lrjax.adam)(learning_rate=lr, b1=0.8), 10)
    want, _ = run(optax.adam(lr, b1=0.8), 10)
    assert_updates_close(got, want)
    assert isinstance(state, lrjax.InjectHyperparamsState)
    assert state._fields == ("count", "hyperparams", "inner_state")


def test_hyperparams_hold_float32_values_and_the_schedule_used():
    opt = lrjax.inject_hyperparams(lrjax.adam)(learning_rate=SCHED, b2=0.99)
    state = opt.init(PARAMS)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.1)
    for t in range(4):
        _, state = opt.update(grads_at(t), state, PARAMS)
        lr = state.hyperparams["learning_rate"]
        assert lr.dtype == jnp.float32
        assert float(lr) == pytest.approx(float(SCHED(t)), rel=1e-6)
    assert state.hyperparams["b2"].dtype == jnp.float32
    assert float(state.hyperparams["b2"]) == pytest.approx(0.99)
    # Booleans are not hyperparameters (optax's rule) and stay Python values.
    assert "nesterov" not in state.hyperparams
    assert int(state.count) == 4


def test_assigning_a_scheduled_value_has_no_effect():
    opt = lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=SCHED)
    state = opt.init(PARAMS)
    state.hyperparams["learning_rate"] = jnp.float32(100.0)
    u, state = opt.update(grads_at(0), state, PARAMS)
    np.testing.assert_allclose(u["w"], -0.1 * grads_at(0)["w"], rtol=1e-6)


@pytest.mark.parametrize("lr", [0.05, SCHED], ids=["constant", "schedule"])
def test_get_learning_rate_reads_the_injected_rate(lr):
    rate = (lambda t: float(SCHED(t))) if callable(lr) else (lambda t: lr)
    opt = lrjax.inject_hyperparams(lrjax.adam)(learning_rate=lr)
    state = opt.init(PARAMS)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(rate(0), rel=1e-6)
    update = jax.jit(opt.update)
    for t in range(5):
        _, state = update(grads_at(t), state, PARAMS)
        got = float(lrjax.get_learning_rate(state))
        assert got == pytest.approx(rate(t), rel=1e-6)


def test_get_learning_rate_on_an_injected_optax_optimizer():
    # No inner block records a rate: the one in hyperparams is it.
    opt = lrjax.inject_hyperparams(optax.sgd)(learning_rate=SCHED, momentum=0.9)
    _, state = run(opt, 3)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(float(SCHED(2)))


# --------------------------------------------------------------------------
# Changing values between compiled steps.


def test_changing_a_constant_between_jitted_steps_does_not_recompile():
    opt = lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=0.1, momentum=0.5)
    traces = []

    @jax.jit
    def step(state, g):
        traces.append(1)
        return opt.update(g, state, PARAMS)

    state = opt.init(PARAMS)
    u, state = step(state, grads_at(0))
    state.hyperparams["learning_rate"] = jnp.float32(0.5)
    state.hyperparams["momentum"] = jnp.float32(0.0)
    u, state = step(state, grads_at(1))
    assert len(traces) == 1
    # The new values are used: no momentum left, rate 0.5.
    np.testing.assert_allclose(u["w"], -0.5 * grads_at(1)["w"], rtol=1e-6)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(0.5)


# --------------------------------------------------------------------------
# Float32 hyperparameters with bf16 parameters (optax casts to bf16).


def _bf16(tree):
    return jax.tree_util.tree_map(lambda x: x.astype(jnp.bfloat16), tree)


def test_bf16_params_keep_b2_in_float32_and_adam_nu_moves():
    params = _bf16(PARAMS)
    g = _bf16(grads_at(0))
    opt = lrjax.inject_hyperparams(optax.adam)(learning_rate=1e-3, b2=0.999)
    state = opt.init(params)
    u, state = opt.update(g, state, params)
    b2 = state.hyperparams["b2"]
    assert b2.dtype == jnp.float32 and float(b2) == pytest.approx(0.999)
    nu = state.inner_state[0].nu["w"]
    want = 0.001 * np.square(np.asarray(g["w"], np.float64))
    np.testing.assert_allclose(np.asarray(nu, np.float64), want, rtol=1e-2)
    assert u["w"].dtype == jnp.bfloat16

    # optax.inject_hyperparams rounds b2 to bf16: exactly 1, and nu never moves.
    optax_opt = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3, b2=0.999)
    optax_state = optax_opt.init(params)
    _, optax_state = optax_opt.update(g, optax_state, params)
    assert float(optax_state.hyperparams["b2"]) == 1.0
    assert not np.any(np.asarray(optax_state.inner_state[0].nu["w"], np.float32))


def test_updates_come_back_in_the_gradient_dtype():
    # optax.scale multiplies by the float32 step size: bf16 * f32 -> f32.
    params = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(2, jnp.float32)}
    opt = lrjax.inject_hyperparams(optax.scale)(step_size=0.5)
    u, _ = opt.update(params, opt.init(params), params)
    assert u["a"].dtype == jnp.bfloat16 and u["b"].dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(u["a"], np.float32), 0.5)


# --------------------------------------------------------------------------
# lrjax optimizers under optax.inject_hyperparams.


@pytest.mark.parametrize(
    "name, kwargs",
    [("adam", {"b1": 0.8}), ("sgd", {"momentum": 0.9}), ("rmsprop", {"decay": 0.8})],
)
def test_lrjax_optimizers_work_under_optax_inject_hyperparams(name, kwargs):
    opt = optax.inject_hyperparams(getattr(lrjax, name))(learning_rate=SCHED, **kwargs)
    got, state = run(opt, 10)
    want, _ = run(getattr(optax, name)(SCHED, **kwargs), 10)
    assert_updates_close(got, want)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(float(SCHED(9)))


def test_lrjax_sgd_under_optax_inject_hyperparams_with_bf16_params():
    # optax casts momentum=0.9 to bf16 (0.8984375); lrjax's argument checks
    # used to reject bf16 arrays as "not a real number".
    params = _bf16(PARAMS)
    opt = optax.inject_hyperparams(lrjax.sgd)(learning_rate=0.1, momentum=0.9)
    state = opt.init(params)
    u, state = opt.update(_bf16(grads_at(0)), state, params)
    assert u["w"].dtype == jnp.bfloat16
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(0.1, rel=1e-2)


def test_lrjax_adam_refuses_optax_bf16_b2_of_one():
    # optax rounds b2=0.999 to 1.0 for bf16 params; lrjax's check says so
    # instead of letting Adam's second moment freeze silently.
    params = _bf16(PARAMS)
    opt = optax.inject_hyperparams(lrjax.adam)(learning_rate=0.1)
    with pytest.raises(ValueError, match=r"b2 must be in \[0.0, 1.0\), got 1.0"):
        opt.init(params)


# --------------------------------------------------------------------------
# Arguments that are not hyperparameters.


def test_static_args_and_extra_args_are_passed_through():
    def factory(learning_rate, transform_fn, patience):
        return optax.chain(
            optax.stateless(lambda u, p: jax.tree_util.tree_map(transform_fn, u)),
            lrjax.sgd(learning_rate),
            lrjax.reduce_on_plateau(factor=0.5, patience=patience),
        )

    opt = lrjax.inject_hyperparams(factory, static_args="transform_fn")(
        learning_rate=0.1, transform_fn=jnp.sign, patience=0
    )
    state = opt.init(PARAMS)
    assert set(state.hyperparams) == {"learning_rate", "patience"}
    assert state.hyperparams["patience"].dtype == jnp.int32
    update = jax.jit(opt.update)
    for v in (1.0, 2.0):
        u, state = update(grads_at(0), state, PARAMS, value=v)
    # sign(g) * 0.1, halved once by the plateau controller.
    np.testing.assert_allclose(u["w"], -0.05 * np.sign(grads_at(0)["w"]), rtol=1e-6)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(0.05)


class VariantsTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True, with_pmap=True)
    def test_three_steps_match_optax(self):
        opt = lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=SCHED, momentum=0.9)
        ref = optax.sgd(SCHED, momentum=0.9)

        @self.variant
        def three_steps(params):
            state = opt.init(params)
            for t in range(3):
                u, state = opt.update(grads_at(t), state, params)
            return u, state.hyperparams["learning_rate"]

        u, lr = three_steps(PARAMS)
        want, _ = run(ref, 3)
        chex.assert_trees_all_close(u, want[-1], rtol=1e-6)
        np.testing.assert_allclose(lr, SCHED(2), rtol=1e-6)


def test_vmap_over_injected_rates():
    opt = lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=0.1)

    def update_with_rate(lr):
        state = opt.init(PARAMS)
        state.hyperparams["learning_rate"] = lr
        u, _ = opt.update(grads_at(0), state, PARAMS)
        return u["w"]

    got = jax.vmap(update_with_rate)(jnp.asarray([0.1, 0.2], jnp.float32))
    np.testing.assert_allclose(got, [-0.1 * grads_at(0)["w"], -0.2 * grads_at(0)["w"]])


def test_counter_saturates():
    opt = lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=SCHED)
    state = opt.init(PARAMS)._replace(count=jnp.asarray(num.COUNT_MAX, jnp.int32))
    _, state = opt.update(grads_at(0), state, PARAMS)
    assert int(state.count) == num.COUNT_MAX
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.01)


# --------------------------------------------------------------------------
# Validation.


def test_rejects_a_factory_that_is_not_callable():
    with pytest.raises(TypeError, match="factory"):
        lrjax.inject_hyperparams(lrjax.adam(0.1))


def test_rejects_static_args_the_factory_lacks():
    with pytest.raises(ValueError, match="static_args.*'momentm'"):
        lrjax.inject_hyperparams(lrjax.sgd, static_args=("momentm",))


def test_bad_hyperparameter_is_rejected_when_built():
    with pytest.raises(ValueError, match="learning_rate"):
        lrjax.inject_hyperparams(lrjax.adam)(learning_rate=-1.0)
    with pytest.raises(ValueError, match="b1"):
        lrjax.inject_hyperparams(lrjax.adam)(learning_rate=SCHED, b1=1.5)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError, match="b3"):
        lrjax.inject_hyperparams(lrjax.adam)(learning_rate=0.1, b3=0.5)


def test_stateful_schedules_keep_their_state():
    # optax's StatefulSchedule protocol; its state rides in the inject state.
    class Stateful:
        def init(self):
            return jnp.zeros([], jnp.float32)

        def update(self, state, **extra):
            return state + extra["value"]

        def __call__(self, state, **extra):
            return 0.1 + state

    opt = lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=Stateful())
    state = opt.init(PARAMS)
    assert isinstance(state, lrjax.InjectStatefulHyperparamsState)
    u, state = opt.update(grads_at(0), state, PARAMS, value=0.5)
    np.testing.assert_allclose(u["w"], -0.1 * grads_at(0)["w"], rtol=1e-6)
    u, state = opt.update(grads_at(0), state, PARAMS, value=0.5)
    np.testing.assert_allclose(u["w"], -0.6 * grads_at(0)["w"], rtol=1e-6)
    assert float(state.hyperparams_states["learning_rate"]) == pytest.approx(1.0)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(0.6)
