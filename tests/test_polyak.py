"""SGD with Polyak's step size against the formula, in NumPy.

``gamma = s * min((f - f*) / (||g||**2 + eps), gamma_max)`` (Loizou et al.
2021; "sps+" clips the gap at 0, Garrigos et al. 2023), with the loss passed
as ``value=``. The shared suite adds optax parity (at ``s = 1``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax

_TARGET = {"a": np.array([1.0, -2.0, 0.5]), "b": np.array([[3.0, 0.0], [1.0, -1.0]])}


def _loss_and_grads(w):
    loss = sum(0.5 * np.sum((w[k] - _TARGET[k]) ** 2) for k in w)
    return loss, {k: w[k] - _TARGET[k] for k in w}


def _jnp_loss(p):
    return sum(0.5 * jnp.sum((p[k] - _TARGET[k]) ** 2) for k in p)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_learning_rate": 0.3, "scaling": 0.5},
        {"f_min": 2.0, "eps": 0.1, "variant": "sps+"},
        {"f_min": 2.0, "variant": "sps"},
    ],
)
def test_polyak_sgd_three_steps(kwargs):
    s = kwargs.get("scaling", 1.0)
    gmax, f_min = kwargs.get("max_learning_rate", 1.0), kwargs.get("f_min", 0.0)
    eps, plus = kwargs.get("eps", 0.0), kwargs.get("variant") == "sps+"
    w = {"a": np.zeros(3), "b": np.ones((2, 2))}
    opt = lrjax.polyak_sgd(**kwargs)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), w)
    state = opt.init(params)
    for _ in range(3):
        value, grads = jax.value_and_grad(_jnp_loss)(params)
        u, state = opt.update(grads, state, params, value=value)
        params = lrjax.apply_updates(params, u)
        f, g = _loss_and_grads(w)
        gap = max(f - f_min, 0.0) if plus else f - f_min
        sq = sum(np.sum(x**2) for x in g.values())
        gamma = s * min(gap / (sq + eps), gmax)
        w = {k: w[k] - gamma * g[k] for k in w}
        for k in w:
            np.testing.assert_allclose(params[k], w[k], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lrjax.get_learning_rate(state), gamma, rtol=1e-5)


def test_polyak_sgd_below_f_min_moves_uphill_unless_sps_plus():
    # A loss below its assumed bound gives a negative step in "sps" (as in
    # optax) and none in "sps+".
    p = jnp.array([1.0, 1.0])
    g = jnp.array([1.0, 0.0])
    for variant, want in [("sps", 0.5), ("sps+", 0.0)]:
        opt = lrjax.polyak_sgd(f_min=1.0, variant=variant)
        u, _ = opt.update(g, opt.init(p), p, value=0.5)
        np.testing.assert_allclose(u, [want, 0.0], atol=1e-7)


def test_zero_gradient_gives_zero_step():
    p = jnp.ones(2)
    opt = lrjax.polyak_sgd()
    u, state = opt.update(jnp.zeros(2), opt.init(p), p, value=3.0)
    np.testing.assert_array_equal(u, [0.0, 0.0])
    assert float(lrjax.get_learning_rate(state)) == 0.0


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"scaling": -1.0}, "scaling"),
        ({"max_learning_rate": -1.0}, "max_learning_rate"),
        ({"eps": -1.0}, "eps"),
        ({"f_min": float("nan")}, "f_min"),
        ({"variant": "adam"}, "variant"),
    ],
)
def test_polyak_sgd_rejects(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        lrjax.polyak_sgd(**kwargs)


def test_polyak_needs_the_loss_value():
    p = jnp.ones(2)
    opt = lrjax.polyak_sgd()
    with pytest.raises(ValueError, match="value"):
        opt.update(jnp.ones(2), opt.init(p), p)


def test_polyak_complex_gradient_uses_the_modulus():
    p = jnp.zeros(1, jnp.complex64)
    g = jnp.array([3.0 + 4.0j], jnp.complex64)  # ||g||**2 = 25
    opt = lrjax.scale_by_polyak(max_learning_rate=10.0)
    u, state = opt.update(g, opt.init(p), p, value=5.0)
    np.testing.assert_allclose(u, [0.2 * (3.0 + 4.0j)], rtol=1e-6)
    np.testing.assert_allclose(state.learning_rate, 0.2, rtol=1e-6)
