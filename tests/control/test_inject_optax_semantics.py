"""lrjax.inject_hyperparams against optax.inject_hyperparams, case by case.

The cases of optax's own test file for ``inject_hyperparams`` (schedules,
constants, overrides, static arguments, PRNG keys, ``hyperparam_dtype``,
stateful schedules), each run through both wrappers on the same inputs, with
optax as the reference. Where lrjax deliberately differs (float
hyperparameters stay at least float32 when ``hyperparam_dtype`` is None), the
test says so and checks lrjax's documented behaviour.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

WRAPPERS = {"lrjax": lrjax.inject_hyperparams, "optax": optax.inject_hyperparams}


def both(factory, **wrapper_kwargs):
    """``factory`` wrapped by lrjax and by optax; called with hyperparameters it
    gives ``{"lrjax": tx, "optax": tx}``."""
    wrapped = {k: wrap(factory, **wrapper_kwargs) for k, wrap in WRAPPERS.items()}
    return lambda *args, **kwargs: {k: w(*args, **kwargs) for k, w in wrapped.items()}


def updates_and_states(tx, grads, params, steps, *, pass_params=True, extra=None):
    """Runs ``steps`` jitted updates; returns every update and every state."""
    extra = extra or {}
    state = jax.jit(tx.init)(params)
    update = jax.jit(tx.update)
    outs, states = [], [state]
    for _ in range(steps):
        u, state = update(grads, state, params if pass_params else None, **extra)
        outs.append(u)
        states.append(state)
    return outs, states


# --------------------------------------------------------------------------
# Schedules and constants.


def test_scheduled_step_size_matches_optax():
    # A piecewise constant schedule, with a no-op map over the state first.
    schedule = optax.piecewise_constant_schedule(3.0, {1: 5, 7: 2, 12: 1.5})
    params = [jnp.zeros([], jnp.float32)]
    grads = [jnp.ones([], jnp.float32)]
    got = {}
    for name, tx in both(optax.scale)(step_size=schedule).items():
        state = jax.jit(tx.init)(params)
        state = optax.tree.map_params(tx, lambda v: v, state)
        update = jax.jit(tx.update)
        got[name] = []
        for _ in range(15):
            u, state = update(grads, state, params)
            got[name].append(float(u[0]))
    # 3 until step 1, then x5, x2 from step 7, x1.5 from step 12.
    want = [3.0] + [15.0] * 6 + [30.0] * 5 + [45.0] * 3
    np.testing.assert_allclose(got["lrjax"], want)
    np.testing.assert_allclose(got["lrjax"], got["optax"])


def test_scheduled_decay_is_recorded_before_each_update_as_in_optax():
    schedule = optax.piecewise_constant_schedule(0.8, {3: 0.5, 9: 1.25})
    params = [jnp.zeros([2, 3]) for _ in range(3)]
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    recorded = {}
    for name, tx in both(optax.trace)(decay=schedule, nesterov=True).items():
        _, states = updates_and_states(tx, grads, params, 12, pass_params=False)
        recorded[name] = [float(s.hyperparams["decay"]) for s in states]
    np.testing.assert_allclose(
        recorded["lrjax"], [0.8] * 4 + [0.4] * 6 + [0.5] * 3, rtol=1e-6
    )
    np.testing.assert_allclose(recorded["lrjax"], recorded["optax"], rtol=1e-6)


def test_constant_hyperparams_are_all_injected_as_in_optax():
    params = [jnp.zeros([2, 3]) for _ in range(3)]
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    runs = {
        name: updates_and_states(tx, grads, params, 5)
        for name, tx in both(optax.scale_by_adam)(b1=0.0, b2=0.0).items()
    }
    (lr_out, lr_states), (ox_out, ox_states) = runs["lrjax"], runs["optax"]
    for state in lr_states[1:]:
        assert set(state.hyperparams) == set(ox_states[-1].hyperparams)
        assert {"b1", "b2", "eps", "eps_root"} <= set(state.hyperparams)
        for key, want in {"b1": 0.0, "b2": 0.0, "eps": 1e-8, "eps_root": 0.0}.items():
            np.testing.assert_allclose(state.hyperparams[key], want, rtol=1e-6)
    for got, want in zip(lr_out, ox_out, strict=True):
        chex.assert_trees_all_close(got, want, rtol=1e-6)
        # With b1 = b2 = 0 Adam's update is g / |g| = 1.
        chex.assert_trees_all_close(got, grads, rtol=1e-6)


def test_overriding_a_constant_between_steps_as_in_optax():
    params = jnp.zeros((3, 5, 7))
    grads = jnp.ones_like(params)
    norms = {}
    for name, tx in both(optax.clip_by_global_norm)(0.1).items():
        state = jax.jit(tx.init)(params)
        update = jax.jit(tx.update)
        norms[name] = []
        for i in range(5):
            state.hyperparams["max_norm"] = i
            u, state = update(grads, state)
            norms[name].append(float(jnp.linalg.norm(u.ravel())))
    np.testing.assert_allclose(norms["lrjax"], range(5), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(norms["lrjax"], norms["optax"], rtol=1e-6, atol=1e-6)


def test_first_update_is_at_step_count_zero_as_in_optax():
    # A schedule returning its step: at the first update the update is zero.
    params = jnp.zeros(3)
    grads = jnp.array([-1.0, 0.0, 1.0])
    for name, tx in both(optax.scale)(lambda count: count).items():
        u, _ = jax.jit(tx.update)(grads, tx.init(params))
        np.testing.assert_array_equal(u, np.zeros(3), err_msg=name)


# --------------------------------------------------------------------------
# Arguments that are not hyperparameters.


@pytest.mark.parametrize("static_args", ["mask", ["mask"]], ids=["string", "list"])
def test_callable_static_args_stay_out_of_the_state(static_args):
    def masked_rate(learning_rate, mask):
        return optax.masked(optax.scale(-learning_rate), mask)

    params = [jnp.ones((1, 2)), jnp.ones(2), jnp.ones((1, 1, 1))]
    mask = functools.partial(jax.tree_util.tree_map, lambda x: x.ndim > 1)
    got = {}
    for name, wrap in WRAPPERS.items():
        tx = wrap(masked_rate, static_args=static_args)(0.1, mask)
        state = jax.jit(tx.init)(params)
        got[name], state = jax.jit(tx.update)(params, state)
        assert set(state.hyperparams) == {"learning_rate"}, name
    want = [-0.1 * params[0], params[1], -0.1 * params[2]]
    chex.assert_trees_all_close(got["lrjax"], want, rtol=1e-6)
    chex.assert_trees_all_close(got["lrjax"], got["optax"], rtol=1e-6)


@pytest.mark.parametrize("static_args", ["b1", ["b1", "b2"]], ids=["one", "two"])
def test_numeric_static_args_stay_out_of_the_state(static_args):
    names = {static_args} if isinstance(static_args, str) else set(static_args)
    params = [jnp.ones((1, 2)), jnp.ones(2), jnp.ones((1, 1, 1))]
    got = {}
    for name, wrap in WRAPPERS.items():
        tx = wrap(optax.scale_by_adam, static_args=static_args)(b1=0.9, b2=0.95)
        state = jax.jit(tx.init)(params)
        got[name], state = jax.jit(tx.update)(params, state)
        assert not names & set(state.hyperparams), name
    chex.assert_trees_all_close(got["lrjax"], got["optax"], rtol=1e-6)


@pytest.mark.parametrize("static_args", ["lr", ["lr"]], ids=["string", "list"])
def test_static_args_the_factory_lacks_are_a_value_error(static_args):
    for wrap in WRAPPERS.values():
        with pytest.raises(ValueError):
            wrap(optax.scale, static_args=static_args)


def _noise(key, scale):
    """A transformation whose state is a PRNG key and a scale (optax's case)."""

    def init_fn(params):
        del params
        return key, scale

    def update_fn(updates, state, params=None):
        del params
        key, scale = state
        keys = iter(jax.random.split(key, len(jax.tree_util.tree_leaves(updates)) + 1))
        noisy = jax.tree_util.tree_map(
            lambda x: scale * jax.random.normal(next(keys), x.shape), updates
        )
        return noisy, (next(keys), scale)

    return optax.GradientTransformation(init_fn, update_fn)


@pytest.mark.parametrize(
    "make_key",
    [lambda: jax.random.key(17), lambda: jax.random.PRNGKey(17)],
    ids=["typed_key", "raw_key"],
)
def test_prng_key_argument_works_as_in_optax(make_key):
    params = [jnp.ones((1, 2)), jnp.ones(2), jnp.ones((1, 1, 1))]
    got = {}
    for name, tx in both(_noise)(key=make_key(), scale=1e-3).items():
        state = jax.jit(tx.init)(params)
        got[name], _ = jax.jit(tx.update)(params, state)
    chex.assert_trees_all_close(got["lrjax"], got["optax"], rtol=1e-5)


# --------------------------------------------------------------------------
# hyperparam_dtype.


@pytest.mark.parametrize(
    "hyperparam_dtype, param_dtype, grad_dtype",
    [
        (jnp.bfloat16, jnp.float32, jnp.bfloat16),
        (jnp.bfloat16, jnp.float32, jnp.float32),
        (jnp.float32, jnp.bfloat16, jnp.bfloat16),
        (jnp.float32, jnp.float32, jnp.bfloat16),
        (jnp.float32, jnp.bfloat16, jnp.float32),
    ],
    ids=lambda d: jnp.dtype(d).name,
)
def test_hyperparam_dtype_is_the_stored_dtype(
    hyperparam_dtype, param_dtype, grad_dtype
):
    params = [
        jnp.ones((1, 2), param_dtype),
        jnp.ones(2, param_dtype),
        jnp.ones((1, 1, 1), param_dtype),
    ]
    grads = jax.tree_util.tree_map(lambda x: x.astype(grad_dtype), params)
    runs = {}
    for name, wrap in WRAPPERS.items():
        tx = wrap(optax.scale_by_adam, hyperparam_dtype=hyperparam_dtype)(
            b1=0.9, b2=0.95
        )
        runs[name] = updates_and_states(tx, grads, params, 2, pass_params=False)
        for state in runs[name][1]:
            for key in ("b1", "b2", "eps"):
                assert state.hyperparams[key].dtype == hyperparam_dtype, (name, key)
    for got, want in zip(runs["lrjax"][0], runs["optax"][0], strict=True):
        # lrjax returns updates in the gradients' dtype (documented); optax's
        # may be promoted by its moments. The values agree to that rounding.
        assert all(g.dtype == grad_dtype for g in got)
        rtol = 1e-6 if grad_dtype == jnp.float32 else 1e-2
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(
                np.asarray(g, np.float32), np.asarray(w, np.float32), rtol=rtol
            )


def test_hyperparam_dtype_follows_optax_for_every_kind_of_value():
    # Python floats and weakly typed arrays are cast; arrays with a dtype of
    # their own keep it; ints, and schedule outputs of a strong dtype, too.
    kwargs = dict(
        b1=jnp.asarray(0.9),  # weak
        b2=jnp.asarray(0.95, jnp.float32),  # strong: kept
        eps=np.float64(1e-8),
        eps_root=0.0,
        nesterov=True,
    )
    params = jnp.ones(3, jnp.float32)
    states = {
        name: wrap(optax.scale_by_adam, hyperparam_dtype=jnp.bfloat16)(**kwargs).init(
            params
        )
        for name, wrap in WRAPPERS.items()
    }
    lr, ox = states["lrjax"].hyperparams, states["optax"].hyperparams
    assert set(lr) == set(ox)
    for key in ox:
        assert jnp.asarray(lr[key]).dtype == jnp.asarray(ox[key]).dtype, key
        np.testing.assert_array_equal(
            np.asarray(lr[key], np.float32), np.asarray(ox[key], np.float32)
        )
    assert lr["b1"].dtype == jnp.bfloat16 and lr["b2"].dtype == jnp.float32


@pytest.mark.parametrize("param_dtype", [jnp.bfloat16, jnp.float32], ids=str)
def test_default_dtype_is_at_least_float32_unlike_optax(param_dtype):
    # optax casts float hyperparameters to the parameters' dtype; lrjax keeps
    # them in at least float32 (its documented difference) unless a
    # hyperparam_dtype is given.
    params = [jnp.ones((1, 2), param_dtype), jnp.ones(2, param_dtype)]
    for kwargs in (
        dict(b1=0.9, b2=0.95),
        dict(b1=jnp.asarray(0.9), b2=jnp.asarray(0.95)),
        dict(b1=jnp.asarray(0.9, jnp.float32), b2=jnp.asarray(0.95, jnp.bfloat16)),
    ):
        lr = jax.jit(lrjax.inject_hyperparams(optax.scale_by_adam)(**kwargs).init)
        ox = jax.jit(optax.inject_hyperparams(optax.scale_by_adam)(**kwargs).init)
        lr_hp, ox_hp = lr(params).hyperparams, ox(params).hyperparams
        for key in ("b1", "b2"):
            assert lr_hp[key].dtype == jnp.float32, (kwargs, key)
        if all(not isinstance(v, jax.Array) or v.weak_type for v in kwargs.values()):
            assert ox_hp["b1"].dtype == param_dtype  # optax: the params' dtype
    # With hyperparam_dtype given, bf16 is stored as asked, as in optax.
    tx = lrjax.inject_hyperparams(optax.scale_by_adam, hyperparam_dtype=jnp.bfloat16)
    assert tx(b2=0.95).init(params).hyperparams["b2"].dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "bad, error", [("not a dtype", TypeError), (jnp.int32, ValueError)]
)
def test_hyperparam_dtype_must_be_a_floating_dtype(bad, error):
    with pytest.raises(error, match=r"hyperparam_dtype must be .*floating dtype"):
        lrjax.inject_hyperparams(optax.scale_by_adam, hyperparam_dtype=bad)


