"""Hypergradient descent against the equations of Baydin et al. (ICLR 2018).

The reference below is the paper's Algorithms 1-3 written in float64 NumPy,
on the flattened parameter vector (the paper's dot products run over all
parameters): ``h_t = -g_t . d_{t-1}``, ``alpha_t = alpha_{t-1} - beta h_t``,
then the optimizer's step along ``d_t`` with ``alpha_t``.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import references
from absl.testing import parameterized
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import lrjax

# A quadratic with a different curvature per coordinate, over a tree of two
# leaves: loss = 0.5 * sum(a * (w - c)**2).
CURV = {"x": np.array([1.0, 2.0, 4.0]), "y": np.array([[0.5, 3.0], [1.5, 2.5]])}
TARGET = {"x": np.array([1.0, -2.0, 0.5]), "y": np.array([[3.0, -1.0], [2.0, 4.0]])}
START = {"x": np.array([-4.0, 6.0, 3.0]), "y": np.array([[-2.0, 5.0], [-3.0, -1.5]])}
START32 = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), START)


def loss(params):
    return sum(
        0.5 * jnp.sum(CURV[k] * (params[k] - TARGET[k]) ** 2) for k in ("x", "y")
    )


def flat(tree):
    return np.concatenate([np.ravel(np.asarray(tree[k], np.float64)) for k in "xy"])


A, C = flat(CURV), flat(TARGET)


def reference(
    kind, alpha0, beta, steps, momentum=0.0, nesterov=True, b1=0.9, b2=0.999, eps=1e-8
):
    """Parameters and rates after each step, from the paper's equations."""
    theta = flat(START)
    alpha = alpha0
    d_prev = np.zeros_like(theta)
    v = np.zeros_like(theta)
    adam = references.Adam(1.0, b1, b2, eps)
    thetas, alphas = [], []
    for _ in range(steps):
        g = A * (theta - C)
        h = -np.dot(g, d_prev)  # dloss(theta_{t-1}) / dalpha_{t-1}
        alpha = alpha - beta * h
        if kind == "sgd":
            d = g
        elif kind == "sgdn":
            v = momentum * v + g
            d = g + momentum * v if nesterov else v
        else:  # adam's direction
            d = adam.direction(g)
        theta = theta - alpha * d
        d_prev = d
        thetas.append(theta.copy())
        alphas.append(alpha)
    return np.asarray(thetas), np.asarray(alphas)


def run(opt, steps, dtype=jnp.float32, jit=True):
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), START)
    state = opt.init(params)

    def step(params, state):
        g = jax.grad(loss)(params)
        u, state = opt.update(g, state, params)
        return optax.apply_updates(params, u), state

    step = jax.jit(step) if jit else step
    thetas, rates = [], []
    for _ in range(steps):
        params, state = step(params, state)
        thetas.append(flat(params))
        rates.append(float(lrjax.get_learning_rate(state)))
    return np.asarray(thetas), np.asarray(rates), params, state


CASES = [
    ("sgd_hd", lambda: lrjax.sgd_hd(0.02, 2e-5), dict(kind="sgd")),
    (
        "sgdn_hd",
        lambda: lrjax.sgd_hd(0.01, 1e-5, momentum=0.5),
        dict(kind="sgdn", momentum=0.5),
    ),
    (
        "sgd_heavy_ball_hd",
        lambda: lrjax.sgd_hd(0.01, 1e-5, momentum=0.5, nesterov=False),
        dict(kind="sgdn", momentum=0.5, nesterov=False),
    ),
    ("adam_hd", lambda: lrjax.adam_hd(0.05, 1e-3), dict(kind="adam")),
    (
        "adam_hd_betas",
        lambda: lrjax.adam_hd(0.05, 1e-3, b1=0.8, b2=0.99, eps=1e-3),
        dict(kind="adam", b1=0.8, b2=0.99, eps=1e-3),
    ),
]
REF_ARGS = {
    "sgd_hd": (0.02, 2e-5),
    "sgdn_hd": (0.01, 1e-5),
    "sgd_heavy_ball_hd": (0.01, 1e-5),
    "adam_hd": (0.05, 1e-3),
    "adam_hd_betas": (0.05, 1e-3),
}


