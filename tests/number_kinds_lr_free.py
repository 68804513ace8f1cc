"""NumPy complex references for the learning-rate-free methods (issue 7).

optax.contrib's prodigy and dadapt_adamw square complex gradients (``g * g``
where ``|g|**2`` is meant: their first step is a real ``lr * d`` whatever the
gradient's phase), and its cocob bets ``g * (x - x0)`` without the
conjugate and takes ``max`` of complex numbers. These references follow the
papers' formulas with ``|g|**2`` and ``Re(conj(g) (x - x0))``, in complex128.
Each returns, per step, the updates and the per-parameter state leaves in
the order lrjax's state flattens them.
"""

from __future__ import annotations

import numpy as np
from number_kinds import complex_problem


def _setup():
    params, _, grads = complex_problem()
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    return p, grads


def _grads(grads, p):
    return {k: np.asarray(x, np.complex128) for k, x in grads(p).items()}


def _kw(case):
    return {**case.kwargs, **case.lrjax_kwargs}


def _adam_factor(b1, b2, t):
    return np.sqrt(1 - b2**t) / (1 - b1**t)


def prodigy_reference(case, steps=20):
    """Prodigy (Mishchenko & Defazio, 2024), decoupled, bias-corrected."""
    kw = _kw(case)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    b3 = kw.get("beta3") or np.sqrt(b2)
    eps, d0 = kw.get("eps", 1e-8), kw.get("estim_lr0", 1e-6)
    wd, lr = kw.get("weight_decay", 0.0), case.learning_rate
    p, grads = _setup()
    p0 = {k: x.copy() for k, x in p.items()}
    m = {k: np.zeros_like(x) for k, x in p.items()}
    v = {k: np.zeros(x.shape) for k, x in p.items()}
    s = {k: np.zeros_like(x) for k, x in p.items()}
    d, r, out = d0, 0.0, []
    for t in range(1, steps + 1):
        g = _grads(grads, p)
        dlr = d * lr * _adam_factor(b1, b2, t)
        for k in p:
            m[k] = b1 * m[k] + (1 - b1) * d * g[k]
            v[k] = b2 * v[k] + (1 - b2) * d**2 * np.abs(g[k]) ** 2
            s[k] = b3 * s[k] + (d / d0) * dlr * g[k]
        r = b3 * r + (d / d0) * dlr * sum(
            np.sum(np.real(np.conj(g[k]) * (p0[k] - p[k]))) for k in p
        )
        l1 = sum(np.sum(np.abs(s[k])) for k in p)
        d = max(d, r / l1) if l1 > 0 else d
        u = {k: -dlr * (m[k] / (np.sqrt(v[k]) + d * eps) + wd * p[k]) for k in p}
        state = [x[k] for x in (m, v, s, p0) for k in ("m", "w")]
        out.append((u, state))
        p = {k: p[k] + u[k] for k in p}
    return out


def dadapt_adamw_reference(case, steps=20):
    """D-Adaptation AdamW (Defazio & Mishchenko, 2023), bias-corrected."""
    kw = _kw(case)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    eps, d = kw.get("eps", 1e-8), kw.get("estim_lr0", 1e-6)
    wd, lr, b = kw.get("weight_decay", 0.0), case.learning_rate, np.sqrt(b2)
    p, grads = _setup()
    m = {k: np.zeros_like(x) for k, x in p.items()}
    v = {k: np.zeros(x.shape) for k, x in p.items()}
    s = {k: np.zeros_like(x) for k, x in p.items()}
    r, out = 0.0, []
    for t in range(1, steps + 1):
        g = _grads(grads, p)
        dlr = d * lr * _adam_factor(b1, b2, t)
        # r uses s and v from before this step.
        r = b * r + (1 - b) * dlr * sum(
            np.sum(np.real(np.conj(g[k]) * s[k] / (np.sqrt(v[k]) + eps))) for k in p
        )
        for k in p:
            m[k] = b1 * m[k] + (1 - b1) * dlr * g[k]
            v[k] = b2 * v[k] + (1 - b2) * np.abs(g[k]) ** 2
            s[k] = b * s[k] + (1 - b) * dlr * g[k]
        l1 = sum(np.sum(np.abs(s[k])) for k in p)
        d = max(d, r / ((1 - b) * l1)) if l1 > 0 else d
        u = {k: -m[k] / (np.sqrt(v[k]) + eps) - wd * dlr * p[k] for k in p}
        state = [x[k] for x in (m, v, s) for k in ("m", "w")]
        out.append((u, state))
        p = {k: p[k] + u[k] for k in p}
    return out


def cocob_reference(case, steps=20):
    """COCOB-Backprop (Orabona & Tommasi, 2017, Algorithm 2), lr = 1."""
    kw = _kw(case)
    alpha, eps = kw.get("alpha", 100.0), kw.get("eps", 1e-8)
    assert case.learning_rate == 1.0 and not kw.get("weight_decay")
    p, grads = _setup()
    p0 = {k: x.copy() for k, x in p.items()}
    big_l = {k: np.full(x.shape, eps) for k, x in p.items()}
    big_g = {k: np.zeros(x.shape) for k, x in p.items()}
    big_r = {k: np.zeros(x.shape) for k, x in p.items()}
    big_c = {k: np.zeros_like(x) for k, x in p.items()}
    out = []
    for _ in range(steps):
        g = _grads(grads, p)
        u = {}
        for k in p:
            big_l[k] = np.maximum(big_l[k], np.abs(g[k]))
            big_g[k] = big_g[k] + np.abs(g[k])
            bet = np.real(np.conj(g[k]) * (p[k] - p0[k]))
            big_r[k] = np.maximum(big_r[k] - bet, 0.0)
            big_c[k] = big_c[k] - g[k]
            lk = big_l[k]
            x_new = p0[k] + big_c[k] / (lk * np.maximum(big_g[k] + lk, alpha * lk)) * (
                lk + big_r[k]
            )
            u[k] = x_new - p[k]
        state = [x[k] for x in (p0, big_c, big_l, big_g, big_r) for k in ("m", "w")]
        out.append((u, state))
        p = {k: p[k] + u[k] for k in p}
    return out
