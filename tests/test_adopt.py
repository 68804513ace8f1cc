"""ADOPT (Taniguchi et al., 2024), Algorithm 1 with the clipped variant.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm (in optax.contrib's documented form where lrjax follows it);
none calls lrjax or optax. Three steps of lrjax in float32 must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixed_gradients import GRADS, W0, close, run_lrjax

import lrjax


def adopt_reference(lr, b1, b2, eps, clip, nesterov):
    w, m = W0.copy(), np.zeros(3)
    v = GRADS[0] ** 2  # step 0 only initialises v
    for k, g in enumerate(GRADS[1:], start=1):
        r = g / np.maximum(np.sqrt(v), eps)
        if clip:
            r = np.clip(r, -(k**0.25), k**0.25)
        m = b1 * m + (1 - b1) * r
        step = b1 * m + (1 - b1) * r if nesterov else m
        w = w - lr * step
        v = b2 * v + (1 - b2) * g**2
    return w


@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("nesterov", [False, True])
def test_adopt(clip, nesterov):
    opt = lrjax.adopt(0.1, 0.8, 0.5, 1e-3, nesterov=nesterov, use_clipping=clip)
    got, steps, _ = run_lrjax(opt)
    close(steps[0], np.zeros(3))
    close(got, adopt_reference(0.1, 0.8, 0.5, 1e-3, clip, nesterov))


def test_adopt_clip_bound_is_active_and_constant_bound_accepted():
    # With b2 = 0.5, step 2's |g| / sqrt(v) exceeds 1 = 1**0.25: the clip bites.
    v = 0.5 * GRADS[0] ** 2 + 0.5 * GRADS[1] ** 2
    assert np.max(np.abs(GRADS[2] / np.sqrt(v))) > 2**0.25
    got, _, _ = run_lrjax(lrjax.adopt(0.1, 0.8, 0.5, 1e-3, clip_value_fn=lambda k: 0.3))
    w, m, v = W0.copy(), np.zeros(3), GRADS[0] ** 2
    for g in GRADS[1:]:
        m = 0.8 * m + 0.2 * np.clip(g / np.sqrt(v), -0.3, 0.3)
        w, v = w - 0.1 * m, 0.5 * v + 0.5 * g**2
    close(got, w)
    close(run_lrjax(lrjax.adopt(0.1, 0.8, 0.5, 1e-3, clip_value_fn=0.3))[0], w)
