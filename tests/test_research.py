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
import references

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


# --------------------------------------------------------------------------
# Muon (Jordan et al., 2024): Nesterov momentum, Newton-Schulz, width scale;
# AdamW (Nesterov) for the non-matrix leaves.

NS = (3.4445, -4.7750, 2.0315)
MAT_GRADS = [
    np.array([[0.5, -1.0, 2.0], [0.3, 0.2, -0.4]]),
    np.array([[0.1, 0.3, -0.7], [-0.6, 0.9, 0.2]]),
    np.array([[-1.2, 0.4, 0.9], [0.5, -0.3, 0.8]]),
]
MAT0 = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]])


def newton_schulz(x, steps=5, eps=1e-8):
    x = x / (np.linalg.norm(x) + eps)
    wide = x.shape[0] <= x.shape[1]
    x = x if wide else x.T
    for _ in range(steps):
        a = x @ x.T
        x = NS[0] * x + (NS[1] * a + NS[2] * a @ a) @ x
    return x if wide else x.T


def test_newton_schulz_gives_nearly_orthogonal_rows():
    x = np.random.RandomState(0).randn(4, 7)
    got = np.asarray(lrjax.orthogonalize_via_newton_schulz(jnp.asarray(x), NS))
    close(got, newton_schulz(x), rtol=1e-4)
    # Keller Jordan's coefficients: singular values in about [0.7, 1.2].
    sv = np.linalg.svd(got, compute_uv=False)
    assert sv.min() > 0.6 and sv.max() < 1.25, sv
    u, _, vt = np.linalg.svd(x, full_matrices=False)
    assert np.abs(got - u @ vt).max() < 0.35  # near the polar factor


def test_muon_three_steps():
    lr, beta, wd, adam_wd = 0.1, 0.9, 0.05, 0.01
    b1, b2, eps = 0.8, 0.95, 1e-8
    w, m = MAT0.copy(), np.zeros((2, 3))
    # Vector leaves: NAdamW (references.Adam with the look-ahead).
    v = W0.copy()
    nadamw = references.Adam(lr, b1, b2, eps, weight_decay=adam_wd, nesterov=True)
    for t, (g, gv) in enumerate(zip(MAT_GRADS, GRADS, strict=True), start=1):
        m = beta * m + (1 - beta) * g
        m_hat = beta * m / (1 - beta ** (t + 1)) + (1 - beta) * g / (1 - beta**t)
        scale = np.sqrt(max(1.0, 3 / 2))  # fan_out / fan_in = 3 / 2
        w = w - lr * (scale * newton_schulz(m_hat) + wd * w)
        v = v + nadamw(gv, v)
    opt = lrjax.muon(
        lr,
        beta=beta,
        weight_decay=wd,
        adam_b1=b1,
        adam_b2=b2,
        adam_weight_decay=adam_wd,
    )
    p = {"w": jnp.asarray(MAT0, jnp.float32), "v": jnp.asarray(W0, jnp.float32)}
    state = opt.init(p)
    for g, gv in zip(MAT_GRADS, GRADS, strict=True):
        grads = {"w": jnp.asarray(g, jnp.float32), "v": jnp.asarray(gv, jnp.float32)}
        u, state = opt.update(grads, state, p)
        p = optax.apply_updates(p, u)
    close(p["w"], w, rtol=1e-4)
    close(p["v"], v)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr)