# --------------------------------------------------------------------------
# Stateful schedules (optax.schedules.StatefulSchedule).


class _TotalState(NamedTuple):
    total: jax.Array


class AddendumSchedule(optax.schedules.StatefulSchedule):
    """The value is the running total of the ``addendum`` extra argument."""

    def init(self) -> _TotalState:
        return _TotalState(jnp.zeros([], jnp.float32))

    def update(self, state: _TotalState, **extra_args) -> _TotalState:
        return _TotalState(state.total + extra_args["addendum"])

    def __call__(self, state: _TotalState, **extra_args) -> jax.Array:
        return state.total


def test_stateful_schedule_state_lives_in_the_inject_state():
    grads = (jnp.ones(3, jnp.float32), jnp.ones(2, jnp.float32))
    extra = {"addendum": 0.3 * jnp.ones((), jnp.float32)}
    runs = {
        name: updates_and_states(tx, grads, grads, 2, extra=extra)
        for name, tx in both(optax.scale)(step_size=AddendumSchedule()).items()
    }
    state = runs["lrjax"][1][-1]
    assert isinstance(state, lrjax.InjectStatefulHyperparamsState)
    assert state._fields == (
        "count",
        "hyperparams",
        "hyperparams_states",
        "inner_state",
    )
    # The value used at an update is the total before it; the state is after.
    np.testing.assert_allclose(state.hyperparams["step_size"], 0.3, rtol=1e-6)
    np.testing.assert_allclose(
        state.hyperparams_states["step_size"].total, 0.6, rtol=1e-6
    )
    optax_state = runs["optax"][1][-1]
    chex.assert_trees_all_close(
        state.hyperparams_states["step_size"],
        optax_state.hyperparams_states["step_size"],
    )
    for got, want in zip(runs["lrjax"][0], runs["optax"][0], strict=True):
        chex.assert_trees_all_close(got, want, rtol=1e-6)


