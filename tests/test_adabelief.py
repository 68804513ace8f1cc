"""AdaBelief (Zhuang et al., 2020) against the paper's update rule.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm; none calls lrjax or optax.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixed_gradients import GRADS, W0, assert_moment_dtypes, close, run_lrjax

import lrjax


def adabelief_reference(lr, b1, b2, eps, eps_root, nesterov=False):
    w, m, s = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps_root
        if nesterov:
            m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        else:
            m_hat = m / (1 - b1**t)
        w = w - lr * m_hat / (np.sqrt(s / (1 - b2**t)) + eps)
    return w


def test_adabelief_paper_algorithm():
    # The paper uses one epsilon in both places.
    got, _, _ = run_lrjax(lrjax.adabelief(0.1, 0.8, 0.95, 1e-3, 1e-3))
    close(got, adabelief_reference(0.1, 0.8, 0.95, 1e-3, 1e-3))


@pytest.mark.parametrize("nesterov", [False, True])
def test_adabelief_separate_eps_and_eps_root(nesterov):
    opt = lrjax.adabelief(0.1, eps=0.2, eps_root=0.05, nesterov=nesterov)
    got, _, _ = run_lrjax(opt)
    close(got, adabelief_reference(0.1, 0.9, 0.999, 0.2, 0.05, nesterov))


def test_moment_dtypes_are_honoured():
    assert_moment_dtypes(lrjax.scale_by_belief)
