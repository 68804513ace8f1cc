"""Layer-wise DoG (scale_by_distance_over_gradients) against NumPy.

From the paper's LDoG (Ivgi et al. 2023): per leaf,
``r_bar / sqrt(G + eps) * g`` with ``r_bar`` the largest distance from the
initial values (at least ``reps_rel * (1 + ||x_0||)``) and ``G`` the sum of
squared gradient norms. The shared suite adds optax parity.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax


def test_layerwise_dog_three_steps():
    reps, eps, lr = 1e-2, 1e-8, 1.0
    r = np.random.RandomState(0)
    w = {"big": 10.0 * r.randn(3, 2), "small": 0.1 * r.randn(4)}
    w0 = {k: v.copy() for k, v in w.items()}
    d = {k: reps * (1 + np.linalg.norm(v)) for k, v in w.items()}
    gsos = {k: 0.0 for k in w}
    opt = lrjax.chain(
        lrjax.scale_by_distance_over_gradients(reps, eps),
        lrjax.scale_by_learning_rate(lr),
    )
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), w)
    state = opt.init(params)
    for _ in range(3):
        g = {k: r.randn(*v.shape) for k, v in w.items()}
        u, state = opt.update(
            jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), g),
            state,
            params,
        )
        params = lrjax.apply_updates(params, u)
        for k in w:
            d[k] = max(d[k], np.linalg.norm(w[k] - w0[k]))
            gsos[k] += np.sum(g[k] ** 2)
            w[k] = w[k] - lr * d[k] / np.sqrt(gsos[k] + eps) * g[k]
            np.testing.assert_allclose(params[k], w[k], rtol=2e-5, atol=1e-7)
    # Per-leaf rates: the large leaf gets a much larger step size.
    steps = {k: d[k] / np.sqrt(gsos[k]) for k in w}
    assert steps["big"] > 10 * steps["small"]


def test_scalar_parameter_keeps_its_shape_and_complex_uses_the_modulus():
    p = {"s": jnp.asarray(2.0), "c": jnp.asarray([3.0 + 4.0j], jnp.complex64)}
    g = {"s": jnp.asarray(1.0), "c": jnp.asarray([0.0 + 2.0j], jnp.complex64)}
    opt = lrjax.scale_by_distance_over_gradients(reps_rel=0.1, eps=0.0)
    u, _ = opt.update(g, opt.init(p), p)
    assert u["s"].shape == ()  # optax 0.2.8 returns shape (1,) here
    np.testing.assert_allclose(u["s"], 0.1 * (1 + 2.0) / 1.0 * 1.0, rtol=1e-6)
    # |g| = 2, r_bar = 0.1 * (1 + 5): u = 0.6 / 2 * g.
    np.testing.assert_allclose(u["c"], [0.3 * 2.0j], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"reps_rel": 0.0}, "reps_rel"),
        ({"eps": -1.0}, "eps"),
        ({"param_dtype": "int32"}, "param_dtype"),
    ],
)
def test_rejects(kwargs, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        lrjax.scale_by_distance_over_gradients(**kwargs)
