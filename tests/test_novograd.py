"""NovoGrad against the paper's Algorithm 1, written out in NumPy.

Ginsburg et al. 2019: per layer l, v_1 = ||g_1||^2, v_t = b2 v_{t-1} +
(1 - b2) ||g_t||^2; m_1 = g_1 / (sqrt(v_1) + eps) + d w_1, m_t = b1 m_{t-1} +
g_t / (sqrt(v_t) + eps) + d w_t; w_{t+1} = w_t - lr m_t. Calls neither lrjax
nor optax in the reference.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

W0 = {"layer": np.array([[1.0, -2.0], [0.5, 0.3]]), "bias": np.array([0.2, -0.1])}
GRADS = [
    {"layer": np.array([[0.5, -1.0], [2.0, 0.1]]), "bias": np.array([0.3, -0.4])},
    {"layer": np.array([[0.1, 0.3], [-0.7, 1.2]]), "bias": np.array([-0.2, 0.6])},
    {"layer": np.array([[-1.2, 0.4], [0.9, -0.5]]), "bias": np.array([1.5, 0.05])},
]


def novograd_reference(lr, b1, b2, eps, wd):
    w = {k: v.copy() for k, v in W0.items()}
    m = {k: np.zeros_like(v) for k, v in W0.items()}
    v = {}
    for t, g in enumerate(GRADS, start=1):
        for k in w:
            sq_norm = float(np.sum(g[k] ** 2))
            v[k] = sq_norm if t == 1 else b2 * v[k] + (1 - b2) * sq_norm
            m[k] = b1 * m[k] + g[k] / (np.sqrt(v[k]) + eps) + wd * w[k]
            w[k] = w[k] - lr * m[k]
    return w, m, v


@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_novograd_three_steps(wd):
    opt = lrjax.novograd(0.1, b1=0.8, b2=0.5, eps=1e-3, weight_decay=wd)
    w = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), W0)
    state = opt.init(w)
    for g in GRADS:
        g = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), g)
        u, state = opt.update(g, state, w)
        w = optax.apply_updates(w, u)
    want_w, want_m, want_v = novograd_reference(0.1, 0.8, 0.5, 1e-3, wd)
    for k in W0:
        np.testing.assert_allclose(w[k], want_w[k], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(state[0].mu[k], want_m[k], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(state[0].nu[k], want_v[k], rtol=1e-5)
        assert state[0].nu[k].shape == ()  # one second moment per layer


def test_novograd_first_step_is_the_normalised_gradient():
    # v_1 = ||g||^2 = 25 for g = (3, 4): the first update is g / 5.
    opt = lrjax.scale_by_novograd(eps=0.0)
    u, _ = opt.update(jnp.array([3.0, 4.0]), opt.init(jnp.zeros(2)))
    np.testing.assert_allclose(u, [0.6, 0.8], rtol=1e-6)


def test_novograd_weight_decay_needs_params():
    opt = lrjax.scale_by_novograd(weight_decay=0.1)
    with pytest.raises(ValueError, match="needs params"):
        opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))


def test_novograd_weight_decay_schedule():
    # lrjax addition: the decay follows a schedule of the earlier update count.
    opt = lrjax.scale_by_novograd(eps=0.0, weight_decay=lambda t: 0.5 * (t + 1))
    w = jnp.array([2.0])
    state = opt.init(w)
    u1, state = opt.update(jnp.array([1.0]), state, w)  # 1 + 0.5 * 2
    np.testing.assert_allclose(u1, [2.0], rtol=1e-6)
    u2, _ = opt.update(jnp.array([1.0]), state, w)  # 0.9 * 2 + 1 + 1.0 * 2
    np.testing.assert_allclose(u2, [4.8], rtol=1e-6)
