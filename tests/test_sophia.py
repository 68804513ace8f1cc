"""Sophia-H (Liu et al., 2023) against the paper's Algorithm 1.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm (in optax.contrib's documented form where lrjax follows it);
none calls lrjax or optax. Three steps of lrjax in float32 must agree.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fixed_gradients import GRADS, W0, close

import lrjax


def _quartic(x):
    return jnp.sum(0.5 * x**2 + 0.05 * x**4)


@pytest.mark.parametrize("interval,clip", [(1, 1.0), (2, 0.3), (1, None)])
def test_sophia(interval, clip):
    lr, b1, b2, gamma, eps, wd = 0.1, 0.8, 0.7, 0.5, 1e-8, 0.01
    w, m, h = W0.copy(), np.zeros(3), np.zeros(3)
    for k, g in enumerate(GRADS):
        m = b1 * m + (1 - b1) * g
        u = m / (1 - b1 ** (k + 1)) / np.maximum(gamma * h, eps)
        if clip is not None:
            u = np.clip(u, -clip, clip)
        if k % interval == 0:  # refreshed after the step, from the params
            h = b2 * h + (1 - b2) * (1 + 0.6 * w**2)
        w = w - lr * (u + wd * w)
    opt = lrjax.sophia(
        lr, b1, b2, eps, wd, gamma=gamma, clip_threshold=clip, update_interval=interval
    )
    x = jnp.asarray(W0, jnp.float32)
    state = opt.init(x)
    for g in GRADS:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, x, obj_fn=_quartic)
        x = optax.apply_updates(x, u)
    close(np.asarray(x), w)


def test_sophia_needs_the_loss():
    opt = lrjax.sophia(0.1)
    x = jnp.ones(3)
    with pytest.raises(ValueError, match="obj_fn"):
        opt.update(jnp.ones(3), opt.init(x), x)