def test_muon_dimension_numbers_match_optax():
    # A conv-like kernel (h, w, in, out): rows = in, columns = out, batched
    # over the spatial axes; plus a leaf routed to Adam by a None spec.
    r = np.random.RandomState(1)
    p = {"k": jnp.asarray(r.randn(2, 2, 3, 4), jnp.float32), "m": jnp.ones((3, 3))}
    dims = {"k": lrjax.MuonDimensionNumbers(2, 3), "m": None}
    twin_dims = {"k": optax.contrib.MuonDimensionNumbers(2, 3), "m": None}
    ours = lrjax.muon(0.1, muon_weight_dimension_numbers=dims, adam_learning_rate=0.01)
    theirs = optax.contrib.muon(
        0.1, muon_weight_dimension_numbers=twin_dims, adam_learning_rate=0.01
    )
    s1, s2 = ours.init(p), theirs.init(p)
    for _ in range(3):
        g = {n: jnp.asarray(r.randn(*x.shape), jnp.float32) for n, x in p.items()}
        u1, s1 = ours.update(g, s1, p)
        u2, s2 = theirs.update(g, s2, p)
        for n in p:
            close(u1[n], u2[n], rtol=1e-4)
    assert lrjax.get_learning_rate(s1) == {"adam": 0.01, "muon": 0.1}
    # optax.contrib's dimension numbers are understood as well.
    same = lrjax.muon(
        0.1, muon_weight_dimension_numbers=twin_dims, adam_learning_rate=0.01
    )
    u3, _ = same.update(g, same.init(p), p)
    u4, _ = theirs.update(g, theirs.init(p), p)
    close(u3["k"], u4["k"], rtol=1e-4)


# --------------------------------------------------------------------------
# Sophia-H (Liu et al., 2023), Algorithm 1, on f(x) = sum(x**2 / 2 + x**4 / 20):
# its Hessian is diagonal, 1 + 0.6 x**2, so every Hutchinson estimate is exact.


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


# --------------------------------------------------------------------------
# SAM (Foret et al., 2021): ascend to w + rho g / ||g||, then step from w with
# the gradient taken there.


def _sam(lr, rho, **kwargs):
    adv = optax.chain(lrjax.normalize(), lrjax.sgd(rho))
    return lrjax.sam(lrjax.sgd(lr), adv, **kwargs)


def test_sam_transparent_steps():
    lr, rho = 0.1, 0.05
    w = W0.copy()
    want = [w + rho * GRADS[0] / np.linalg.norm(GRADS[0])]  # ascent
    want.append(w - lr * GRADS[1])  # outer step with the gradient there
    want.append(want[1] + rho * GRADS[2] / np.linalg.norm(GRADS[2]))
    opt = _sam(lr, rho)
    x = jnp.asarray(W0, jnp.float32)
    state = opt.init(x)
    for g, expected in zip(GRADS, want, strict=True):
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, x)
        x = optax.apply_updates(x, u)
        close(np.asarray(x), expected)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr)  # the outer rate


def _quadratic(p):
    return jnp.sum(
        (p - jnp.asarray([3.0, -1.0, 2.0])) ** 2 * jnp.asarray([1.0, 2.0, 0.5])
    )


@pytest.mark.parametrize("sync_period,reset_state", [(2, True), (3, True), (3, False)])
def test_sam_matches_optax(sync_period, reset_state):
    def run(opt, opaque):
        x = jnp.asarray(W0, jnp.float32)
        state = opt.init(x)
        kw = {"grad_fn": lambda p, i: jax.grad(_quadratic)(p)} if opaque else {}
        for _ in range(12):
            u, state = opt.update(jax.grad(_quadratic)(x), state, x, **kw)
            x = optax.apply_updates(x, u)
        return np.asarray(x)

    for opaque in (False, True):
        ours = lrjax.sam(
            lrjax.adam(0.05),
            optax.chain(lrjax.normalize(), lrjax.sgd(0.1)),
            sync_period,
            reset_state,
            opaque,
        )
        theirs = optax.contrib.sam(
            optax.adam(0.05),
            optax.chain(optax.contrib.normalize(), optax.sgd(0.1)),
            sync_period,
            reset_state,
            opaque,
        )
        close(run(ours, opaque), run(theirs, opaque))


def test_sam_opaque_needs_grad_fn():
    opt = _sam(0.1, 0.05, opaque_mode=True)
    x = jnp.ones(3)
    with pytest.raises(ValueError, match="grad_fn"):
        opt.update(jnp.ones(3), opt.init(x), x)
