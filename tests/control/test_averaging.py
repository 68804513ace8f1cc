"""Parameter averaging against a NumPy mean and PyTorch ASGD's documented rule."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import lrjax
from lrjax import _numerics as num

CURV = np.array([1.0, 3.0, 0.5, 2.0])
START = np.array([2.0, -1.5, 4.0, 0.5])


def loss(params):
    return 0.5 * jnp.sum(CURV * params["w"] ** 2)


def noisy_grad(params, key):
    # A fixed noise sequence: SGD's iterates wander around the optimum 0.
    return jax.tree_util.tree_map(
        lambda g: g + jax.random.normal(key, g.shape, g.dtype), jax.grad(loss)(params)
    )


def run(averager, steps, lr=0.1, dtype=jnp.float32, noise=False):
    """Iterates theta_0..theta_T (NumPy, float64) and the averages after each step."""
    opt = optax.chain(lrjax.sgd(lr), averager)
    params = {"w": jnp.asarray(START, dtype)}
    state = opt.init(params)

    @jax.jit
    def step(params, state, key):
        g = noisy_grad(params, key) if noise else jax.grad(loss)(params)
        u, state = opt.update(g, state, params)
        return optax.apply_updates(params, u), state

    iterates = [np.asarray(params["w"], np.float64)]
    averages = [np.asarray(lrjax.averaged_params(state)["w"], np.float64)]
    for t in range(steps):
        params, state = step(params, state, jax.random.PRNGKey(t))
        iterates.append(np.asarray(params["w"], np.float64))
        averages.append(np.asarray(lrjax.averaged_params(state)["w"], np.float64))
    return np.asarray(iterates), np.asarray(averages), state


# --------------------------------------------------------------------------
# Polyak: the plain mean of the iterates from start_step on.


@pytest.mark.parametrize("start_step", [0, 1, 3, 7])
def test_polyak_is_the_mean_of_the_iterates_from_start_step(start_step):
    iterates, averages, _ = run(lrjax.polyak_averaging(start_step), 12, noise=True)
    for t in range(len(iterates)):
        if t < start_step:
            want = iterates[t]
        else:
            want = iterates[start_step : t + 1].mean(axis=0)
        np.testing.assert_allclose(averages[t], want, rtol=1e-5, atol=1e-6)


def asgd_averages(iterates, t0):
    """PyTorch ``ASGD(lambd=0)``'s ``ax`` after each step, from its documented rule.

    ``mu_0 = 1``; at step ``t`` (from 1), after the parameter step:
    ``ax_t = theta_t`` if ``mu_{t-1} == 1`` else
    ``ax_t = ax_{t-1} + (theta_t - ax_{t-1}) * mu_{t-1}``; then
    ``mu_t = 1 / max(1, t - t0)``. With ``lambd=0`` its rate stays ``lr``,
    so its parameter steps are plain SGD's: the iterates are shared.
    """
    mu = 1.0
    ax = np.zeros_like(iterates[0])
    out = []
    for t in range(1, len(iterates)):
        theta = iterates[t]
        ax = theta.copy() if mu == 1 else ax + (theta - ax) * mu
        mu = 1.0 / max(1, t - t0)
        out.append(ax)
    return np.asarray(out)


@pytest.mark.parametrize("start_step", [1, 2, 3, 6])
def test_polyak_equals_pytorch_asgd_with_t0_two_before_start_step(start_step):
    iterates, averages, _ = run(lrjax.polyak_averaging(start_step), 15, noise=True)
    want = asgd_averages(iterates, t0=start_step - 2)
    np.testing.assert_allclose(averages[1:], want, rtol=1e-5, atol=1e-6)


def test_asgd_t0_equal_to_start_step_would_average_fewer_iterates():
    # Documents the indexing: PyTorch's t0 is *not* lrjax's start_step.
    iterates, averages, _ = run(lrjax.polyak_averaging(3), 10, noise=True)
    naive = asgd_averages(iterates, t0=3)
    assert not np.allclose(averages[1:], naive, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# EMA: avg_t = decay * avg_{t-1} + (1 - decay) * theta_t, avg_0 = theta_0.


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 1.0])
def test_ema_matches_the_numpy_recursion(decay):
    iterates, averages, _ = run(lrjax.ema_params(decay), 12, noise=True)
    want = [iterates[0]]
    for theta in iterates[1:]:
        want.append(decay * want[-1] + (1 - decay) * theta)
    np.testing.assert_allclose(averages, want, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# Behaviour shared by both.

AVERAGERS = [
    ("polyak", lambda **kw: lrjax.polyak_averaging(2, **kw)),
    ("ema", lambda **kw: lrjax.ema_params(0.9, **kw)),
]


@pytest.mark.parametrize("name, make", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_updates_pass_through_unchanged(name, make):
    params = {"w": jnp.asarray(START, jnp.float32)}
    g = {"w": jnp.asarray([0.1, -0.2, 0.3, 1.0], jnp.float32)}
    opt = make()
    u, _ = opt.update(g, opt.init(params), params)
    assert u is g


@pytest.mark.parametrize("name, make", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_update_without_params_is_rejected(name, make):
    opt = make()
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="needs params"):
        opt.update(params, opt.init(params))


@pytest.mark.parametrize(
    "make",
    [lambda: lrjax.polyak_averaging(300), lambda: lrjax.ema_params(0.995)],
    ids=["polyak", "ema"],
)
def test_average_is_closer_to_the_optimum_than_noisy_sgd(make):
    # SGD with a constant rate and noisy gradients hovers around the optimum
    # 0 of the quadratic; its average settles much closer to it.
    iterates, averages, _ = run(make(), 1500, lr=0.05, noise=True)
    iterate_err = np.mean([np.linalg.norm(x) for x in iterates[-500:]])
    avg_err = np.linalg.norm(averages[-1])
    assert avg_err < 0.5 * iterate_err, (avg_err, iterate_err)


@pytest.mark.parametrize("name, make", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_bf16_params_average_their_rounded_iterates(name, make):
    iterates, averages, state = run(make(), 10, dtype=jnp.bfloat16)
    assert lrjax.averaged_params(state)["w"].dtype == jnp.bfloat16
    _, wide, wide_state = run(
        make(accumulator_dtype=jnp.float32), 10, dtype=jnp.bfloat16
    )
    assert lrjax.averaged_params(wide_state)["w"].dtype == jnp.float32
    if name == "polyak":
        want = iterates[2:].mean(axis=0)
    else:
        want = iterates[0]
        for theta in iterates[1:]:
            want = 0.9 * want + 0.1 * theta
    # A float32 average of the bf16 iterates is exact to float32 rounding.
    np.testing.assert_allclose(wide[-1], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(averages[-1], want, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("name, make", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_jitted_init_and_update_keep_parameter_sharding(name, make):
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    params = {
        "w": jax.device_put(
            jnp.asarray(np.random.RandomState(0).randn(8, 6), jnp.float32),
            NamedSharding(mesh, P("data", "model")),
        ),
        "b": jax.device_put(jnp.ones(12), NamedSharding(mesh, P("data"))),
    }
    opt = make()
    state = jax.jit(opt.init)(params)
    _, new_state = jax.jit(opt.update)(params, state, params)
    for s in (state, new_state):
        avg = lrjax.averaged_params(s)
        for k in params:
            assert avg[k].sharding.is_equivalent_to(params[k].sharding, avg[k].ndim), (
                k,
                avg[k].sharding,
            )


@pytest.mark.parametrize("name, make", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_abstract_init_gives_shapes_and_dtypes(name, make):
    params = {"w": jax.ShapeDtypeStruct((3, 2), jnp.bfloat16)}
    state = make().init(params)
    avg = lrjax.averaged_params(state)["w"]
    assert avg.shape == (3, 2) and avg.dtype == jnp.bfloat16


@pytest.mark.parametrize("name, make", AVERAGERS, ids=[a[0] for a in AVERAGERS])
def test_counter_saturates_and_the_average_still_moves(name, make):
    opt = make()
    params = {"w": jnp.zeros(2)}
    state = opt.init(params)._replace(count=jnp.asarray(num.COUNT_MAX, jnp.int32))
    upd = {"w": jnp.ones(2)}
    _, state = opt.update(upd, state, params)
    assert int(state.count) == num.COUNT_MAX
    avg = np.asarray(lrjax.averaged_params(state)["w"])
    assert np.all(np.isfinite(avg))
    # EMA mixes in 0.1 of the new iterate; Polyak's weight ~ 1/2**31 (not 1,
    # which an int32 overflow of the iterate count would give).
    assert np.all(avg < 0.2)


class VariantsTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True, with_pmap=True)
    @parameterized.named_parameters(("polyak", "polyak"), ("ema", "ema"))
    def test_three_steps_under_transformations(self, which):
        averager = (
            lrjax.polyak_averaging() if which == "polyak" else lrjax.ema_params(0.5)
        )
        opt = optax.chain(lrjax.sgd(0.1), averager)

        @self.variant
        def three_steps(params):
            state = opt.init(params)
            iterates = [params["w"]]
            for _ in range(3):
                u, state = opt.update(jax.grad(loss)(params), state, params)
                params = optax.apply_updates(params, u)
                iterates.append(params["w"])
            return jnp.stack(iterates), lrjax.averaged_params(state)["w"]

        iterates, avg = three_steps({"w": jnp.asarray(START, jnp.float32)})
        iterates = np.asarray(iterates, np.float64)
        if which == "polyak":
            want = iterates.mean(axis=0)
        else:
            want = iterates[0]
            for theta in iterates[1:]:
                want = 0.5 * want + 0.5 * theta
        np.testing.assert_allclose(avg, want, rtol=1e-6)


def test_vmap_over_independent_runs():
    opt = optax.chain(lrjax.sgd(0.1), lrjax.polyak_averaging())

    def average(start):
        params = {"w": start}
        state = opt.init(params)
        for _ in range(2):
            u, state = opt.update(jax.grad(loss)(params), state, params)
            params = optax.apply_updates(params, u)
        return lrjax.averaged_params(state)["w"]

    starts = jnp.asarray([START, 2 * START], jnp.float32)
    got = jax.vmap(average)(starts)
    # Linear dynamics: the average scales with the start.
    np.testing.assert_allclose(got[1], 2 * got[0], rtol=1e-6)
    s1 = START * (1 - 0.1 * CURV)
    np.testing.assert_allclose(
        got[0], (START + s1 + s1 * (1 - 0.1 * CURV)) / 3, rtol=1e-6
    )


# --------------------------------------------------------------------------
# averaged_params finds the average anywhere, and only one.


def test_averaged_params_in_a_dict_and_a_nested_chain():
    params = {"w": jnp.asarray(START, jnp.float32)}
    opt = optax.chain(
        optax.chain(lrjax.adam(0.1), lrjax.ema_params(0.5)), optax.identity()
    )
    state = {"opt": opt.init(params), "step": 0}
    np.testing.assert_allclose(lrjax.averaged_params(state)["w"], START)


def test_averaged_params_without_an_average_is_a_clear_error():
    state = lrjax.adam(0.1).init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="no parameter average"):
        lrjax.averaged_params(state)


def test_averaged_params_with_two_averages_is_a_clear_error():
    params = {"w": jnp.ones(2)}
    opt = optax.chain(lrjax.sgd(0.1), lrjax.ema_params(0.9), lrjax.polyak_averaging())
    state = opt.init(params)
    with pytest.raises(ValueError, match="2 parameter averages"):
        lrjax.averaged_params(state)
    # The sub-state works.
    np.testing.assert_allclose(lrjax.averaged_params(state[2])["w"], 1.0)


# --------------------------------------------------------------------------
# Validation.


@pytest.mark.parametrize(
    "make, name, error",
    [
        (lambda: lrjax.ema_params(-0.1), "decay", ValueError),
        (lambda: lrjax.ema_params(1.5), "decay", ValueError),
        (lambda: lrjax.ema_params(float("nan")), "decay", ValueError),
        (lambda: lrjax.ema_params("0.9"), "decay", TypeError),
        (
            lambda: lrjax.ema_params(0.9, accumulator_dtype=jnp.int32),
            "accumulator_dtype",
            ValueError,
        ),
        (lambda: lrjax.polyak_averaging(-1), "start_step", ValueError),
        (lambda: lrjax.polyak_averaging(1.5), "start_step", TypeError),
        (lambda: lrjax.polyak_averaging(True), "start_step", TypeError),
        (
            lambda: lrjax.polyak_averaging(0, accumulator_dtype="int8"),
            "accumulator_dtype",
            ValueError,
        ),
    ],
)
def test_rejects_invalid_arguments(make, name, error):
    with pytest.raises(error, match=name):
        make()


def test_rejects_integer_parameters_at_init():
    with pytest.raises(TypeError, match="dtype int32"):
        lrjax.polyak_averaging().init({"n": jnp.ones(2, jnp.int32)})


def test_complex_parameters_are_averaged():
    opt = lrjax.polyak_averaging()
    params = {"z": jnp.asarray([1 + 1j, -2j], jnp.complex64)}
    steps = [np.asarray([0.5 - 1j, 1 + 0j]), np.asarray([-1j, 0.25 + 0.5j])]
    state = opt.init(params)
    iterates = [np.asarray(params["z"])]
    for u in steps:
        u = {"z": jnp.asarray(u, jnp.complex64)}
        _, state = opt.update(u, state, params)
        params = optax.apply_updates(params, u)
        iterates.append(np.asarray(params["z"]))
    avg = lrjax.averaged_params(state)["z"]
    assert avg.dtype == jnp.complex64
    np.testing.assert_allclose(avg, np.mean(iterates, axis=0), rtol=1e-6)
