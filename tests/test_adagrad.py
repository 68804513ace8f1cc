"""AdaGrad (Duchi et al., 2011) against hand-written references.

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
from fixed_gradients import assert_state_dtypes, block_updates, params_per_step, root

import lrjax


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
        params_per_step(opt), ref_adagrad(0.1, 0.05, 0.3, eps_in_sqrt), rtol=RTOL
    )


def test_adagrad_defaults_are_optax_and_keras():
    """Keras Adagrad: acc += g^2; w -= lr * g / sqrt(acc + eps), acc_0 = 0.1."""
    np.testing.assert_allclose(
        params_per_step(lrjax.adagrad(0.1)),
        ref_adagrad(0.1, 0.1, 1e-7, True),
        rtol=RTOL,
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
    np.testing.assert_allclose(params_per_step(opt), np.stack(torch_ws), rtol=RTOL)


def test_scale_by_rss_zero_accumulator_gives_zero_not_nan():
    block = lrjax.scale_by_rss(0.0, 0.0, eps_in_sqrt=False)
    state = block.init(jnp.zeros(3))
    u, _ = block.update(jnp.array([0.0, 2.0, 0.0]), state)
    np.testing.assert_array_equal(np.asarray(u), [0.0, 1.0, 0.0])


BLOCK_PAIRS = [
    ("scale_by_rss", {}),
    ("scale_by_rss", {"initial_accumulator_value": 0.0, "eps": 0.2}),
]


@pytest.mark.parametrize(("name", "kwargs"), BLOCK_PAIRS, ids=str)
def test_block_matches_optax_block(name, kwargs):
    ours = block_updates(getattr(lrjax, name)(**kwargs))
    theirs = block_updates(getattr(optax, name)(**kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


DTYPE_BLOCKS = [
    (lrjax.scale_by_rss(nu_dtype=jnp.float32), {"sum_of_squares": jnp.float32}),
]


@pytest.mark.parametrize(("block", "want"), DTYPE_BLOCKS)
def test_dtype_options_are_honoured(block, want):
    assert_state_dtypes(block, want)
