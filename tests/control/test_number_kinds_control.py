"""Number kinds for the control blocks outside the case suite (issue 7).

sgd_hd, adam_hd, mechanize, ema_params and polyak_averaging:

* complex parameters against NumPy complex128 references written here
  (``|g|**2`` for second moments, ``Re(sum conj(a) b)`` for inner products);
* float16/bf16: each step equals the float32 step on the float32-cast
  gradient, state and params, rounded once to the declared dtypes;
* Python-scalar update leaves: the values of float32-array leaves, in the
  dtype of the state they meet (optax's rule).
"""

from __future__ import annotations

import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from number_kinds import (  # noqa: E402
    close_in,
    complex_problem,
    low_precision_problem,
    run_complex,
    to_float32,
)
from references import Adam  # noqa: E402

import lrjax  # noqa: E402

BLOCKS = {
    "sgd_hd": lambda: lrjax.sgd_hd(1e-3, 1e-10),
    "sgd_hd_momentum": lambda: lrjax.sgd_hd(1e-3, 1e-10, momentum=0.9),
    "adam_hd": lambda: lrjax.adam_hd(1e-2, 1e-5),
    "mechanize": lambda: lrjax.mechanize(lrjax.sgd(1e-2)),
    "ema_params": lambda: optax.chain(lrjax.sgd(1e-2), lrjax.ema_params(0.9)),
    "polyak_averaging": lambda: optax.chain(lrjax.sgd(1e-2), lrjax.polyak_averaging(2)),
}


def _complex_grads_and_params():
    params, _, grads = complex_problem()
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    return p, lambda q: {k: np.asarray(x, np.complex128) for k, x in grads(q).items()}


def _sgd_hd_reference(steps=20, lr=1e-3, beta=1e-10):
    p, grads = _complex_grads_and_params()
    prev = {k: np.zeros_like(x) for k, x in p.items()}
    alpha, out = lr, []
    for _ in range(steps):
        g = grads(p)
        alpha = alpha + beta * sum(np.sum(np.real(np.conj(g[k]) * prev[k])) for k in p)
        u = {k: -alpha * g[k] for k in p}
        out.append(u)
        prev = g
        p = {k: p[k] + u[k] for k in p}
    return out


def _adam_hd_reference(steps=20, lr=1e-2, beta=1e-5, b1=0.9, b2=0.999, eps=1e-8):
    p, grads = _complex_grads_and_params()
    # The previous step's Adam direction (tests/references.py, complex128).
    adam = {k: Adam(1.0, b1, b2, eps) for k in p}
    d = {k: np.zeros_like(x) for k, x in p.items()}
    alpha, out = lr, []
    for _ in range(steps):
        g = grads(p)
        alpha = alpha + beta * sum(np.sum(np.real(np.conj(g[k]) * d[k])) for k in p)
        d = {k: adam[k].direction(g[k]) for k in p}
        u = {k: -alpha * d[k] for k in p}
        out.append(u)
        p = {k: p[k] + u[k] for k in p}
    return out


def _mechanize_reference(steps=20, lr=1e-2, wd=1e-2, eps=1e-8, s_init=1e-6, n=6):
    """Mechanic around SGD(lr), in complex128 with Re<a, b> inner products.

    The discounts are float32(1 - 10**-i), as documented (the float64 values
    would differ by up to 3e-2 in 1 - beta_6).
    """
    betas = np.asarray(np.float32(1 - 0.1 ** np.arange(1, n + 1)), np.float64)
    p, grads = _complex_grads_and_params()
    x0 = {k: x.copy() for k, x in p.items()}
    r, m, v = np.zeros(n), np.zeros(n), np.zeros(n)
    s, out = np.full(n, s_init), []
    for _ in range(steps):
        g = grads(p)
        big_s = s.sum()
        norm_g = np.sqrt(sum(np.sum(np.abs(g[k]) ** 2) for k in p))
        norm_x = np.sqrt(sum(np.sum(np.abs(p[k]) ** 2) for k in p))
        decayed = {k: g[k] + wd * big_s * norm_g / (norm_x + eps) * p[k] for k in p}
        delta = {k: (p[k] - x0[k]) / (big_s + eps) for k in p}
        h = -sum(np.sum(np.real(np.conj(decayed[k]) * delta[k])) for k in p)
        clipped = np.clip(h, -m, m)
        m = np.maximum(betas * m, abs(h) + eps)
        v = betas**2 * v + h**2
        r = betas * r + clipped * s
        s = (s_init / n * m + np.maximum(r, 0.0)) / (np.sqrt(v) + eps)
        new = {k: x0[k] + s.sum() * (delta[k] - lr * g[k]) for k in p}
        u = {k: new[k] - p[k] for k in p}
        out.append(u)
        p = new
    return out