@pytest.mark.parametrize("name, make, ref_kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_the_paper_equations_for_10_steps(name, make, ref_kwargs):
    want_theta, want_alpha = reference(
        alpha0=REF_ARGS[name][0], beta=REF_ARGS[name][1], steps=10, **ref_kwargs
    )
    got_theta, got_alpha, _, _ = run(make(), 10)
    # The rate really moved (the test would not see a frozen rate otherwise).
    assert abs(want_alpha[-1] - want_alpha[0]) > 0.05 * want_alpha[0]
    np.testing.assert_allclose(got_alpha, want_alpha, rtol=1e-5)
    # float32 against float64: Adam's steps amplify rounding to ~4e-5 by step
    # 10 (measured); a wrong equation is off by 1e-2 or more.
    np.testing.assert_allclose(got_theta, want_theta, rtol=1e-5, atol=1e-4)


def test_first_step_uses_the_initial_rate():
    _, rates, _, state = run(lrjax.sgd_hd(0.3, 0.1), 1)
    assert rates[0] == pytest.approx(0.3)
    fresh = lrjax.sgd_hd(0.3, 0.1).init({"w": jnp.ones(2)})
    assert float(lrjax.get_learning_rate(fresh)) == pytest.approx(0.3)
    assert isinstance(state, lrjax.HypergradientState)
    assert state.learning_rate.dtype == jnp.float32


@pytest.mark.parametrize(
    "make, ref",
    [
        (lambda: lrjax.sgd_hd(0.05, 0.0), lambda: optax.sgd(0.05)),
        (
            lambda: lrjax.sgd_hd(0.05, 0.0, momentum=0.9),
            lambda: optax.sgd(0.05, momentum=0.9, nesterov=True),
        ),
        (lambda: lrjax.adam_hd(0.05, 0.0), lambda: optax.adam(0.05)),
    ],
    ids=["sgd", "sgdn", "adam"],
)
def test_zero_hypergrad_lr_is_the_plain_optimizer(make, ref):
    got, rates, _, _ = run(make(), 20)
    want, _, _, _ = run(ref_with_rate(ref()), 20)
    np.testing.assert_allclose(got, want, rtol=3e-5, atol=1e-6)
    np.testing.assert_allclose(rates, rates[0])


def ref_with_rate(opt):
    # optax's states hold no rate: give run() something to read.
    return optax.chain(opt, lrjax.scale_by_learning_rate(1.0, flip_sign=False))


def test_complex_dot_product_uses_the_real_part_of_conj_g_times_d():
    opt = lrjax.sgd_hd(0.1, 0.5)
    params = {"z": jnp.asarray([1 + 2j, -1j], jnp.complex64)}
    g1 = np.asarray([0.5 - 1j, 2 + 1j], np.complex128)
    g2 = np.asarray([1 + 1j, -1 + 0.5j], np.complex128)
    state = opt.init(params)
    _, state = opt.update({"z": jnp.asarray(g1, jnp.complex64)}, state, params)
    u, state = opt.update({"z": jnp.asarray(g2, jnp.complex64)}, state, params)
    alpha2 = 0.1 + 0.5 * np.real(np.vdot(g2, g1))  # vdot conjugates g2
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(alpha2, rel=1e-6)
    np.testing.assert_allclose(u["z"], -alpha2 * g2, rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [lambda: lrjax.sgd_hd(1e-4, 1e-5), lambda: lrjax.adam_hd(1e-4, 1e-4)],
    ids=["sgd_hd", "adam_hd"],
)
def test_too_small_rate_grows_and_converges_on_a_quadratic(make):
    start = float(loss(START))
    _, rates, params, _ = run(make(), 400)
    assert rates.max() > 50 * 1e-4, rates.max()
    assert float(loss(params)) < 1e-6 * start


def test_fixed_small_rate_alone_does_not_converge():
    # Control for the test above: without hypergradients 1e-4 is far too small.
    opt = optax.chain(lrjax.sgd_hd(1e-4, 0.0))
    _, _, params, _ = run(opt, 400)
    assert float(loss(params)) > 0.5 * float(loss(START))


def test_bf16_parameters_keep_dtypes_and_track_float32():
    got, rates, params, state = run(lrjax.adam_hd(0.05, 1e-3), 10, jnp.bfloat16)
    want, want_rates, _, _ = run(lrjax.adam_hd(0.05, 1e-3), 10, jnp.float32)
    assert params["x"].dtype == jnp.bfloat16
    assert state.direction["y"].dtype == jnp.bfloat16
    assert state.learning_rate.dtype == jnp.float32
    np.testing.assert_allclose(got, want, rtol=0.05, atol=0.05)
    np.testing.assert_allclose(rates, want_rates, rtol=0.05)


def test_updates_come_out_in_the_gradient_dtype():
    opt = lrjax.sgd_hd(0.1, 0.1, momentum=0.9)
    params = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(2, jnp.float32)}
    state = opt.init(params)
    for _ in range(2):
        u, state = opt.update(params, state, params)
    assert u["a"].dtype == jnp.bfloat16 and u["b"].dtype == jnp.float32


def test_get_learning_rate_inside_a_chain_counts_the_rate_once():
    opt = optax.chain(optax.clip_by_global_norm(100.0), lrjax.sgd_hd(0.02, 2e-5))
    _, want_alpha = reference("sgd", 0.02, 2e-5, 5)
    _, rates, _, _ = run(opt, 5)
    np.testing.assert_allclose(rates, want_alpha, rtol=1e-5)


def test_mismatched_update_tree_is_rejected():
    opt = lrjax.adam_hd(0.1, 0.1)
    state = opt.init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="tree structure"):
        opt.update({"v": jnp.ones(2)}, state)


class VariantsTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True, with_pmap=True)
    @parameterized.named_parameters(("sgd", "sgd"), ("sgdn", "sgdn"), ("adam", "adam"))
    def test_three_steps_match_the_reference(self, kind):
        if kind == "sgd":
            opt, args, ref_kw = lrjax.sgd_hd(0.02, 2e-5), (0.02, 2e-5), {}
        elif kind == "sgdn":
            opt, args, ref_kw = (
                lrjax.sgd_hd(0.01, 1e-5, momentum=0.5),
                (0.01, 1e-5),
                {"momentum": 0.5},
            )
        else:
            opt, args, ref_kw = lrjax.adam_hd(0.05, 1e-3), (0.05, 1e-3), {}

        @self.variant
        def three_steps(params):
            state = opt.init(params)
            for _ in range(3):
                u, state = opt.update(jax.grad(loss)(params), state, params)
                params = optax.apply_updates(params, u)
            return params, lrjax.get_learning_rate(state)

        params, rate = three_steps(START32)
        want_theta, want_alpha = reference(kind, *args, 3, **ref_kw)
        np.testing.assert_allclose(flat(params), want_theta[-1], rtol=1e-5)
        np.testing.assert_allclose(rate, want_alpha[-1], rtol=1e-5)


def test_vmap_over_initial_rates():
    def final_rate(alpha0):
        opt = lrjax.sgd_hd(alpha0, 0.002)
        _, state = opt.update(jax.grad(loss)(START32), opt.init(START32), START32)
        _, state = opt.update(jax.grad(loss)(START32), state, START32)
        return lrjax.get_learning_rate(state)

    got = jax.vmap(final_rate)(jnp.asarray([0.01, 0.02]))
    g = A * (flat(START32) - C)
    np.testing.assert_allclose(got, [0.01, 0.02] + 0.002 * g @ g, rtol=1e-5)


# --------------------------------------------------------------------------
# Validation.


@pytest.mark.parametrize(
    "make, name, error",
    [
        (lambda: lrjax.sgd_hd(-0.1, 1e-3), "learning_rate", ValueError),
        (lambda: lrjax.sgd_hd(float("nan"), 1e-3), "learning_rate", ValueError),
        (
            lambda: lrjax.sgd_hd(optax.constant_schedule(0.1), 1e-3),
            "learning_rate",
            TypeError,
        ),
        (lambda: lrjax.sgd_hd("0.1", 1e-3), "learning_rate", TypeError),
        (lambda: lrjax.sgd_hd(0.1, -1e-3), "hypergrad_lr", ValueError),
        (lambda: lrjax.sgd_hd(0.1, float("inf")), "hypergrad_lr", ValueError),
        (lambda: lrjax.sgd_hd(0.1, 1e-3, momentum=1.5), "momentum", ValueError),
        (lambda: lrjax.sgd_hd(0.1, 1e-3, 0.9, nesterov=1), "nesterov", TypeError),
        (lambda: lrjax.adam_hd(-1.0, 1e-3), "learning_rate", ValueError),
        (lambda: lrjax.adam_hd(0.1, -1.0), "hypergrad_lr", ValueError),
        (lambda: lrjax.adam_hd(0.1, 1e-3, b1=1.0), "b1", ValueError),
        (lambda: lrjax.adam_hd(0.1, 1e-3, b2=-0.1), "b2", ValueError),
        (lambda: lrjax.adam_hd(0.1, 1e-3, eps=-1.0), "eps", ValueError),
        (
            lambda: lrjax.hypergradient_descent(optax.sgd, 0.1, 0.1),
            "direction",
            TypeError,
        ),
    ],
)
def test_rejects_invalid_arguments(make, name, error):
    with pytest.raises(error, match=name):
        make()


def test_traced_arguments_pass_validation():
    @jax.jit
    def rate_after_two_steps(alpha0, beta):
        opt = lrjax.adam_hd(alpha0, beta)
        state = opt.init(START32)
        for _ in range(2):
            _, state = opt.update(jax.grad(loss)(START32), state, START32)
        return lrjax.get_learning_rate(state)

    assert np.isfinite(float(rate_after_two_steps(0.05, 1e-3)))


def test_rejects_integer_parameters_at_init():
    with pytest.raises(TypeError, match="dtype int32"):
        lrjax.sgd_hd(0.1, 0.1).init({"n": jnp.ones(2, jnp.int32)})


@pytest.mark.parametrize(
    "make",
    [lambda: lrjax.sgd_hd(0.01, 1e-5, momentum=0.9), lambda: lrjax.adam_hd(0.01, 1e-5)],
    ids=["sgdn_hd", "adam_hd"],
)
def test_jitted_init_and_update_keep_parameter_sharding(make):
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
    updates, new_state = jax.jit(opt.update)(params, state, params)
    for s in (state, new_state):
        for leaf in jax.tree_util.tree_leaves(s):
            for p in params.values():
                if leaf.shape == p.shape:
                    assert leaf.sharding.is_equivalent_to(p.sharding, p.ndim)
    for k in params:
        assert updates[k].sharding.is_equivalent_to(params[k].sharding, params[k].ndim)


def test_second_jitted_update_does_not_recompile():
    opt = lrjax.adam_hd(0.01, 1e-5)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(grads, state, params):
        return opt.update(grads, state, params)

    state = opt.init(START32)
    for _ in range(3):
        _, state = step(jax.grad(loss)(START32), state, START32)