def test_stateful_and_plain_schedules_together_match_optax():
    schedule = optax.linear_schedule(0.1, 0.01, 5)
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    grads = {"w": jnp.array([0.5, -1.0, 2.0])}
    steps = [{"addendum": jnp.float32(a)} for a in (0.1, 0.2, 0.05, 0.3, 0.0, 0.1)]
    seen = {}
    for name, tx in both(optax.sgd)(
        learning_rate=schedule, momentum=AddendumSchedule()
    ).items():
        state = tx.init(params)
        update = jax.jit(tx.update)
        seen[name] = []
        for extra in steps:
            u, state = update(grads, state, params, **extra)
            seen[name].append((u, dict(state.hyperparams)))
    for (u_lr, hp_lr), (u_ox, hp_ox) in zip(seen["lrjax"], seen["optax"], strict=True):
        chex.assert_trees_all_close(u_lr, u_ox, rtol=1e-6)
        chex.assert_trees_all_close(hp_lr, hp_ox, rtol=1e-6)


def test_stateful_learning_rate_is_read_by_get_learning_rate():
    class Halving(optax.schedules.StatefulSchedule):
        def init(self):
            return jnp.float32(0.4)

        def update(self, state, **extra_args):
            return state / 2

        def __call__(self, state, **extra_args):
            return state

    params = {"w": jnp.ones(3)}
    tx = lrjax.inject_hyperparams(optax.sgd)(learning_rate=Halving())
    state = tx.init(params)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(0.4)
    for want in (0.4, 0.2, 0.1):
        u, state = jax.jit(tx.update)(params, state, params)
        np.testing.assert_allclose(u["w"], -want, rtol=1e-6)
        assert float(lrjax.get_learning_rate(state)) == pytest.approx(want)


