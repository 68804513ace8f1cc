"""AMSGrad (Reddi, Kale & Kumar, 2018) against the paper's update rule.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm (or optax's
documented variant of it, where lrjax follows optax); none calls lrjax or optax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references
from fixed_gradients import GRADS, W0, assert_moment_dtypes, close, run_lrjax
from hypothesis import given, settings
from hypothesis import strategies as st

import lrjax


def amsgrad_reference(lr, b1, b2, eps, debias_mu, debias_nu, eps_root=0.0):
    ref = references.AMSGrad(lr, b1, b2, eps, eps_root, debias_mu, debias_nu)
    return references.run(ref, GRADS, W0)[0], ref.v_max


@pytest.mark.parametrize("debias_mu", [True, False])
@pytest.mark.parametrize("debias_nu", [True, False])
def test_amsgrad(debias_mu, debias_nu):
    # Both False is the paper's Algorithm 2; both True is optax's default.
    opt = lrjax.amsgrad(0.1, 0.8, 0.95, 1e-3, 0.0, None, debias_mu, debias_nu)
    got, _, state = run_lrjax(opt)
    want, v_max = amsgrad_reference(0.1, 0.8, 0.95, 1e-3, debias_mu, debias_nu)
    close(got, want)
    close(state[0].nu_max, v_max)


def test_amsgrad_eps_root_inside_the_root():
    got, _, _ = run_lrjax(lrjax.amsgrad(0.1, eps=0.0, eps_root=0.5))
    close(got, amsgrad_reference(0.1, 0.9, 0.999, 0.0, True, True, 0.5)[0])


def test_amsgrad_keeps_the_largest_debiased_moment():
    # The first gradient is the largest, so v_max keeps g_1**2 = v_1 / (1 - b2):
    # weight 1, where PyTorch's max of raw v keeps (1 - b2) g_1**2 (docstring).
    grads = [np.array([4.0]), np.array([0.1]), np.array([0.1])]
    _, _, state = run_lrjax(lrjax.amsgrad(0.1, b2=0.9), grads, np.zeros(1))
    close(state[0].nu_max, [16.0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), b2=st.floats(0.0, 0.999))
def test_amsgrad_denominator_never_decreases(seed, b2):
    g = jnp.asarray(np.random.RandomState(seed).randn(6, 4), jnp.float32)
    v_max = _amsgrad_v_max_trajectory(g, jnp.float32(b2))
    assert bool(jnp.all(jnp.diff(v_max, axis=0) >= 0))


@jax.jit
def _amsgrad_v_max_trajectory(grads, b2):
    opt = lrjax.scale_by_amsgrad(b2=b2)

    def body(state, g):
        _, state = opt.update(g, state)
        return state, state.nu_max

    return jax.lax.scan(body, opt.init(grads[0]), grads)[1]


def test_moment_dtypes_are_honoured():
    assert_moment_dtypes(lrjax.scale_by_amsgrad, nu_fields=("nu", "nu_max"))
