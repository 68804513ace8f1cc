"""Muon (Jordan et al., 2024) against a NumPy transcription, and against
optax.contrib's muon for its dimension numbers.

The NumPy reference: Nesterov momentum, Newton-Schulz orthogonalisation,
the width scale, and NAdamW for the non-matrix leaves.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import references
from fixed_gradients import GRADS, W0, close

import lrjax

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