def test_stateful_schedule_with_hyperparam_dtype_matches_optax():
    params = jnp.ones(4, jnp.float32)
    extra = {"addendum": jnp.asarray(0.25)}  # weakly typed: cast
    states = {}
    for name, wrap in WRAPPERS.items():
        tx = wrap(optax.scale, hyperparam_dtype=jnp.bfloat16)(
            step_size=AddendumSchedule()
        )
        _, states[name] = updates_and_states(tx, params, params, 3, extra=extra)
    for got, want in zip(states["lrjax"], states["optax"], strict=True):
        assert got.hyperparams["step_size"].dtype == want.hyperparams["step_size"].dtype
        chex.assert_trees_all_close(got.hyperparams, want.hyperparams)


def test_without_stateful_schedules_the_state_keeps_its_three_fields():
    tx = lrjax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    state = tx.init(jnp.ones(2))
    assert type(state) is lrjax.InjectHyperparamsState
    assert state._fields == ("count", "hyperparams", "inner_state")


def test_a_cast_that_makes_a_hyperparameter_invalid_is_named():
    # bfloat16 rounds b2=0.999 to exactly 1.0, outside Adam's [0, 1).
    with pytest.raises(ValueError, match=r"b2=0\.999 to 1\.0.*hyperparam_dtype=None"):
        lrjax.inject_hyperparams(lrjax.adam, hyperparam_dtype=jnp.bfloat16)(
            learning_rate=1e-3
        )
    # An invalid value the cast did not cause keeps the plain message.
    with pytest.raises(ValueError, match=r"^b1 must be in"):
        lrjax.inject_hyperparams(lrjax.adam, hyperparam_dtype=jnp.float32)(
            learning_rate=1e-3, b1=1.5
        )
