"""SGD, Adam and AdamW against their published update rules, three steps by hand."""

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


def run_lrjax(opt, steps=3, w0=W0):
    w = jnp.asarray(w0, jnp.float32)
    state = opt.init(w)
    for g in GRADS[:steps]:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, w)
        w = optax.apply_updates(w, u)
    return np.asarray(w), state


def test_sgd_plain():
    lr, w = 0.1, W0.copy()
    for g in GRADS:
        w = w - lr * g
    np.testing.assert_allclose(run_lrjax(lrjax.sgd(lr))[0], w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dampening", [0.0, 0.9])
def test_sgd_momentum(nesterov, dampening):
    lr, b, w, v = 0.1, 0.9, W0.copy(), np.zeros(3)
    for g in GRADS:
        v = b * v + (1 - dampening) * g
        step = (1 - dampening) * g + b * v if nesterov else v
        w = w - lr * step
    got, _ = run_lrjax(
        lrjax.sgd(lr, momentum=b, nesterov=nesterov, dampening=dampening)
    )
    np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_sgd_ema_momentum_is_the_strategies_formula():
    # The EMA form of momentum: v = b*v + (1-b)*g; w -= a*v.
    a, b, w, v = 0.2, 0.8, W0.copy(), np.zeros(3)
    for g in GRADS:
        v = b * v + (1 - b) * g
        w = w - a * v
    got, _ = run_lrjax(lrjax.sgd(a, momentum=b, dampening=b))
    np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_sgd_matches_pytorch_heavy_ball_recursion():
    # torch.optim.SGD(momentum=mu, dampening=0): b_1 = g_1, b_t = mu b_{t-1} + g_t;
    # nesterov: step = g_t + mu b_t. Written from PyTorch's documented algorithm.
    lr, mu = 0.05, 0.7
    for nesterov in (False, True):
        w, buf = W0.copy(), None
        for g in GRADS:
            buf = g.copy() if buf is None else mu * buf + g
            w = w - lr * (g + mu * buf if nesterov else buf)
        got, _ = run_lrjax(lrjax.sgd(lr, momentum=mu, nesterov=nesterov))
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_sgd_nesterov_without_momentum_is_rejected():
    with pytest.raises(ValueError, match="momentum"):
        lrjax.sgd(0.1, nesterov=True)


def adam_reference(lr, b1, b2, eps, eps_root=0.0, wd=0.0, nesterov=False):
    ref = references.Adam(lr, b1, b2, eps, eps_root, wd, nesterov)
    return references.run(ref, GRADS, W0)[0]


@pytest.mark.parametrize("nesterov", [False, True])
def test_adam(nesterov):
    got, _ = run_lrjax(lrjax.adam(0.1, 0.8, 0.95, 1e-3, nesterov=nesterov))
    want = adam_reference(0.1, 0.8, 0.95, 1e-3, nesterov=nesterov)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_adam_eps_root_inside_the_root():
    got, _ = run_lrjax(lrjax.adam(0.1, eps=0.0, eps_root=0.5))
    np.testing.assert_allclose(
        got, adam_reference(0.1, 0.9, 0.999, 0.0, 0.5), rtol=1e-5
    )


def test_adamw_decoupled_decay():
    got, _ = run_lrjax(lrjax.adamw(0.1, weight_decay=0.3))
    np.testing.assert_allclose(
        got, adam_reference(0.1, 0.9, 0.999, 1e-8, wd=0.3), rtol=1e-5
    )


def test_adamw_mask_excludes_parameters():
    params = {"w": jnp.ones(3), "b": jnp.ones(2)}
    grads = {"w": jnp.zeros(3), "b": jnp.zeros(2)}
    opt = lrjax.adamw(1.0, weight_decay=0.5, mask={"w": True, "b": False})
    updates, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(updates["w"], -0.5 * np.ones(3), rtol=1e-6)
    np.testing.assert_allclose(updates["b"], np.zeros(2))
    callable_mask = lrjax.adamw(
        1.0, weight_decay=0.5, mask=lambda p: {"w": False, "b": True}
    )
    updates, _ = callable_mask.update(grads, callable_mask.init(params), params)
    np.testing.assert_allclose(updates["w"], np.zeros(3))
    np.testing.assert_allclose(updates["b"], -0.5 * np.ones(2), rtol=1e-6)


def test_adam_mu_and_nu_dtypes_are_honoured():
    params = {"w": jnp.ones(4, jnp.bfloat16)}
    opt = lrjax.adam(0.1, mu_dtype=jnp.float32, nu_dtype=jnp.float32)
    state = opt.init(params)
    assert state[0].mu["w"].dtype == jnp.float32
    assert state[0].nu["w"].dtype == jnp.float32
    updates, state = opt.update({"w": jnp.ones(4, jnp.bfloat16)}, state, params)
    assert updates["w"].dtype == jnp.bfloat16
    assert (
        state[0].mu["w"].dtype == jnp.float32 and state[0].nu["w"].dtype == jnp.float32
    )
    default = lrjax.adam(0.1).init(params)
    assert default[0].nu["w"].dtype == jnp.bfloat16


def test_weight_decay_schedule_is_followed():
    params = jnp.ones(2)
    opt = lrjax.adamw(1.0, weight_decay=lambda t: 0.1 * (t + 1), b1=0.0)
    state = opt.init(params)
    for k in range(3):
        updates, state = opt.update(jnp.zeros(2), state, params)
        np.testing.assert_allclose(updates, -0.1 * (k + 1) * np.ones(2), rtol=1e-6)
