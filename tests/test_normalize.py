"""Fromage, centralisation, normalisation and clipping against NumPy formulas.

References from the papers (Bernstein et al. 2020; Yong et al. 2020; Brock
et al. 2021; Abadi et al. 2016; McMahan et al. 2018) in float64 NumPy, and
optax's same-named functions where the shared suite does not reach (the
per-example functions, ``centralize``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax


def _rand(*shape, seed=0, scale=1.0):
    return scale * np.random.RandomState(seed).randn(*shape)


def _f32(tree):
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), tree)


@pytest.mark.parametrize("lr, min_norm", [(0.01, 1e-6), (0.3, 0.5)])
def test_fromage_three_steps(lr, min_norm):
    w = {"k": _rand(4, 3, seed=1), "b": np.zeros(3)}  # ||b|| = 0: min_norm
    opt = lrjax.fromage(lr, min_norm)
    params = _f32(w)
    state = opt.init(params)
    for t in range(3):
        g = {"k": _rand(4, 3, seed=10 + t), "b": _rand(3, seed=20 + t, scale=0.1)}
        u, state = opt.update(_f32(g), state, params)
        params = lrjax.apply_updates(params, u)
        for k in w:
            ratio = max(np.linalg.norm(w[k]), min_norm) / max(
                np.linalg.norm(g[k]), min_norm
            )
            w[k] = (w[k] - lr * ratio * g[k]) / np.sqrt(1 + lr**2)
            np.testing.assert_allclose(params[k], w[k], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)


def test_fromage_retraction_keeps_a_tiny_shrink():
    # m - 1 = -lr**2 / 2 = -5e-9 at lr = 1e-4, which 1 / sqrt(1 + lr**2) - 1
    # in float32 loses (m rounds to 1).
    opt = lrjax.fromage_retraction(1e-4)
    p = jnp.full(2, 1e3, jnp.float32)
    u, _ = opt.update(jnp.zeros(2), opt.init(p), p)
    np.testing.assert_allclose(u, [-5e-6, -5e-6], rtol=1e-4)


def test_centralize_matches_the_formula_and_optax():
    g = {
        "v": jnp.asarray(_rand(5)),
        "m": jnp.asarray(_rand(3, 4, seed=1)),
        "c": jnp.asarray(_rand(2, 3, 4, seed=2)),
        "s": jnp.asarray(0.5),
    }
    opt = lrjax.centralize()
    u, _ = jax.jit(opt.update)(g, opt.init(g))
    want = {
        "v": np.asarray(g["v"]),  # vectors pass through
        "m": np.asarray(g["m"]) - np.asarray(g["m"]).mean(axis=1, keepdims=True),
        "c": np.asarray(g["c"]) - np.asarray(g["c"]).mean(axis=(1, 2), keepdims=True),
        "s": 0.5,
    }
    for k in g:
        np.testing.assert_allclose(u[k], want[k], rtol=1e-6, atol=1e-7)
    theirs, _ = optax.centralize().update(g, optax.EmptyState())
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), u, theirs
    )
    np.testing.assert_allclose(np.asarray(u["m"]).mean(axis=1), 0.0, atol=1e-6)


def test_centralize_bfloat16_is_rounded_once():
    g = jnp.asarray(_rand(4, 64, seed=3), jnp.bfloat16)
    u, _ = lrjax.centralize().update(g, lrjax.EmptyState())
    gf = np.asarray(g, np.float32)
    want = jnp.asarray(gf - gf.mean(axis=1, keepdims=True)).astype(jnp.bfloat16)
    assert u.dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(u, np.float32), np.asarray(want, np.float32)
    )


def test_normalize_by_update_norm_formula():
    g = {"a": _rand(3), "b": _rand(2, 2, seed=1) + 1j * _rand(2, 2, seed=2)}
    s, eps = 3.0, 0.5
    opt = lrjax.normalize_by_update_norm(s, eps)
    gj = {
        "a": jnp.asarray(g["a"], jnp.float32),
        "b": jnp.asarray(g["b"], jnp.complex64),
    }
    u, _ = opt.update(gj, opt.init(gj))
    norm = np.sqrt(np.sum(g["a"] ** 2) + np.sum(np.abs(g["b"]) ** 2))
    for k in g:
        np.testing.assert_allclose(u[k], s * g[k] / (norm + eps), rtol=1e-5)


def _unit_norm(x, axes):
    return np.sqrt(np.sum(np.abs(x) ** 2, axis=axes, keepdims=True))


def test_adaptive_grad_clip_formula_per_unit():
    clipping, eps = 0.1, 1e-3
    p = {
        "vec": _rand(6, seed=1),
        "dense": _rand(5, 3, seed=2),  # units: columns (axis 0 reduced)
        "conv": _rand(3, 3, 2, 4, seed=3),  # HWIO: units are output channels
        "zero": np.zeros((4, 2)),  # eps keeps it trainable
    }
    g = {k: _rand(*v.shape, seed=9, scale=3.0) for k, v in p.items()}
    g["dense"][:, 1] *= 1e-3  # this unit is not clipped
    axes = {"vec": (0,), "dense": (0,), "conv": (0, 1, 2), "zero": (0,)}
    opt = lrjax.adaptive_grad_clip(clipping, eps)
    u, _ = opt.update(_f32(g), opt.init(_f32(p)), _f32(p))
    for k in p:
        g_n = _unit_norm(g[k], axes[k])
        max_n = clipping * np.maximum(_unit_norm(p[k], axes[k]), eps)
        want = np.where(g_n < max_n, g[k], g[k] * max_n / g_n)
        np.testing.assert_allclose(u[k], want, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(u["dense"][:, 1], g["dense"][:, 1], rtol=1e-6)
    # An explicit axis: rows of a matrix as units.
    opt = lrjax.adaptive_grad_clip(clipping, eps, axis=1)
    u, _ = opt.update(_f32(g["dense"]), opt.init(None), _f32(p["dense"]))
    g_n, p_n = _unit_norm(g["dense"], (1,)), _unit_norm(p["dense"], (1,))
    max_n = clipping * np.maximum(p_n, eps)
    want = np.where(g_n < max_n, g["dense"], g["dense"] * max_n / g_n)
    np.testing.assert_allclose(u, want, rtol=1e-5, atol=1e-8)


def test_adaptive_grad_clip_rejects():
    with pytest.raises(ValueError, match="clipping"):
        lrjax.adaptive_grad_clip(0.0)
    with pytest.raises(TypeError, match="axis"):
        lrjax.adaptive_grad_clip(0.1, axis=1.5)
    opt = lrjax.adaptive_grad_clip(0.1)
    with pytest.raises(ValueError, match="params"):
        opt.update(jnp.ones(3), opt.init(None))
    with pytest.raises(ValueError, match="axis"):
        x = jnp.ones((2,) * 6)
        opt.update(x, opt.init(x), x)


def _dp_reference(grads, clips):
    """Sum over examples of each leaf-group clipped to its bound (NumPy)."""
    n = grads[0].shape[0]
    norms = np.sqrt(sum(np.sum(g.reshape(n, -1) ** 2, axis=1) for g in grads))
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(norms > 0, np.minimum(clips / norms, 1.0), 1.0)
    return [np.tensordot(f, g, axes=1) for g in grads], int(np.sum(f < 1))


def test_per_example_global_norm_clip():
    grads = {"a": _rand(5, 3, seed=1), "b": _rand(5, 2, 2, seed=2, scale=0.1)}
    grads["a"][2] = 0.0
    grads["b"][2] = 0.0  # a zero example: kept (0 / 0 is not NaN)
    got, clipped = lrjax.per_example_global_norm_clip(_f32(grads), 1.0)
    (want_a, want_b), want_clipped = _dp_reference([grads["a"], grads["b"]], 1.0)
    np.testing.assert_allclose(got["a"], want_a, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["b"], want_b, rtol=1e-5, atol=1e-7)
    assert int(clipped) == want_clipped and 0 < want_clipped < 5
    theirs, their_count = optax.per_example_global_norm_clip(_f32(grads), 1.0)
    np.testing.assert_allclose(got["a"], theirs["a"], rtol=1e-6)
    assert int(their_count) == int(clipped)


@pytest.mark.parametrize("uniform", [True, False])
def test_per_example_layer_norm_clip(uniform):
    grads = [_rand(4, 6, seed=3), _rand(4, 2, seed=4, scale=2.0)]
    c = 1.5
    sizes = np.array([6, 2])
    shares = np.full(2, 0.5) if uniform else sizes / sizes.sum()
    got, counts = lrjax.per_example_layer_norm_clip(_f32(grads), c, uniform)
    for i, g in enumerate(grads):
        (want,), want_count = _dp_reference([g], c * np.sqrt(shares[i]))
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-7)
        assert int(counts[i]) == want_count
    theirs, their_counts = optax.per_example_layer_norm_clip(_f32(grads), c, uniform)
    for a, b in zip(got, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert [int(x) for x in counts] == [int(x) for x in their_counts]


def test_per_example_clipping_needs_a_common_batch_axis():
    with pytest.raises(ValueError, match="batch"):
        lrjax.per_example_global_norm_clip([jnp.ones((3, 2)), jnp.ones((4,))], 1.0)
    with pytest.raises(ValueError, match="l2_norm_clip"):
        lrjax.per_example_global_norm_clip([jnp.ones((3, 2))], -1.0)
