"""Optimistic gradient descent and optimistic Adam against hand-written NumPy.

References from the papers' formulas (Mokhtari et al. 2019; Daskalakis et
al. 2017), in float64 NumPy, without calling lrjax; the shared suite adds
optax parity.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references

import lrjax


def _grads(shape, n=3, seed=0):
    r = np.random.RandomState(seed)
    return [r.randn(*shape).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.5, 0.3)])
def test_optimistic_gradient_descent_three_steps(alpha, beta):
    lr = 0.1
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    opt = lrjax.optimistic_gradient_descent(lr, alpha, beta)
    params = jnp.asarray(w, jnp.float32)
    state = opt.init(params)
    g_prev = None
    for g in _grads(w.shape, seed=1):
        u, state = opt.update(jnp.asarray(g), state, params)
        params = lrjax.apply_updates(params, u)
        g_prev = g if g_prev is None else g_prev  # g_{-1} = g_0
        w = w - lr * ((alpha + beta) * g - beta * g_prev)
        g_prev = g
        np.testing.assert_allclose(params, w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)


@pytest.mark.parametrize("optimism, nesterov", [(None, True), (0.05, False)])
def test_optimistic_adam_three_steps(optimism, nesterov):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    o = lr if optimism is None else optimism
    w = np.array([1.0, -2.0, 0.5, 4.0])
    opt = lrjax.optimistic_adam(lr, optimism, nesterov=nesterov)
    params = jnp.asarray(w, jnp.float32)
    state = opt.init(params)
    # NAdam's look-ahead (nesterov) in optax's form.
    adam, r_prev = references.Adam(1.0, b1, b2, eps, nesterov=nesterov), None
    for g in _grads(w.shape, seed=2):
        u, state = opt.update(jnp.asarray(g), state, params)
        params = lrjax.apply_updates(params, u)
        r = adam.direction(g)
        r_prev = r if r_prev is None else r_prev
        w = w - lr * r - o * (r - r_prev)
        r_prev = r
        np.testing.assert_allclose(params, w, rtol=1e-5, atol=1e-7)
    # The rate is inside the optimistic weights (optax's form): the global
    # factor is 1.
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 1.0, rtol=1e-6)


def test_optimistic_adam_v2_three_steps():
    lr, alpha, beta, b1, b2, eps = 0.02, 0.7, 0.4, 0.8, 0.99, 1e-8
    w = np.array([0.3, -1.0, 2.0])
    opt = lrjax.optimistic_adam_v2(lr, alpha=alpha, beta=beta, b1=b1, b2=b2)
    params = jnp.asarray(w, jnp.float32)
    state = opt.init(params)
    adam, r_prev = references.Adam(1.0, b1, b2, eps, nesterov=True), None
    for g in _grads(w.shape, seed=3):
        u, state = opt.update(jnp.asarray(g), state, params)
        params = lrjax.apply_updates(params, u)
        r = adam.direction(g)
        r_prev = r if r_prev is None else r_prev
        w = w - lr * ((alpha + beta) * r - beta * r_prev)
        r_prev = r
        np.testing.assert_allclose(params, w, rtol=1e-5, atol=1e-7)


def test_optimistic_descent_converges_on_a_bilinear_game():
    # min_x max_y x * y: simultaneous gradient descent-ascent spirals out;
    # the optimistic step converges to the equilibrium (0, 0) (Daskalakis et
    # al. 2017, section 3).
    def field(z):  # (d/dx, -d/dy) of x * y: descend in x, ascend in y
        return jnp.array([z[1], -z[0]])

    def run(opt, steps=2000):
        z = jnp.array([1.0, 1.0])
        state = opt.init(z)
        for _ in range(steps):
            u, state = opt.update(field(z), state, z)
            z = lrjax.apply_updates(z, u)
        return float(jnp.linalg.norm(z))

    assert run(lrjax.sgd(0.1)) > 10.0
    assert run(lrjax.optimistic_gradient_descent(0.1)) < 1e-3


def test_optimistic_adam_rejects_schedules():
    with pytest.raises(TypeError, match="learning_rate"):
        lrjax.optimistic_adam(lambda t: 0.1)
    # A traced rate passes through (construction inside jit).
    jax.jit(lambda lr: lrjax.optimistic_adam(lr).init(jnp.zeros(2)))(0.1)
