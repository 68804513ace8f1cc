"""AdaGrad, RMSProp and AdaDelta against hand-written references.

Each reference is a few lines of float64 NumPy written from the paper's update
rule, or from PyTorch's / Keras's documented algorithm, or optax's same-named
block. ``eps`` is set large where its placement (inside or outside the root)
must show in the result.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

W0 = np.array([1.0, -0.5, 0.25, 2.0])
GRADS = np.array(
    [
        [0.5, -1.0, 2.0, 1e-3],
        [0.3, -0.2, 1.5, -2e-3],
        [-0.4, 0.6, 1.0, 1e-3],
    ]
)
RTOL = 1e-5


def fixed_grads(t, w):
    del w
    return GRADS[t]


def lrjax_run(opt, grad_fn=fixed_grads, steps=3):
    """Parameters after each of ``steps`` updates (float32, eager)."""
    params = jnp.asarray(W0, jnp.float32)
    state = opt.init(params)
    out = []
    for t in range(steps):
        g = jnp.asarray(grad_fn(t, np.asarray(params, np.float64)), jnp.float32)
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(params))
    return np.stack(out)


def block_updates(block, steps=3):
    """Updates of a bare building block on the fixed gradients."""
    params = jnp.asarray(W0, jnp.float32)
    state = block.init(params)
    out = []
    for t in range(steps):
        u, state = block.update(jnp.asarray(GRADS[t], jnp.float32), state, params)
        out.append(np.asarray(u))
    return np.stack(out)


def root(s, eps, eps_in_sqrt):
    return np.sqrt(s + eps) if eps_in_sqrt else np.sqrt(s) + eps


# --------------------------------------------------------------------------
# AdaGrad (Duchi et al. 2011): G accumulates squared *gradients*.


def ref_adagrad(lr, g0, eps, eps_in_sqrt):
    w, big_g, out = W0.copy(), np.full_like(W0, g0), []
    for g in GRADS:
        big_g = big_g + g**2
        w = w - lr * g / root(big_g, eps, eps_in_sqrt)
        out.append(w)
    return np.stack(out)


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_adagrad_three_steps_by_hand(eps_in_sqrt):
    opt = lrjax.adagrad(0.1, 0.05, 0.3, eps_in_sqrt=eps_in_sqrt)
    np.testing.assert_allclose(
        lrjax_run(opt), ref_adagrad(0.1, 0.05, 0.3, eps_in_sqrt), rtol=RTOL
    )


def test_adagrad_defaults_are_optax_and_keras():
    """Keras Adagrad: acc += g^2; w -= lr * g / sqrt(acc + eps), acc_0 = 0.1."""
    np.testing.assert_allclose(
        lrjax_run(lrjax.adagrad(0.1)), ref_adagrad(0.1, 0.1, 1e-7, True), rtol=RTOL
    )


def test_adagrad_equals_pytorch_adagrad():
    """torch.optim.Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps).

    PyTorch's documented algorithm: clr = lr / (1 + (t-1) * lr_decay);
    g += weight_decay * w; state_sum += g^2; w -= clr * g / (sqrt(state_sum) + eps).
    """
    lr, lr_decay, wd, init, eps = 0.1, 0.5, 0.01, 0.0, 1e-3

    w, state_sum, torch_ws = W0.copy(), np.full_like(W0, init), []
    for t in range(1, 4):
        clr = lr / (1 + (t - 1) * lr_decay)
        g = GRADS[t - 1] + wd * w
        state_sum = state_sum + g**2
        w = w - clr * g / (np.sqrt(state_sum) + eps)
        torch_ws.append(w)

    opt = optax.chain(
        lrjax.add_decayed_weights(wd),
        lrjax.adagrad(
            lambda t: lr / (1 + t * lr_decay),
            initial_accumulator_value=init,
            eps=eps,
            eps_in_sqrt=False,
        ),
    )
    np.testing.assert_allclose(lrjax_run(opt), np.stack(torch_ws), rtol=RTOL)


def test_scale_by_rss_zero_accumulator_gives_zero_not_nan():
    block = lrjax.scale_by_rss(0.0, 0.0, eps_in_sqrt=False)
    state = block.init(jnp.zeros(3))
    u, _ = block.update(jnp.array([0.0, 2.0, 0.0]), state)
    np.testing.assert_array_equal(np.asarray(u), [0.0, 1.0, 0.0])


# --------------------------------------------------------------------------
# RMSProp (Tieleman & Hinton 2012): s is an EMA, never divided by the decay.


def ref_rmsprop(
    lr,
    decay,
    eps,
    *,
    eps_in_sqrt=True,
    initial_scale=0.0,
    bias_correction=False,
    centered=False,
    momentum=None,
    nesterov=False,
):
    w, s, m = W0.copy(), np.full_like(W0, initial_scale), np.zeros_like(W0)
    v, out = np.zeros_like(W0), []
    for t, g in enumerate(GRADS, start=1):
        s = decay * s + (1 - decay) * g**2
        m = decay * m + (1 - decay) * g
        c = 1 / (1 - decay**t) if bias_correction else 1.0
        d = s * c - (m * c) ** 2 if centered else s * c
        r = g / root(d, eps, eps_in_sqrt)
        if momentum is None:
            step = r
        else:
            v = momentum * v + r
            step = r + momentum * v if nesterov else v
        w = w - lr * step
        out.append(w)
    return np.stack(out)


RMS_OPTIONS = [
    {},
    {"eps_in_sqrt": False},
    {"initial_scale": 0.5},
    {"bias_correction": True},
    {"centered": True},
    {"centered": True, "eps_in_sqrt": False, "initial_scale": 0.5},
    {"centered": True, "bias_correction": True, "initial_scale": 0.2},
    {"momentum": 0.9},
    {"momentum": 0.8, "nesterov": True},
    {"momentum": 0.7, "nesterov": True, "centered": True},
]


@pytest.mark.parametrize("options", RMS_OPTIONS, ids=str)
def test_rmsprop_three_steps_by_hand(options):
    opt = lrjax.rmsprop(0.05, decay=0.8, eps=0.1, **options)
    want = ref_rmsprop(0.05, 0.8, 0.1, **options)
    np.testing.assert_allclose(lrjax_run(opt), want, rtol=RTOL)


def test_rmsprop_equals_pytorch_rmsprop_with_a_schedule():
    """torch.optim.RMSprop(lr, alpha, eps, momentum, centered) + an LR scheduler.

    PyTorch's documented algorithm: v = alpha v + (1-alpha) g^2; centered:
    g_ave = alpha g_ave + (1-alpha) g, v~ = v - g_ave^2; b = mu b + g /
    (sqrt(v~) + eps); w -= lr_t * b (the rate multiplies the buffer).
    """
    alpha, eps, mu = 0.99, 1e-2, 0.9

    def lr_at(t):
        return 0.01 / (1.0 + t)

    w, v, g_ave, b, torch_ws = W0.copy(), 0 * W0, 0 * W0, 0 * W0, []
    for t, g in enumerate(GRADS):
        v = alpha * v + (1 - alpha) * g**2
        g_ave = alpha * g_ave + (1 - alpha) * g
        b = mu * b + g / (np.sqrt(v - g_ave**2) + eps)
        w = w - lr_at(t) * b
        torch_ws.append(w)

    opt = lrjax.rmsprop(
        lr_at, decay=alpha, eps=eps, eps_in_sqrt=False, centered=True, momentum=mu
    )
    np.testing.assert_allclose(lrjax_run(opt), np.stack(torch_ws), rtol=RTOL)


def test_rmsprop_equals_pytorch_rmsprop_defaults():
    """torch.optim.RMSprop(lr=0.01): alpha=0.99, eps=1e-8 outside the root."""
    opt = lrjax.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False)
    want = ref_rmsprop(0.01, 0.99, 1e-8, eps_in_sqrt=False)
    np.testing.assert_allclose(lrjax_run(opt), want, rtol=RTOL)


def test_rmsprop_equals_keras_and_graves_centered_momentum():
    """Keras RMSprop / Graves (2013) eq. 38-40, with eps inside the root.

    vel = rho vel + (1-rho) g^2; avg = rho avg + (1-rho) g;
    inc = lr * g / sqrt(vel - avg^2 + eps); mom = momentum * mom + inc; w -= mom.
    Graves's values: rho=0.95, momentum=0.9, lr=1e-4, eps=1e-4.
    """
    rho, mom_coef, lr, eps = 0.95, 0.9, 1e-4, 1e-4
    w, vel, avg, mom, keras_ws = W0.copy(), 0 * W0, 0 * W0, 0 * W0, []
    for g in GRADS:
        vel = rho * vel + (1 - rho) * g**2
        avg = rho * avg + (1 - rho) * g
        inc = lr * g / np.sqrt(vel - avg**2 + eps)
        mom = mom_coef * mom + inc
        w = w - mom
        keras_ws.append(w)

    opt = lrjax.rmsprop(lr, decay=rho, eps=eps, centered=True, momentum=mom_coef)
    np.testing.assert_allclose(lrjax_run(opt), np.stack(keras_ws), rtol=RTOL)


def test_rmsprop_nesterov_without_momentum_is_rejected():
    with pytest.raises(ValueError, match="nesterov"):
        lrjax.rmsprop(0.1, nesterov=True)


def test_scale_by_rms_with_bias_correction_is_adam_without_momentum():
    ours = block_updates(
        lrjax.scale_by_rms(0.9, 0.1, eps_in_sqrt=False, bias_correction=True)
    )
    theirs = block_updates(optax.scale_by_adam(b1=0.0, b2=0.9, eps=0.1))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_centered_rms_never_takes_the_root_of_a_negative_number():
    # Step 1 with bias correction: var = g^2 - g^2, exactly 0 in exact
    # arithmetic, a tiny number of either sign after float32 rounding.
    g = jnp.asarray(np.random.RandomState(0).randn(4096) * 3.0, jnp.float32)
    block = lrjax.scale_by_stddev(0.7, 1e-12, eps_in_sqrt=False, bias_correction=True)
    u, _ = block.update(g, block.init(g))
    assert bool(jnp.all(jnp.isfinite(u)))
    assert bool(jnp.all(jnp.sign(u) == jnp.sign(g)))


# --------------------------------------------------------------------------
# AdaDelta (Zeiler 2012, Algorithm 1), RMS[y] = sqrt(E[y^2] + eps).


def ref_adadelta(lr, rho, eps, wd=0.0):
    w, e_g, e_x, out = W0.copy(), 0 * W0, 0 * W0, []
    for g in GRADS:
        g = g + wd * w
        e_g = rho * e_g + (1 - rho) * g**2
        dx = np.sqrt(e_x + eps) / np.sqrt(e_g + eps) * g
        e_x = rho * e_x + (1 - rho) * dx**2
        w = w - lr * dx
        out.append(w)
    return np.stack(out)


def test_adadelta_three_steps_by_hand():
    np.testing.assert_allclose(
        lrjax_run(lrjax.adadelta(0.5, rho=0.8, eps=1e-2)),
        ref_adadelta(0.5, 0.8, 1e-2),
        rtol=RTOL,
    )


def test_adadelta_equals_pytorch_adadelta():
    """torch.optim.Adadelta(lr, rho, eps, weight_decay): the L2 term joins g first.

    PyTorch's documented algorithm: g += wd * w; v = rho v + (1-rho) g^2;
    dx = sqrt(u + eps) / sqrt(v + eps) * g; u = rho u + (1-rho) dx^2; w -= lr dx.
    """
    opt = lrjax.adadelta(1.0, rho=0.9, eps=1e-3, weight_decay=0.1)
    np.testing.assert_allclose(
        lrjax_run(opt),
        ref_adadelta(1.0, 0.9, 1e-3, wd=0.1),
        rtol=RTOL,
    )


def test_adadelta_equals_keras_adadelta():
    """keras.optimizers.Adadelta defaults: learning_rate=1e-3, rho=0.95, eps=1e-7."""
    np.testing.assert_allclose(
        lrjax_run(lrjax.adadelta(1e-3, rho=0.95, eps=1e-7)),
        ref_adadelta(1e-3, 0.95, 1e-7),
        rtol=RTOL,
    )


def test_adadelta_none_descends_and_equals_optax_with_rate_one():
    ours = lrjax_run(lrjax.adadelta())
    np.testing.assert_allclose(ours, lrjax_run(optax.adadelta(1.0)), rtol=RTOL)
    np.testing.assert_allclose(ours, ref_adadelta(1.0, 0.9, 1e-6), rtol=RTOL)
    # Descent: the first step moves every coordinate against its gradient;
    # optax's None moves it along the gradient.
    assert np.all(np.sign(ours[0] - W0) == -np.sign(GRADS[0]))
    climbing = lrjax_run(optax.adadelta(None), steps=1)
    assert np.all(np.sign(climbing[0] - W0) == np.sign(GRADS[0]))


def test_adadelta_weight_decay_mask():
    mask = {"a": True, "b": False}
    params = {"a": jnp.full(3, 2.0), "b": jnp.full(3, 2.0)}
    grads = {"a": jnp.ones(3), "b": jnp.ones(3)}
    opt = lrjax.adadelta(1.0, eps=1e-2, weight_decay=0.5, weight_decay_mask=mask)
    u, _ = opt.update(grads, opt.init(params), params)
    # One step from zero averages: dx = sqrt(eps) / sqrt((1-rho) g^2 + eps) * g.
    for key, g in (("a", 1.0 + 0.5 * 2.0), ("b", 1.0)):
        want = -np.sqrt(1e-2) / np.sqrt(0.1 * g**2 + 1e-2) * g
        np.testing.assert_allclose(np.asarray(u[key]), np.full(3, want), rtol=RTOL)


def test_adadelta_without_weight_decay_needs_no_params():
    opt = lrjax.adadelta(1.0)
    u, _ = opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))
    assert u.shape == (2,)


# --------------------------------------------------------------------------
# Blocks against optax's same-named blocks, option by option.


BLOCK_PAIRS = [
    ("scale_by_rss", {}),
    ("scale_by_rss", {"initial_accumulator_value": 0.0, "eps": 0.2}),
    ("scale_by_rms", {"decay": 0.7, "eps": 0.1, "initial_scale": 0.3}),
    ("scale_by_rms", {"eps": 0.1, "eps_in_sqrt": False, "bias_correction": True}),
    ("scale_by_stddev", {"decay": 0.7, "eps": 0.1, "initial_scale": 0.3}),
    ("scale_by_stddev", {"eps": 0.1, "eps_in_sqrt": False, "initial_scale": 0.5}),
    ("scale_by_adadelta", {"rho": 0.8, "eps": 1e-2}),
]


@pytest.mark.parametrize(("name", "kwargs"), BLOCK_PAIRS, ids=str)
def test_block_matches_optax_block(name, kwargs):
    ours = block_updates(getattr(lrjax, name)(**kwargs))
    theirs = block_updates(getattr(optax, name)(**kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


# --------------------------------------------------------------------------
# Dtype options are honoured in state; updates keep the gradient's dtype.


DTYPE_BLOCKS = [
    (lrjax.scale_by_rss(nu_dtype=jnp.float32), {"sum_of_squares": jnp.float32}),
    (lrjax.scale_by_rms(nu_dtype=jnp.float32), {"nu": jnp.float32}),
    (
        lrjax.scale_by_stddev(mu_dtype=jnp.float32, nu_dtype=jnp.float32),
        {"mu": jnp.float32, "nu": jnp.float32},
    ),
    (lrjax.scale_by_stddev(nu_dtype=jnp.float32), {"mu": jnp.bfloat16}),
    (
        lrjax.scale_by_adadelta(nu_dtype=jnp.float32),
        {"e_g": jnp.float32, "e_x": jnp.float32},
    ),
]


@pytest.mark.parametrize(("block", "want"), DTYPE_BLOCKS)
def test_dtype_options_are_honoured(block, want):
    params = {"w": jnp.ones((2, 3), jnp.bfloat16)}
    state = block.init(params)
    for _ in range(2):
        updates, state = block.update({"w": jnp.full((2, 3), 0.5, jnp.bfloat16)}, state)
        assert updates["w"].dtype == jnp.bfloat16
        for field, dtype in want.items():
            assert getattr(state, field)["w"].dtype == dtype, field


def test_rmsprop_dtype_options_reach_every_buffer():
    params = jnp.ones(3, jnp.bfloat16)
    opt = lrjax.rmsprop(
        0.1, centered=True, momentum=0.9, mu_dtype=jnp.float32, nu_dtype=jnp.float32
    )
    state = opt.init(params)
    updates, state = opt.update(jnp.ones(3, jnp.bfloat16), state, params)
    assert updates.dtype == jnp.bfloat16
    leaves = [x for x in jax.tree_util.tree_leaves(state) if x.shape == (3,)]
    assert len(leaves) == 3
    assert all(x.dtype == jnp.float32 for x in leaves)
