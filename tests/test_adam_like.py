"""Yogi and Adan against their papers' update rules, written out in NumPy.

Each reference is float64 NumPy transcribing the paper's algorithm in the
form optax documents (where they differ, the test says how); none calls lrjax
or optax.
"""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

GRADS = [
    np.array([0.5, -1.0, 2.0]),
    np.array([0.1, 0.3, -0.7]),
    np.array([-1.2, 0.4, 0.9]),
]
W0 = np.array([1.0, -2.0, 0.5])


def run_lrjax(opt, grads=GRADS, w0=W0):
    w = jnp.asarray(w0, jnp.float32)
    state = opt.init(w)
    for g in grads:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, w)
        w = optax.apply_updates(w, u)
    return np.asarray(w), state


def yogi_reference(lr, b1, b2, eps, v0=1e-6):
    """Zaheer et al. 2018, Algorithm 2, with Adam's debiasing (optax's form).

    The paper's v_t = v_{t-1} - (1 - b2) sign(v_{t-1} - g_t^2) g_t^2; optax
    (and lrjax) start m at v0 too.
    """
    w, m, v = W0.copy(), np.full(3, v0), np.full(3, v0)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = v - (1 - b2) * np.sign(v - g * g) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w, m, v


@pytest.mark.parametrize("b2", [0.999, 0.5])
def test_yogi_three_steps(b2):
    got, state = run_lrjax(lrjax.yogi(0.1, b1=0.8, b2=b2, eps=1e-3))
    want, m, v = yogi_reference(0.1, 0.8, b2, 1e-3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state[0].mu, m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(state[0].nu, v, rtol=1e-5, atol=1e-7)


def test_yogi_second_moment_moves_additively():
    # One step from v0 = 1 with g = 2: v = 1 - 0.1 * sign(1 - 4) * 4 = 1.4
    # (Adam's EMA would give 0.9 + 0.4 = 1.3).
    opt = lrjax.scale_by_yogi(b2=0.9, initial_accumulator_value=1.0)
    _, state = opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))
    np.testing.assert_allclose(state.nu, [1.4], rtol=1e-6)


def adan_reference(lr, b1, b2, b3, eps, eps_root, wd):
    """Xie et al. 2022, Algorithm 1, in optax's form: each b weighs the old
    average (the paper's beta_k = 1 - b_k), the averages start at 0 and are
    debiased, the difference enters with weight 1 - b2 (the paper writes
    1 - beta_2 = b2 there) and the decay is additive (the paper's is
    proximal)."""
    w = W0.copy()
    m, v, n, g_prev = np.zeros(3), np.zeros(3), np.zeros(3), None
    for t, g in enumerate(GRADS, start=1):
        d = np.zeros(3) if g_prev is None else g - g_prev
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * d
        n = b3 * n + (1 - b3) * (g + (1 - b2) * d) ** 2
        m_hat, v_hat, n_hat = m / (1 - b1**t), v / (1 - b2**t), n / (1 - b3**t)
        eta = lr / (np.sqrt(n_hat + eps_root) + eps)
        w = w - eta * (m_hat + (1 - b2) * v_hat) - lr * wd * w
        g_prev = g
    return w, m, v, n


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adan_three_steps(wd):
    opt = lrjax.adan(
        0.1, b1=0.7, b2=0.6, b3=0.8, eps=1e-3, eps_root=1e-4, weight_decay=wd
    )
    got, state = run_lrjax(opt)
    want, m, v, n = adan_reference(0.1, 0.7, 0.6, 0.8, 1e-3, 1e-4, wd)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for name, ref in (("m", m), ("v", v), ("n", n), ("g", GRADS[-1])):
        np.testing.assert_allclose(getattr(state[0], name), ref, rtol=1e-5, atol=1e-7)
    assert int(state[0].t) == int(state[0].count) == 3


def test_adan_first_step_ignores_the_previous_gradient():
    # At t = 1 the difference is 0 whatever the state's g: with b1 = b3 = 0,
    # u = g / |g| (m_hat = g, v = 0, n_hat = g**2).
    opt = lrjax.scale_by_adan(b1=0.0, b3=0.0, eps=0.0)
    u, _ = opt.update(jnp.array([3.0, -0.5]), opt.init(jnp.ones(2)))
    np.testing.assert_allclose(u, [1.0, -1.0], rtol=1e-6)
