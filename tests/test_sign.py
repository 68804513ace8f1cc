"""signSGD, Signum, Rprop and their blocks against hand-written NumPy.

References are written from the papers' formulas (Bernstein et al. 2018;
Riedmiller & Braun 1993, Igel & Huesken 2003 for iRprop-), in float64 NumPy,
without calling lrjax; the shared suite (test_optimizers_common.py) adds
optax parity.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax


def _grads(shape, n=3, seed=0, scale=1.0):
    r = np.random.RandomState(seed)
    return [scale * r.randn(*shape).astype(np.float32) for _ in range(n)]


def _close(got, want, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


def test_scale_by_sign_is_the_elementwise_sign():
    g = {"a": jnp.array([-2.0, 0.0, 3e-20]), "c": jnp.array([3.0 + 4.0j, 0.0j])}
    opt = lrjax.scale_by_sign()
    u, _ = opt.update(g, opt.init(g))
    _close(u["a"], [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(np.asarray(u["c"]), [0.6 + 0.8j, 0.0], rtol=1e-6)


def test_sign_sgd_three_steps():
    lr = 0.05
    w = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    opt = lrjax.sign_sgd(lr)
    params = jnp.asarray(w, jnp.float32)
    state = opt.init(params)
    grads = _grads(w.shape, seed=1)
    grads[1][0, 0] = 0.0  # sign(0) = 0: no move
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state, params)
        params = lrjax.apply_updates(params, u)
        w = w - lr * np.sign(g)
        _close(params, w)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)


def test_signum_three_steps():
    # beta = 0.5 and the gradients 1, -3, 1 in one element: the momentum's
    # sign (0.5, -1.25, -0.125) differs from the gradient's at the last step.
    lr, beta = 0.1, 0.5
    w = np.array([1.0, -2.0, 0.5, 4.0])
    opt = lrjax.signum(lr, beta)
    params = jnp.asarray(w, jnp.float32)
    state = opt.init(params)
    m = np.zeros_like(w)
    grads = _grads(w.shape, seed=2)
    grads[0][0], grads[1][0], grads[2][0] = 1.0, -3.0, 1.0
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state, params)
        params = lrjax.apply_updates(params, u)
        m = beta * m + (1 - beta) * g
        w = w - lr * np.sign(m)
        _close(params, w)
    assert np.sign(m[0]) == -1.0 and grads[2][0] > 0
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)


def test_signum_float16_sign_reads_the_unrounded_momentum():
    # (1 - beta) * g = 2e-8 rounds to 0 in float16; its sign is still +1.
    p = jnp.zeros(2, jnp.float16)
    opt = lrjax.signum(0.5, beta=0.9)
    u, _ = opt.update(jnp.full(2, 2e-7, jnp.float16), opt.init(p), p)
    _close(u, [-0.5, -0.5])


def _irprop_minus(grads, delta0, eta_minus, eta_plus, lo, hi):
    """iRprop- from Igel & Huesken (2003), with the gradient itself zeroed on
    a sign flip (the paper's form); returns the updates ``-Delta * sign(g)``."""
    delta = np.full(grads[0].shape, delta0)
    g_prev = np.zeros(grads[0].shape)
    out = []
    for g in grads:
        g = g.astype(np.float64).copy()
        prod = g * g_prev
        delta = np.where(prod > 0, np.minimum(delta * eta_plus, hi), delta)
        delta = np.where(prod < 0, np.maximum(delta * eta_minus, lo), delta)
        g = np.where(prod < 0, 0.0, g)
        out.append(-delta * np.sign(g))
        g_prev = g
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "eta_minus": 0.3,
            "eta_plus": 1.5,
            "min_step_size": 0.004,
            "max_step_size": 0.012,
        },
    ],
)
def test_rprop_three_steps(kwargs):
    hyper = {
        "eta_minus": 0.5,
        "eta_plus": 1.2,
        "min_step_size": 1e-6,
        "max_step_size": 50.0,
        **kwargs,
    }
    delta0 = 0.01
    # Signs per element over three steps: kept, flipped, flipped then kept,
    # with a zero gradient in between.
    grads = [
        np.array([1.0, 2.0, 0.5, 1.0, 0.0]),
        np.array([3.0, -1.0, -0.5, 0.0, 2.0]),
        np.array([0.2, 1.0, -4.0, 1.0, 2.0]),
    ]
    want = _irprop_minus(
        grads,
        delta0,
        hyper["eta_minus"],
        hyper["eta_plus"],
        hyper["min_step_size"],
        hyper["max_step_size"],
    )
    opt = lrjax.rprop(delta0, **kwargs)
    params = jnp.zeros(5)
    state = opt.init(params)
    for g, u_want in zip(grads, want, strict=True):
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, params)
        _close(u, u_want)
        params = lrjax.apply_updates(params, u)
    # The reference really went through growth, shrinking and the skip.
    assert np.any(want[1] == 0.0) and np.any(np.abs(want[2]) > delta0)


def test_rprop_matches_pytorch_documented_sequence():
    # torch.optim.Rprop(lr=0.1, etas=(0.5, 1.2)) on the gradients
    # 1, 1, 1, -1, 1 (steps 0.1, 0.12, 0.144, skipped on the flip, then the
    # halved 0.072), as in optax pull request 1725.
    opt = lrjax.scale_by_rprop(0.1)
    state = opt.init(jnp.zeros(1))
    got = []
    for g in [1.0, 1.0, 1.0, -1.0, 1.0]:
        u, state = opt.update(jnp.array([g]), state)
        got.append(float(u[0]))
    _close(got, [0.1, 0.12, 0.144, 0.0, 0.072])


def test_rprop_complex_parts_are_separate_coordinates():
    # Real part keeps its sign (step grows), imaginary part flips (skipped).
    opt = lrjax.scale_by_rprop(0.1)
    state = opt.init(jnp.zeros(1, jnp.complex64))
    u, state = opt.update(jnp.array([1.0 + 1.0j], jnp.complex64), state)
    np.testing.assert_allclose(np.asarray(u), [0.1 + 0.1j], rtol=1e-6)
    u, state = opt.update(jnp.array([2.0 - 1.0j], jnp.complex64), state)
    np.testing.assert_allclose(np.asarray(u), [0.12 + 0.0j], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(state.step_sizes), [0.12 + 0.05j], rtol=1e-6)


def test_rprop_validation_names_arguments():
    with pytest.raises(ValueError, match="max_step_size"):
        lrjax.rprop(0.1, min_step_size=1.0, max_step_size=0.5)
    with pytest.raises(ValueError, match="eta_plus"):
        lrjax.scale_by_rprop(0.1, eta_plus=0.5)
    # Traced values pass through (construction inside jit).
    jax.jit(lambda e: lrjax.scale_by_rprop(0.1, eta_minus=e).init(jnp.zeros(2)))(0.5)
