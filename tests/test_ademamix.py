"""AdEMAMix (Pagliardini et al., 2024) and simplified AdEMAMix (Morwani et
al., 2025) against their papers' update rules.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm (in optax.contrib's documented form where lrjax follows it);
none calls lrjax or optax. Three steps of lrjax in float32 must agree.
"""

from __future__ import annotations

import numpy as np
from fixed_gradients import GRADS, W0, close, run_lrjax

import lrjax


def ademamix_reference(lr, b1, b2, b3, alpha, eps, wd):
    w, m1, m2, nu = W0.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        b3_t, alpha_t = b3(t - 1), alpha(t - 1)
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b3_t * m2 + (1 - b3_t) * g
        nu = b2 * nu + (1 - b2) * g**2
        m1_hat, nu_hat = m1 / (1 - b1**t), nu / (1 - b2**t)
        w = w - lr * ((m1_hat + alpha_t * m2) / (np.sqrt(nu_hat) + eps) + wd * w)
    return w


def test_ademamix_constant():
    opt = lrjax.ademamix(0.1, 0.8, 0.9, 0.95, 4.0, 1e-3, weight_decay=0.1)
    got, _, _ = run_lrjax(opt)
    want = ademamix_reference(0.1, 0.8, 0.9, lambda t: 0.95, lambda t: 4.0, 1e-3, 0.1)
    close(got, want)


def test_ademamix_schedules():
    # The paper's warm-ups: alpha linear from 0, b3 rising towards its end.
    def alpha(t):
        return 4.0 * np.minimum(t / 2.0, 1.0)

    def b3(t):
        return 0.5 + 0.2 * t

    opt = lrjax.ademamix(0.1, 0.8, 0.9, b3, alpha, 1e-3)
    got, _, _ = run_lrjax(opt)
    close(got, ademamix_reference(0.1, 0.8, 0.9, b3, alpha, 1e-3, 0.0))


def test_simplified_ademamix():
    lr, b1, b2, alpha, eps, wd = 0.05, 0.7, 0.6, 2.0, 1e-3, 0.1
    w, m, n = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + g
        n = b2 * n + (1 - b2) * g**2
        w = w - lr * ((m + alpha * g) / (np.sqrt(n / (1 - b2**t)) + eps) + wd * w)
    opt = lrjax.simplified_ademamix(lr, b1, b2, alpha, eps, weight_decay=wd)
    close(run_lrjax(opt)[0], w)
