"""Scalars derived from hyperparameters are computed without cancellation.

Reference: the same formulas in float64 NumPy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax
from lrjax import _numerics as num


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 0.999, 0.9999, 0.99999])
def test_bias_correction_matches_float64(decay):
    steps = np.asarray([1, 2, 3, 10, 100, 1000, 10_000, 100_000, 2**31 - 1])
    got = np.asarray(jax.vmap(lambda t: num.bias_correction(decay, t))(steps))
    with np.errstate(divide="ignore"):
        want = 1.0 / (1.0 - np.float64(decay) ** steps)
    # float32 rounding of log(decay) times the exponent, plus a few ulps.
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_adam_b2_close_to_one_first_steps_match_float64():
    # With b2 = 0.9999 the first update of Adam is g / |g| (times lr) exactly;
    # a float32 1 - b2**t loses four digits and tilts it by ~2e-4.
    b1, b2, lr = 0.9, 0.9999, 1e-3
    g = np.asarray([0.3, -2.0, 5.0e-3], np.float64)
    opt = lrjax.adam(lr, b1=b1, b2=b2, eps=0.0)
    params = jnp.zeros(3)
    state = opt.init(params)
    m = v = np.zeros(3)
    for t in range(1, 6):
        u, state = opt.update(jnp.asarray(g * t, jnp.float32), state, params)
        m = b1 * m + (1 - b1) * g * t
        v = b2 * v + (1 - b2) * (g * t) ** 2
        want = -lr * (m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t))
        np.testing.assert_allclose(np.asarray(u), want, rtol=2e-6)


def test_bias_correction_is_float64_under_x64():
    with jax.enable_x64(True):
        corr = num.bias_correction(0.999, jnp.asarray(3))
        assert corr.dtype == jnp.float64
        np.testing.assert_allclose(float(corr), 1 / (1 - 0.999**3), rtol=1e-14)
