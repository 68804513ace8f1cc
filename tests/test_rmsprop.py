"""RMSProp, plain (Tieleman & Hinton, 2012) and centered (Graves, 2013),
against hand-written references.

Each reference is a few lines of float64 NumPy written from the paper's
update rule, or from PyTorch's / Keras's documented algorithm, or optax's
same-named block. ``eps`` is set large where its placement (inside or
outside the root) must show in the result.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fixed_gradients import SQ_GRADS as GRADS
from fixed_gradients import SQ_RTOL as RTOL
from fixed_gradients import SQ_W0 as W0
from fixed_gradients import assert_state_dtypes, block_updates, params_per_step, root

import lrjax


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
    np.testing.assert_allclose(params_per_step(opt), want, rtol=RTOL)


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
    np.testing.assert_allclose(params_per_step(opt), np.stack(torch_ws), rtol=RTOL)


def test_rmsprop_equals_pytorch_rmsprop_defaults():
    """torch.optim.RMSprop(lr=0.01): alpha=0.99, eps=1e-8 outside the root."""
    opt = lrjax.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False)
    want = ref_rmsprop(0.01, 0.99, 1e-8, eps_in_sqrt=False)
    np.testing.assert_allclose(params_per_step(opt), want, rtol=RTOL)


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
    np.testing.assert_allclose(params_per_step(opt), np.stack(keras_ws), rtol=RTOL)


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


BLOCK_PAIRS = [
    ("scale_by_rms", {"decay": 0.7, "eps": 0.1, "initial_scale": 0.3}),
    ("scale_by_rms", {"eps": 0.1, "eps_in_sqrt": False, "bias_correction": True}),
    ("scale_by_stddev", {"decay": 0.7, "eps": 0.1, "initial_scale": 0.3}),
    ("scale_by_stddev", {"eps": 0.1, "eps_in_sqrt": False, "initial_scale": 0.5}),
]


@pytest.mark.parametrize(("name", "kwargs"), BLOCK_PAIRS, ids=str)
def test_block_matches_optax_block(name, kwargs):
    ours = block_updates(getattr(lrjax, name)(**kwargs))
    theirs = block_updates(getattr(optax, name)(**kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


DTYPE_BLOCKS = [
    (lrjax.scale_by_rms(nu_dtype=jnp.float32), {"nu": jnp.float32}),
    (
        lrjax.scale_by_stddev(mu_dtype=jnp.float32, nu_dtype=jnp.float32),
        {"mu": jnp.float32, "nu": jnp.float32},
    ),
    (lrjax.scale_by_stddev(nu_dtype=jnp.float32), {"mu": jnp.bfloat16}),
]


@pytest.mark.parametrize(("block", "want"), DTYPE_BLOCKS)
def test_dtype_options_are_honoured(block, want):
    assert_state_dtypes(block, want)


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
