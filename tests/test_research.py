"""Research optimizers against their papers' update rules, written out in NumPy.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm (in optax.contrib's documented form where lrjax follows it); none
calls lrjax or optax. Three steps of lrjax in float32 must agree.
"""

import jax
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
    """Final params and per-step updates, in float32."""
    w = jnp.asarray(w0, jnp.float32)
    state = opt.init(w)
    steps = []
    for g in grads:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, w)
        steps.append(np.asarray(u))
        w = optax.apply_updates(w, u)
    return np.asarray(w), steps


def close(got, want, rtol=1e-5):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)


# --------------------------------------------------------------------------
# ADOPT (Taniguchi et al., 2024), Algorithm 1 with the clipped variant.


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
    got, steps = run_lrjax(opt)
    close(steps[0], np.zeros(3))
    close(got, adopt_reference(0.1, 0.8, 0.5, 1e-3, clip, nesterov))


def test_adopt_clip_bound_is_active_and_constant_bound_accepted():
    # With b2 = 0.5, step 2's |g| / sqrt(v) exceeds 1 = 1**0.25: the clip bites.
    v = 0.5 * GRADS[0] ** 2 + 0.5 * GRADS[1] ** 2
    assert np.max(np.abs(GRADS[2] / np.sqrt(v))) > 2**0.25
    got, _ = run_lrjax(lrjax.adopt(0.1, 0.8, 0.5, 1e-3, clip_value_fn=lambda k: 0.3))
    w, m, v = W0.copy(), np.zeros(3), GRADS[0] ** 2
    for g in GRADS[1:]:
        m = 0.8 * m + 0.2 * np.clip(g / np.sqrt(v), -0.3, 0.3)
        w, v = w - 0.1 * m, 0.5 * v + 0.5 * g**2
    close(got, w)
    close(run_lrjax(lrjax.adopt(0.1, 0.8, 0.5, 1e-3, clip_value_fn=0.3))[0], w)


# --------------------------------------------------------------------------
# AdEMAMix (Pagliardini et al., 2024), Algorithm 1 with schedules for
# alpha and b3 read at step t - 1.


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
    got, _ = run_lrjax(opt)
    want = ademamix_reference(0.1, 0.8, 0.9, lambda t: 0.95, lambda t: 4.0, 1e-3, 0.1)
    close(got, want)


def test_ademamix_schedules():
    # The paper's warm-ups: alpha linear from 0, b3 rising towards its end.
    def alpha(t):
        return 4.0 * np.minimum(t / 2.0, 1.0)

    def b3(t):
        return 0.5 + 0.2 * t

    opt = lrjax.ademamix(0.1, 0.8, 0.9, b3, alpha, 1e-3)
    got, _ = run_lrjax(opt)
    close(got, ademamix_reference(0.1, 0.8, 0.9, b3, alpha, 1e-3, 0.0))


# --------------------------------------------------------------------------
# Simplified AdEMAMix (Morwani et al., 2025): undamped momentum plus alpha * g.


def test_simplified_ademamix():
    lr, b1, b2, alpha, eps, wd = 0.05, 0.7, 0.6, 2.0, 1e-3, 0.1
    w, m, n = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + g
        n = b2 * n + (1 - b2) * g**2
        w = w - lr * ((m + alpha * g) / (np.sqrt(n / (1 - b2**t)) + eps) + wd * w)
    opt = lrjax.simplified_ademamix(lr, b1, b2, alpha, eps, weight_decay=wd)
    close(run_lrjax(opt)[0], w)


# --------------------------------------------------------------------------
# MADGRAD (Defazio & Jelassi, 2021), Algorithm 1 (eps added to the rate as
# optax.contrib does), with coupled L2 decay.


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
    got, _ = run_lrjax(lrjax.madgrad(0.1, momentum, wd, 1e-3))
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
