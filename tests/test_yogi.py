"""Yogi (Zaheer et al., 2018) against the paper's update rule, in NumPy.

The reference is float64 NumPy transcribing Algorithm 2 in the form optax
documents (where they differ, the test says how); it calls neither lrjax
nor optax.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from fixed_gradients import GRADS, W0, run_lrjax

import lrjax


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
    got, _, state = run_lrjax(lrjax.yogi(0.1, b1=0.8, b2=b2, eps=1e-3))
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
