"""add_noise and noisy_sgd against the paper's formula and the documented draws.

Neelakantan et al. (2015): ``g + N(0, eta / (1 + t)**gamma)``. The noise's
law is tested statistically against that variance; its values against draws
written here from the documented scheme (split the key into the next key and
a sample key, the sample key into one key per leaf, ``jax.random.normal``
per leaf), which is optax's, so the shared suite's optax parity compares the
same noisy runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax


def _documented_noise(key, shapes, steps):
    """The per-step, per-leaf standard normal draws of the documented scheme."""
    out = []
    for _ in range(steps):
        key, sample = jax.random.split(key)
        leaf_keys = jax.random.split(sample, len(shapes))
        out.append(
            [
                np.asarray(jax.random.normal(k, s), np.float64)
                for k, s in zip(leaf_keys, shapes, strict=True)
            ]
        )
    return out


def test_noisy_sgd_three_steps():
    lr, eta, gamma = 0.1, 0.3, 0.55
    w = {"a": np.array([1.0, -2.0, 0.5]), "b": np.array([[0.3, -0.7], [2.0, 0.1]])}
    r = np.random.RandomState(0)
    grads = [{k: r.randn(*v.shape) for k, v in w.items()} for _ in range(3)]
    noise = _documented_noise(jax.random.key(7), [w["a"].shape, w["b"].shape], 3)
    opt = lrjax.noisy_sgd(lr, eta, gamma, key=jax.random.key(7))
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), w)
    state = opt.init(params)
    for t in range(3):
        g = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), grads[t])
        u, state = opt.update(g, state, params)
        params = lrjax.apply_updates(params, u)
        sigma = np.sqrt(eta / (1 + t) ** gamma)
        for i, k in enumerate(("a", "b")):  # tree order
            w[k] = w[k] - lr * (grads[t][k] + sigma * noise[t][i])
            np.testing.assert_allclose(params[k], w[k], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)


@pytest.mark.parametrize("eta, gamma", [(0.5, 0.55), (2.0, 1.5)])
def test_noise_law_matches_the_annealed_variance(eta, gamma):
    # Zero gradients: the update is the noise. Sample mean and variance over
    # n = 200k elements per step, against 0 and eta / (1 + t)**gamma, to six
    # standard errors; consecutive steps uncorrelated.
    n = 200_000
    opt = lrjax.add_noise(eta, gamma, key=3)
    zeros = {"x": jnp.zeros((n // 4, 4))}
    state = opt.init(zeros)
    previous = None
    for t in range(4):
        u, state = opt.update(zeros, state)
        x = np.asarray(u["x"], np.float64).ravel()
        var = eta / (1 + t) ** gamma
        assert abs(x.mean()) < 6 * np.sqrt(var / n), (t, x.mean())
        assert abs(x.var() / var - 1) < 6 * np.sqrt(2 / n), (t, x.var(), var)
        if previous is not None:
            assert abs(np.corrcoef(x, previous)[0, 1]) < 6 / np.sqrt(n)
        previous = x
    assert int(state.count) == 4


def test_complex_noise_splits_the_variance_between_parts():
    n, eta = 200_000, 0.8
    opt = lrjax.add_noise(eta, 0.55, key=5)
    zeros = jnp.zeros(n, jnp.complex64)
    u, _ = opt.update(zeros, opt.init(zeros))
    u = np.asarray(u)
    for part in (u.real, u.imag):
        assert abs(part.var() / (eta / 2) - 1) < 6 * np.sqrt(2 / n)
    assert abs(np.corrcoef(u.real, u.imag)[0, 1]) < 6 / np.sqrt(n)


def test_noise_is_a_pure_function_of_key_and_step():
    g = {"a": jnp.ones(4), "b": jnp.zeros((2, 3))}

    def run(opt, steps=3):
        state, outs = opt.init(g), []
        for _ in range(steps):
            u, state = jax.jit(opt.update)(g, state)
            outs.append(u)
        return outs

    same = [run(lrjax.add_noise(0.1, 0.55, key=k)) for k in (11, 11)]
    typed = run(lrjax.add_noise(0.1, 0.55, key=jax.random.key(11)))
    raw = run(lrjax.add_noise(0.1, 0.55, key=jax.random.PRNGKey(11)))
    seeded = run(lrjax.add_noise(0.1, 0.55, seed=11))
    for other in (same[1], typed, raw, seeded):
        for a, b in zip(jax.tree.leaves(same[0]), jax.tree.leaves(other), strict=True):
            np.testing.assert_array_equal(a, b)
    differs = run(lrjax.add_noise(0.1, 0.55, key=12))
    assert not np.allclose(same[0][0]["a"], differs[0]["a"])
    assert not np.allclose(same[0][0]["a"], same[0][1]["a"])  # steps differ


def test_zero_eta_is_sgd():
    g = jnp.array([0.5, -1.0])
    opt = lrjax.noisy_sgd(0.1, eta=0.0, key=0)
    u, _ = opt.update(g, opt.init(g))
    np.testing.assert_allclose(u, [-0.05, 0.1], rtol=1e-6)


def test_bfloat16_noisy_update_is_rounded_once():
    # Drawn and added in float32, then rounded: equals the float32 result
    # rounded to bfloat16.
    opt = lrjax.add_noise(0.3, 0.55, key=9)
    g16 = jnp.asarray(np.linspace(-1, 1, 64), jnp.bfloat16)
    u16, _ = opt.update(g16, opt.init(g16))
    u32, _ = opt.update(g16.astype(jnp.float32), opt.init(g16))
    assert u16.dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(u16, np.float32), np.asarray(u32.astype(jnp.bfloat16), np.float32)
    )


@pytest.mark.parametrize(
    "kwargs, arg, error",
    [
        ({"eta": -1.0, "gamma": 0.5}, "eta", ValueError),
        ({"eta": 0.1, "gamma": -0.5}, "gamma", ValueError),
        ({"eta": 0.1, "gamma": 0.5, "key": "0"}, "key", TypeError),
        ({"eta": 0.1, "gamma": 0.5, "key": 0, "seed": 0}, "seed", ValueError),
    ],
)
def test_add_noise_rejects(kwargs, arg, error):
    with pytest.raises(error, match=arg):
        lrjax.add_noise(**kwargs)