def _averaging_reference(weight, steps=20, lr=1e-2):
    """SGD iterates and their average mixed with ``weight(t)``."""
    p, grads = _complex_grads_and_params()
    avg, out = {k: x.copy() for k, x in p.items()}, []
    for t in range(1, steps + 1):
        g = grads(p)
        u = {k: -lr * g[k] for k in p}
        p = {k: p[k] + u[k] for k in p}
        w = weight(t)
        avg = {k: avg[k] + w * (p[k] - avg[k]) for k in p}
        out.append((u, avg))
    return out


def _polyak_weight(t, start=2):
    # avg_t = theta_t before start_step, then the running mean.
    return 1.0 if t < start else 1.0 / (t - start + 1)


# rtol: 3e-5 where Adam-style bias corrections are involved (float32 runs vs
# complex128 references); 1e-5 for plain float32 arithmetic. atol, as a
# fraction of the largest update: the hypergradient's rate comes from
# whole-tree sums, whose float32 rounding lands on small elements (1e-6).
# Mechanic returns x_new - x with x ~ 2 and steps ~1e-5 at first: the
# float32 rounding of x (2.4e-7) is the update's error, hence an absolute
# 7e-7 (three of those ulps) on top. It also recomputes Delta = (x - x0) / S
# from the rounded x (as optax does), 2e-2 off relative to |x - x0| at first,
# which h and s carry on: measured 4e-4 of the largest update by step 20
# (a missing conjugate or g**2 would be off by O(1)).
COMPLEX_CASES = {
    "sgd_hd": (_sgd_hd_reference, 1e-5, 1e-6, 0.0),
    "adam_hd": (_adam_hd_reference, 3e-5, 1e-6, 0.0),
    "mechanize": (_mechanize_reference, 1e-5, 1e-3, 7e-7),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_updates_match_numpy_reference(name):
    reference, rtol, of_max, atol_x = COMPLEX_CASES[name]
    _, _, ours = run_complex(BLOCKS[name]())
    want = reference()
    for k, ((u, _), u_ref) in enumerate(zip(ours, want, strict=True)):
        atol = of_max * max(np.max(np.abs(x)) for x in u_ref.values()) + atol_x
        for key in u:
            assert u[key].dtype == jnp.complex64
            np.testing.assert_allclose(
                u[key], u_ref[key], rtol=rtol, atol=atol, err_msg=f"{key} step {k}"
            )
    assert any(np.any(np.imag(x) != 0) for x in ours[0][0].values())


@pytest.mark.parametrize(
    "name,weight",
    [("ema_params", lambda t: 0.1), ("polyak_averaging", _polyak_weight)],
)
def test_complex_averages_match_numpy_reference(name, weight):
    _, _, ours = run_complex(BLOCKS[name]())
    want = _averaging_reference(weight)
    for (u, state), (u_ref, avg_ref) in zip(ours, want, strict=True):
        avg = lrjax.averaged_params(state)
        # float32 SGD vs complex128 over 20 steps: rounding of the iterates
        # reaches small update elements (measured 2.5e-6 of the largest).
        atol = 1e-5 * max(np.max(np.abs(x)) for x in u_ref.values())
        for key in u:
            np.testing.assert_allclose(u[key], u_ref[key], rtol=1e-5, atol=atol)
            assert avg[key].dtype == jnp.complex64
            np.testing.assert_allclose(avg[key], avg_ref[key], rtol=1e-5, atol=1e-6)


_AVERAGE_WEIGHTS = {"ema_params": lambda t: 0.1, "polyak_averaging": _polyak_weight}

_LOW_PRECISION = [
    (jnp.float16, 1e-4),
    (jnp.float16, 1e2),
    (jnp.float16, 1e-6),
    (jnp.bfloat16, 1e-4),
    (jnp.bfloat16, 1e2),
]


def _leaf_dtypes(tree):
    return [jnp.asarray(x).dtype for x in jax.tree_util.tree_leaves(tree)]


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize(
    "dtype,scale",
    _LOW_PRECISION,
    ids=[f"{d.__name__}-{s:g}" for d, s in _LOW_PRECISION],
)
def test_low_precision_steps_equal_float32_steps(name, dtype, scale):
    params, grads = low_precision_problem(dtype, scale)
    opt = BLOCKS[name]()
    state = opt.init(params)
    declared = _leaf_dtypes(state)
    for k, g in enumerate(grads):
        u, new_state = opt.update(g, state, params)
        u_ref, state_ref = opt.update(
            to_float32(g), to_float32(state), to_float32(params)
        )
        chex.assert_trees_all_equal_dtypes(u, params)
        assert _leaf_dtypes(new_state) == declared, f"step {k}"
        close_in(dtype, u, u_ref)
        new_params = optax.apply_updates(params, u)
        if name in _AVERAGE_WEIGHTS:
            # The average mixes in the iterate the parameter holds (rounded to
            # its dtype, by design), not the float32 p + u: the reference is
            # the float32 mix of the old average and the held iterate.
            w = _AVERAGE_WEIGHTS[name](k + 1)
            old, held = to_float32(lrjax.averaged_params(state)), to_float32(new_params)
            want = jax.tree.map(lambda a, x, w=w: a + w * (x - a), old, held)
            close_in(dtype, lrjax.averaged_params(new_state), want)
        else:
            close_in(dtype, new_state, state_ref)
        params, state = new_params, new_state


def _scalar_leaf_problem():
    params = {
        "a": jnp.asarray(1.0, jnp.float32),
        "h": jnp.asarray(0.5, jnp.bfloat16),
        "v": jnp.asarray([0.5, -1.0], jnp.float32),
    }
    grads = [
        {"a": 1.0, "h": -2.0, "v": jnp.asarray([0.3, 0.1], jnp.float32)},
        {"a": 0.5, "h": 3.0, "v": jnp.asarray([-0.2, 0.4], jnp.float32)},
    ]
    return params, grads


# Blocks whose Python-scalar leaves meet per-parameter state of the
# parameter's dtype (bf16 for 'h'); the averages pass the plain-SGD update
# through (a float32 scalar, as optax.sgd gives).
_STATEFUL = {"sgd_hd", "sgd_hd_momentum", "adam_hd", "mechanize"}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_python_scalar_update_leaves(name):
    # Values: the same block run on the same params with the leaves given as
    # float32 arrays, to the precision of the leaf's dtype.
    params, grads = _scalar_leaf_problem()
    opt = BLOCKS[name]()
    s, s_ref = opt.init(params), opt.init(params)
    for g in grads:
        u, s = opt.update(g, s, params)
        g_arr = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), g)
        u_ref, s_ref = opt.update(g_arr, s_ref, params)
        for k in u:
            got = jnp.asarray(u[k])
            if isinstance(g[k], float):
                want_dtype = params[k].dtype if name in _STATEFUL else jnp.float32
            else:
                want_dtype = g[k].dtype
            assert got.dtype == want_dtype, k
            rtol = 1e-5 if got.dtype == jnp.float32 else 1.6e-2
            np.testing.assert_allclose(
                np.asarray(got, np.float32),
                np.asarray(jnp.asarray(u_ref[k]).astype(got.dtype), np.float32),
                rtol=rtol,
                atol=1e-7,
                err_msg=k,
            )
        params = optax.apply_updates(params, u)
