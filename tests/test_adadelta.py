"""AdaDelta (Zeiler, 2012, Algorithm 1) against hand-written references.

Each reference is a few lines of float64 NumPy written from the paper's
update rule, or from PyTorch's / Keras's documented algorithm, or optax's
same-named block. ``eps`` is set large where its placement (inside or
outside the root) must show in the result.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fixed_gradients import SQ_GRADS as GRADS
from fixed_gradients import SQ_RTOL as RTOL
from fixed_gradients import SQ_W0 as W0
from fixed_gradients import assert_state_dtypes, block_updates, params_per_step

import lrjax


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
        params_per_step(lrjax.adadelta(0.5, rho=0.8, eps=1e-2)),
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
        params_per_step(opt),
        ref_adadelta(1.0, 0.9, 1e-3, wd=0.1),
        rtol=RTOL,
    )


def test_adadelta_equals_keras_adadelta():
    """keras.optimizers.Adadelta defaults: learning_rate=1e-3, rho=0.95, eps=1e-7."""
    np.testing.assert_allclose(
        params_per_step(lrjax.adadelta(1e-3, rho=0.95, eps=1e-7)),
        ref_adadelta(1e-3, 0.95, 1e-7),
        rtol=RTOL,
    )


def test_adadelta_none_descends_and_equals_optax_with_rate_one():
    ours = params_per_step(lrjax.adadelta())
    np.testing.assert_allclose(ours, params_per_step(optax.adadelta(1.0)), rtol=RTOL)
    np.testing.assert_allclose(ours, ref_adadelta(1.0, 0.9, 1e-6), rtol=RTOL)
    # Descent: the first step moves every coordinate against its gradient;
    # optax's None moves it along the gradient.
    assert np.all(np.sign(ours[0] - W0) == -np.sign(GRADS[0]))
    climbing = params_per_step(optax.adadelta(None), steps=1)
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


BLOCK_PAIRS = [
    ("scale_by_adadelta", {"rho": 0.8, "eps": 1e-2}),
]


@pytest.mark.parametrize(("name", "kwargs"), BLOCK_PAIRS, ids=str)
def test_block_matches_optax_block(name, kwargs):
    ours = block_updates(getattr(lrjax, name)(**kwargs))
    theirs = block_updates(getattr(optax, name)(**kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


DTYPE_BLOCKS = [
    (
        lrjax.scale_by_adadelta(nu_dtype=jnp.float32),
        {"e_g": jnp.float32, "e_x": jnp.float32},
    ),
]


@pytest.mark.parametrize(("block", "want"), DTYPE_BLOCKS)
def test_dtype_options_are_honoured(block, want):
    assert_state_dtypes(block, want)
