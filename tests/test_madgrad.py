"""MADGRAD (Defazio & Jelassi, 2021) against the paper's Algorithm 1.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm (in optax.contrib's documented form where lrjax follows it);
none calls lrjax or optax. Three steps of lrjax in float32 must agree.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixed_gradients import GRADS, W0, close, run_lrjax

import lrjax


def madgrad_reference(lr, momentum, eps, wd):
    w, s, v = W0.copy(), np.zeros(3), np.zeros(3)
    for k, g in enumerate(GRADS):
        g = g + wd * w
        lam = (lr + eps) * np.sqrt(k + 1)
        s, v = s + lam * g, v + lam * g**2
        z = W0 - s / (np.cbrt(v) + eps)
        w = momentum * w + (1 - momentum) * z
    return w


@pytest.mark.parametrize("momentum,wd", [(0.9, 0.0), (0.5, 0.1)])
def test_madgrad(momentum, wd):
    got, _, _ = run_lrjax(lrjax.madgrad(0.1, momentum, wd, 1e-3))
    close(got, madgrad_reference(0.1, momentum, 1e-3, wd))


def test_madgrad_float64():
    with jax.enable_x64(True):
        opt = lrjax.madgrad(0.1, 0.5, 0.1)
        w = jnp.asarray(W0)
        state = opt.init(w)
        for g in GRADS:
            u, state = opt.update(jnp.asarray(g), state, w)
            w = w + u
        assert w.dtype == jnp.float64
        np.testing.assert_allclose(
            w, madgrad_reference(0.1, 0.5, 1e-6, 0.1), rtol=1e-13
        )
        np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.1)
