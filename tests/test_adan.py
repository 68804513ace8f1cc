"""Adan (Xie et al., 2022) against the paper's update rule, in NumPy.

The reference is float64 NumPy transcribing Algorithm 1 in the form optax
documents (where they differ, the test says how); it calls neither lrjax
nor optax.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from fixed_gradients import GRADS, W0, run_lrjax

import lrjax


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
    got, _, state = run_lrjax(opt)
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
