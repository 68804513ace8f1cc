"""Lion, LAMB, LARS, Adafactor and their blocks against hand-written NumPy.

Every reference below is written from the papers' formulas (Chen et al. 2023;
You et al. 2017, 2020; Shazeer & Stern 2018), in float64 NumPy, without
calling lrjax; the shared suite (test_optimizers_common.py) adds optax parity.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import lrjax

RTOL = 1e-5


def _grads(shape, n=3, seed=0, scale=1.0):
    r = np.random.RandomState(seed)
    return [scale * r.randn(*shape).astype(np.float32) for _ in range(n)]


def _close(got, want, rtol=RTOL, atol=1e-7):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


def _rms(x):
    return np.sqrt(np.mean(np.square(x)))


# --------------------------------------------------------------------------
# Lion.


@pytest.mark.parametrize("mode", ["hard", "smooth", "refined"])
def test_scale_by_lion_three_steps(mode):
    # A short momentum memory (b2 = 0.5) and the gradients 1, -3 in one
    # element make sign(c) depend on using m before its update.
    b1, b2, beta = 0.9, 0.5, 2.0
    shaper = {
        "hard": np.sign,
        "smooth": lambda c: np.tanh(beta * c),
        "refined": lambda c: np.clip(c, -1.0, 1.0),
    }[mode]
    opt = lrjax.scale_by_lion(b1, b2, mode=mode, smooth_beta=beta)
    state = opt.init(jnp.zeros((2, 3)))
    m = np.zeros((2, 3))
    grads = _grads((2, 3), scale=2.0)  # |c| on both sides of 1 for "refined"
    grads[0][0, 0], grads[1][0, 0] = 1.0, -3.0
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state)
        c = b1 * m + (1 - b1) * g  # interpolate with the *old* momentum
        m = b2 * m + (1 - b2) * g
        _close(u, shaper(c))
        _close(state.mu, m)
    assert int(state.count) == 3


def test_lion_three_steps_with_masked_weight_decay():
    lr, b1, b2, wd = 0.05, 0.9, 0.99, 0.1
    w = {"a": np.array([1.0, -2.0, 0.5]), "b": np.array([[0.3, -0.7]])}
    mask = {"a": True, "b": False}
    opt = lrjax.lion(lr, b1, b2, weight_decay=wd, mask=mask)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), w)
    state = opt.init(params)
    m = {k: np.zeros_like(v) for k, v in w.items()}
    ga, gb = _grads((3,), seed=1), _grads((1, 2), seed=2)
    for t in range(3):
        g = {"a": ga[t], "b": gb[t]}
        u, state = opt.update(jax.tree_util.tree_map(jnp.asarray, g), state, params)
        params = lrjax.apply_updates(params, u)
        for k in w:
            c = b1 * m[k] + (1 - b1) * g[k]
            w[k] = w[k] - lr * (np.sign(c) + (wd * w[k] if mask[k] else 0.0))
            m[k] = b2 * m[k] + (1 - b2) * g[k]
        chex.assert_trees_all_close(params, w, rtol=RTOL)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, arg",
    [({"mode": "soft"}, "mode"), ({"smooth_beta": 0.0}, "smooth_beta")],
)
def test_scale_by_lion_rejects(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        lrjax.scale_by_lion(**kwargs)


# --------------------------------------------------------------------------
# Trust ratio, LAMB, LARS.


def test_scale_by_trust_ratio_per_leaf():
    params = {
        "a": jnp.array([3.0, 4.0]),  # ||p|| = 5
        "zero_param": jnp.zeros((2, 2)),
        "b": jnp.array([[1.0, 2.0], [2.0, 4.0]]),  # ||p|| = 5
    }
    updates = {
        "a": jnp.array([0.6, 0.8]),  # ||u|| = 1
        "zero_param": jnp.ones((2, 2)),
        "b": jnp.zeros((2, 2)),
    }
    opt = lrjax.scale_by_trust_ratio(trust_coefficient=0.5, eps=1.0)
    out, _ = opt.update(updates, opt.init(params), params)
    _close(out["a"], 0.5 * 5.0 / (1.0 + 1.0) * np.array([0.6, 0.8]))
    _close(out["zero_param"], np.ones((2, 2)))  # ratio 1 where ||p|| = 0
    _close(out["b"], np.zeros((2, 2)))

    # min_norm floors both norms: ||u|| = 1 -> 2.
    opt = lrjax.scale_by_trust_ratio(min_norm=2.0)
    out, _ = opt.update({"a": updates["a"]}, opt.init(None), {"a": params["a"]})
    _close(out["a"], 5.0 / 2.0 * np.array([0.6, 0.8]))

    # The mask leaves unmarked leaves untouched.
    opt = lrjax.scale_by_trust_ratio(mask={"a": False, "zero_param": True, "b": True})
    out, _ = opt.update(updates, opt.init(params), params)
    _close(out["a"], np.array([0.6, 0.8]))


def test_scale_by_trust_ratio_needs_params_and_valid_args():
    opt = lrjax.scale_by_trust_ratio()
    with pytest.raises(ValueError, match="params"):
        opt.update({"a": jnp.ones(2)}, opt.init(None))
    for arg in ("min_norm", "trust_coefficient", "eps"):
        with pytest.raises(ValueError, match=arg):
            lrjax.scale_by_trust_ratio(**{arg: -1.0})


def test_lamb_three_steps():
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.99, 1e-6, 0.01
    w = {"a": np.array([1.0, -2.0, 0.5]), "b": np.array([[30.0, -10.0], [5.0, 1.0]])}
    opt = lrjax.lamb(lr, b1, b2, eps, weight_decay=wd)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), w)
    state = opt.init(params)
    adam = {k: references.Adam(1.0, b1, b2, eps) for k in w}
    ga, gb = _grads((3,), seed=3), _grads((2, 2), seed=4, scale=5.0)
    for t in range(1, 4):
        g = {"a": ga[t - 1], "b": gb[t - 1]}
        u, state = opt.update(jax.tree_util.tree_map(jnp.asarray, g), state, params)
        params = lrjax.apply_updates(params, u)
        for k in w:
            r = adam[k].direction(g[k]) + wd * w[k]
            w[k] = w[k] - lr * np.linalg.norm(w[k]) / np.linalg.norm(r) * r
        chex.assert_trees_all_close(params, w, rtol=RTOL)


def test_lion_and_lamb_moment_dtypes_are_kept():
    params = {"w": jnp.ones((2, 2), jnp.float32)}
    lion = lrjax.lion(1e-3, mu_dtype=jnp.float16)
    lamb = lrjax.lamb(1e-3, mu_dtype=jnp.float16, nu_dtype=jnp.float16)
    for opt in (lion, lamb):
        state = opt.init(params)
        _, new = opt.update(params, state, params)
        chex.assert_trees_all_equal_dtypes(new, state)
        assert state[0].mu["w"].dtype == jnp.float16
    assert state[0].nu["w"].dtype == jnp.float16


@pytest.mark.parametrize("nesterov", [False, True])
def test_lars_three_steps_with_masks(nesterov):
    lr, wd, tc, eps, mom = 0.5, 0.01, 0.02, 1e-3, 0.9
    w = {"a": np.array([1.0, -2.0, 0.5]), "b": np.array([[0.3, -0.7], [2.0, 1.0]])}
    wd_mask = {"a": True, "b": False}
    tr_mask = {"a": False, "b": True}
    opt = lrjax.lars(lr, wd, wd_mask, tc, eps, tr_mask, mom, nesterov)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), w)
    state = opt.init(params)
    vel = {k: np.zeros_like(x) for k, x in w.items()}
    ga, gb = _grads((3,), seed=5), _grads((2, 2), seed=6)
    for t in range(3):
        g = {"a": ga[t], "b": gb[t]}
        u, state = opt.update(jax.tree_util.tree_map(jnp.asarray, g), state, params)
        params = lrjax.apply_updates(params, u)
        for k in w:
            r = g[k] + (wd * w[k] if wd_mask[k] else 0.0)
            local = tc * np.linalg.norm(w[k]) / (np.linalg.norm(r) + eps)
            step = lr * (local if tr_mask[k] else 1.0) * r
            vel[k] = mom * vel[k] + step
            w[k] = w[k] - (step + mom * vel[k] if nesterov else vel[k])
        chex.assert_trees_all_close(params, w, rtol=RTOL)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)


# --------------------------------------------------------------------------
# Factored second moments (Adafactor).


def _beta(t, c=0.8):
    return 1.0 - t ** (-c)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3)])
def test_factored_rms_three_steps_matches_the_papers_row_column_factors(shape):
    eps = 1e-30
    opt = lrjax.scale_by_factored_rms(min_dim_size_to_factor=2, epsilon=eps)
    state = opt.init(jnp.zeros(shape))
    n, m = shape
    R, C = np.zeros(n), np.zeros(m)  # the paper's row and column sums
    for t, g in enumerate(_grads(shape, seed=7), start=1):
        u, state = opt.update(jnp.asarray(g), state)
        G = g.astype(np.float64) ** 2 + eps
        R = _beta(t) * R + (1 - _beta(t)) * G.sum(axis=1)
        C = _beta(t) * C + (1 - _beta(t)) * G.sum(axis=0)
        V = np.outer(R, C) / R.sum()
        _close(u, g / np.sqrt(V))
    # The state keeps means over the largest axis (v_row) and the second
    # largest (v_col): n + m numbers, and v is a placeholder.
    over_largest, over_second = (R / m, C / n) if n < m else (C / n, R / m)
    _close(state.v_row, over_largest)
    _close(state.v_col, over_second)
    assert state.v.shape == (1,)


def test_factored_rms_factors_the_two_largest_axes_of_a_3d_tensor():
    opt = lrjax.scale_by_factored_rms(min_dim_size_to_factor=3)
    state = opt.init(jnp.zeros((2, 4, 6)))
    assert state.v_row.shape == (2, 4) and state.v_col.shape == (2, 6)
    R, C = np.zeros((2, 4)), np.zeros((2, 6))
    for t, g in enumerate(_grads((2, 4, 6), seed=8), start=1):
        u, state = opt.update(jnp.asarray(g), state)
        G = g.astype(np.float64) ** 2 + 1e-30
        R = _beta(t) * R + (1 - _beta(t)) * G.sum(axis=2)
        C = _beta(t) * C + (1 - _beta(t)) * G.sum(axis=1)
        V = R[:, :, None] * C[:, None, :] / R.sum(axis=1)[:, None, None]
        _close(u, g / np.sqrt(V))


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((4,), {}),  # vectors are never factored
        ((3, 5), {"factored": False}),
        ((3, 5), {"min_dim_size_to_factor": 4}),  # second largest axis 3 < 4
    ],
)
def test_unfactored_leaves_keep_a_full_second_moment(shape, kwargs):
    eps = 1e-3
    opt = lrjax.scale_by_factored_rms(epsilon=eps, **kwargs)
    state = opt.init(jnp.zeros(shape))
    assert state.v.shape == shape and state.v_row.shape == (1,)
    v = np.zeros(shape)
    for t, g in enumerate(_grads(shape, seed=9), start=1):
        u, state = opt.update(jnp.asarray(g), state)
        v = _beta(t) * v + (1 - _beta(t)) * (g.astype(np.float64) ** 2 + eps)
        _close(u, g / np.sqrt(v))
        _close(state.v, v)


def test_custom_decay_rate_fn_and_step_offset():
    # A constant decay: v <- 0.5 v + 0.5 g^2.
    opt = lrjax.scale_by_factored_rms(
        decay_rate=0.5, epsilon=0.0, decay_rate_fn=lambda step, rate: rate
    )
    state = opt.init(jnp.zeros(3))
    v = np.zeros(3)
    for g in _grads((3,), seed=10):
        _, state = opt.update(jnp.asarray(g), state)
        v = 0.5 * v + 0.5 * g.astype(np.float64) ** 2
        _close(state.v, v)
    # With count == step_offset the schedule restarts: beta = 0, v = g^2.
    opt = lrjax.scale_by_factored_rms(step_offset=5, epsilon=0.0)
    state = opt.init(jnp.zeros(3))._replace(count=jnp.asarray(5), v=jnp.ones(3))
    g = jnp.array([1.0, -2.0, 3.0])
    _, state = opt.update(g, state)
    _close(state.v, np.square(g))
    # A count below the offset is clipped to the first step (still finite).
    fresh = opt.init(jnp.zeros(3))
    u, _ = opt.update(g, fresh)
    _close(u, np.sign(g))


def test_decay_rate_pow_formula():
    steps = jnp.array([0, 1, 9, 2**31 - 1])
    want = 1.0 - (np.array([0, 1, 9, 2**31 - 1], np.float64) + 1.0) ** -0.8
    _close(lrjax.transforms.adafactor.decay_rate_pow(steps, 0.8), want, rtol=1e-6)


def test_factored_statistics_dtypes():
    params = {"w": jnp.ones((4, 6), jnp.bfloat16), "b": jnp.ones(6, jnp.bfloat16)}
    opt = lrjax.scale_by_factored_rms(min_dim_size_to_factor=2)
    state = opt.init(params)
    u, new = opt.update(params, state)
    chex.assert_trees_all_equal_shapes_and_dtypes(u, params)
    chex.assert_trees_all_equal_dtypes(new, state)
    assert state.v_row["w"].dtype == jnp.bfloat16
    opt = lrjax.adafactor(
        0.1, 2, momentum=0.5, dtype_momentum=jnp.float16, nu_dtype=jnp.float16
    )
    state = opt.init(params)
    _, new = opt.update(params, state, params)
    chex.assert_trees_all_equal_dtypes(new, state)
    assert state[0].v_row["w"].dtype == state[0].v["b"].dtype == jnp.float16
    assert state[4].ema["w"].dtype == jnp.float16


def test_factored_statistics_keep_the_sharding_of_their_axes():
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    w = jax.device_put(jnp.ones((8, 6)), NamedSharding(mesh, P("data", "model")))
    opt = lrjax.scale_by_factored_rms(min_dim_size_to_factor=2)
    state = jax.jit(opt.init)(w)
    _, state = jax.jit(opt.update)(w, state)
    # v_row averages the largest axis (8, "data") away, v_col the other one.
    assert state.v_row.sharding.is_equivalent_to(NamedSharding(mesh, P("model")), 1)
    assert state.v_col.sharding.is_equivalent_to(NamedSharding(mesh, P("data")), 1)


def test_block_rms_clipping_and_parameter_scale():
    u = {"big": jnp.array([3.0, 4.0]), "small": jnp.array([0.1, -0.1])}
    out, _ = lrjax.clip_by_block_rms(2.0).update(u, None)
    _close(out["big"], np.array([3.0, 4.0]) / (_rms([3.0, 4.0]) / 2.0))
    _close(out["small"], np.array([0.1, -0.1]))
    p = {"big": jnp.array([1.0, 7.0]), "small": jnp.array([1e-4, 0.0])}
    out, _ = lrjax.scale_by_param_block_rms(1e-3).update(u, None, p)
    _close(out["big"], np.array([3.0, 4.0]) * 5.0)
    _close(out["small"], np.array([0.1, -0.1]) * 1e-3)  # RMS floored at min_scale


def test_factored_blocks_reject_invalid_arguments():
    cases = [
        (lambda: lrjax.scale_by_factored_rms(min_dim_size_to_factor=0), "min_dim"),
        (lambda: lrjax.scale_by_factored_rms(epsilon=-1.0), "epsilon"),
        (lambda: lrjax.scale_by_factored_rms(decay_rate_fn=0.8), "decay_rate_fn"),
        (lambda: lrjax.clip_by_block_rms(0.0), "threshold"),
        (lambda: lrjax.scale_by_param_block_rms(-1.0), "min_scale"),
    ]
    for make, arg in cases:
        with pytest.raises((ValueError, TypeError), match=arg):
            make()


def test_adafactor_three_steps_full_chain():
    lr, d, mom, wd, eps = 0.05, 1.0, 0.9, 0.01, 1e-30
    w = {
        "mat": np.array([[1.0, -2.0, 0.5], [0.2, 0.3, -0.4]]),
        "vec": np.array([2.0, -1.0]),
    }
    opt = lrjax.adafactor(
        lr, min_dim_size_to_factor=2, momentum=mom, weight_decay_rate=wd
    )
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), w)
    state = opt.init(params)
    R, C, v = np.zeros(2), np.zeros(3), np.zeros(2)
    m = {k: np.zeros_like(x) for k, x in w.items()}
    gm, gv = _grads((2, 3), seed=11, scale=3.0), _grads((2,), seed=12)
    clipped = False
    for t in range(1, 4):
        g = {"mat": gm[t - 1].astype(np.float64), "vec": gv[t - 1].astype(np.float64)}
        u, state = opt.update(jax.tree_util.tree_map(jnp.asarray, g), state, params)
        params = lrjax.apply_updates(params, u)
        beta = _beta(t)
        G = g["mat"] ** 2 + eps
        R = beta * R + (1 - beta) * G.sum(axis=1)
        C = beta * C + (1 - beta) * G.sum(axis=0)
        v = beta * v + (1 - beta) * (g["vec"] ** 2 + eps)
        dirs = {
            "mat": g["mat"] / np.sqrt(np.outer(R, C) / R.sum()),
            "vec": g["vec"] / np.sqrt(v),
        }
        for k in w:
            step = dirs[k] / max(1.0, _rms(dirs[k]) / d)
            clipped |= _rms(dirs[k]) > d
            step = lr * step * max(1e-3, _rms(w[k]))  # relative step
            m[k] = mom * m[k] + (1 - mom) * step
            w[k] = w[k] - (m[k] + wd * w[k])
        chex.assert_trees_all_close(params, w, rtol=RTOL)
    assert clipped, "the test should exercise the RMS clipping"
    assert state[4].ema["mat"].dtype == jnp.float32  # dtype_momentum


def test_adafactor_without_learning_rate_uses_the_relative_step():
    params = {"w": jnp.array([0.5, -1.0, 2.0])}
    grads = {"w": jnp.array([1.0, 2.0, -3.0])}
    opt = lrjax.adafactor()
    state = opt.init(params)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 1e-2, rtol=1e-6)
    u, state = opt.update(grads, state, params)
    # First step: u = g / |g| = sign(g) (RMS 1, no clipping), times
    # rho_1 = min(1e-2, 1) and the parameters' RMS.
    want = -1e-2 * _rms(np.array([0.5, -1.0, 2.0])) * np.sign(grads["w"])
    _close(u["w"], want)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 1e-2, rtol=1e-6)
    # From t = 10^4 on, rho_t = 1 / sqrt(t).
    counts = jnp.array([0, 9_998, 9_999, 39_999])
    want = np.minimum(1e-2, 1.0 / np.sqrt(np.array([1, 9_999, 10_000, 40_000.0])))
    _close(lrjax.adafactor_relative_step(counts), want)
