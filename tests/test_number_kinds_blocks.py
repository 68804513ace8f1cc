"""Number kinds in the building blocks, where the optimizer cases do not reach.

EMA (no optimizer uses it), Lion's smooth and refined modes, explicit
accumulator dtypes, the scaling blocks' factor arithmetic and the Adam blocks
on their own, against optax's same-named block or NumPy formulas written here.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import references
from number_kinds import (
    RADAM_RTOL,
    close_in,
    complex_grads,
    low_precision_problem,
    to_float32,
)

import lrjax


@pytest.mark.parametrize("name", ["adam", "amsgrad", "radam", "adabelief", "lion"])
def test_complex_mu_dtype_for_real_params_keeps_real_steps(name):
    # A complex buffer for a real parameter holds a zero imaginary part: the
    # steps equal those with real moments and come back real.
    params = {"w": jnp.asarray([0.5, -1.0, 2.0], jnp.float32)}
    grads = [{"w": jnp.asarray(g, jnp.float32)} for g in ([1, -2, 3], [0.5, 1, -1])]
    complex_opt = getattr(lrjax, name)(0.1, mu_dtype="complex64")
    real_opt = getattr(optax, name)(0.1)
    s, s_ref = complex_opt.init(params), real_opt.init(params)
    for g in grads:
        u, s = complex_opt.update(g, s, params)
        u_ref, s_ref = real_opt.update(g, s_ref, params)
        assert u["w"].dtype == jnp.float32
        # optax's float32 1 - b**t is ~1e-5 off; lrjax's expm1 form is not.
        np.testing.assert_allclose(u["w"], u_ref["w"], rtol=2e-5)


@pytest.mark.parametrize(
    "make,declared",
    [
        (lambda: lrjax.scale_by_adam(mu_dtype="float32"), "float32"),
        (lambda: lrjax.scale_by_amsgrad(mu_dtype="bfloat16"), "bfloat16"),
        (lambda: lrjax.scale_by_adamax(mu_dtype="float32"), "float32"),
        (lambda: lrjax.scale_by_belief(mu_dtype="float32"), "float32"),
        (lambda: lrjax.scale_by_radam(mu_dtype="float16"), "float16"),
        (lambda: lrjax.scale_by_lion(mu_dtype="float32"), "float32"),
        (lambda: lrjax.trace(0.9, accumulator_dtype="float32"), "float32"),
        (lambda: lrjax.ema(0.9, accumulator_dtype="float32"), "float32"),
    ],
)
def test_real_momentum_dtype_gives_complex_buffers_for_complex_params(make, declared):
    # The declared precision is kept; the kind follows the parameter: a real
    # parameter gets the real dtype, a complex one its complex counterpart.
    params = {"ok": jnp.zeros(2), "z": jnp.zeros(3, jnp.complex64)}
    state = make().init(params)
    want_z = jnp.promote_types(jnp.dtype(declared), jnp.complex64)
    first_moments = [
        leaf
        for leaf in jax.tree_util.tree_leaves(state)
        if leaf.shape == (3,) and jnp.issubdtype(leaf.dtype, jnp.complexfloating)
    ]
    assert first_moments and all(x.dtype == want_z for x in first_moments)
    real_leaves = [
        leaf for leaf in jax.tree_util.tree_leaves(state) if leaf.shape == (2,)
    ]
    assert jnp.dtype(declared) in [x.dtype for x in real_leaves]


def test_real_nu_dtype_keeps_complex_second_moments_real():
    params = {"z": jnp.zeros(3, jnp.complex64)}
    state = lrjax.scale_by_adam(nu_dtype="float32").init(params)
    assert state.nu["z"].dtype == jnp.float32
    assert state.mu["z"].dtype == jnp.complex64


def test_dtype_arguments_accept_complex_and_reject_integers():
    lrjax.scale_by_adam(mu_dtype="complex64", nu_dtype="complex64")
    lrjax.trace(0.9, accumulator_dtype=jnp.complex64)
    with pytest.raises(ValueError, match="nu_dtype.*floating or complex"):
        lrjax.scale_by_adam(nu_dtype="int32")


# --------------------------------------------------------------------------
# Block-level complex checks the optimizer cases do not reach.


@pytest.mark.parametrize("debias", [True, False])
def test_ema_complex_matches_numpy(debias):
    opt = lrjax.ema(0.8, debias=debias)
    p = jnp.zeros(4, jnp.complex64)
    state = opt.init(p)
    m = np.zeros(4, np.complex128)
    for t, g in enumerate(complex_grads(), start=1):
        u, state = opt.update(g, state, p)
        m = 0.8 * m + 0.2 * np.asarray(g, np.complex128)
        want = m / (1 - 0.8**t) if debias else m
        assert u.dtype == jnp.complex64 and state.ema.dtype == jnp.complex64
        np.testing.assert_allclose(u, want, rtol=1e-5)


@pytest.mark.parametrize("nesterov", [False, True])
def test_trace_complex_accumulator_dtype_matches_optax(nesterov):
    ours = lrjax.trace(0.9, nesterov, accumulator_dtype="complex64")
    theirs = optax.trace(0.9, nesterov, accumulator_dtype="complex64")
    p = jnp.zeros(4, jnp.complex64)
    s, s_ref = ours.init(p), theirs.init(p)
    for g in complex_grads():
        u, s = ours.update(g, s, p)
        u_ref, s_ref = theirs.update(g, s_ref, p)
        np.testing.assert_allclose(u, u_ref, rtol=1e-6)
        np.testing.assert_allclose(s.trace, s_ref.trace, rtol=1e-6)


@pytest.mark.parametrize("mode", ["hard", "refined"])
def test_lion_complex_modes_match_optax(mode):
    # Large gradients push |c| past 1, so "refined" saturates on some entries.
    ours = lrjax.scale_by_lion(mode=mode)
    theirs = optax.scale_by_lion(mode=mode)
    p = jnp.zeros(4, jnp.complex64)
    s, s_ref = ours.init(p), theirs.init(p)
    for k, g in enumerate(complex_grads()):
        g = g * (5.0 if k % 2 else 0.5)
        u, s = ours.update(g, s, p)
        u_ref, s_ref = theirs.update(g, s_ref, p)
        np.testing.assert_allclose(u, u_ref, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(s.mu, s_ref.mu, rtol=1e-6)


def test_lion_smooth_complex_acts_on_the_modulus():
    # tanh(beta |c|) c / |c|: bounded by 1 where optax's complex tanh has
    # poles (|c| = pi / 2 on the imaginary axis gives an infinite update).
    beta, b1 = 2.0, 0.9
    opt = lrjax.scale_by_lion(b1=b1, mode="smooth", smooth_beta=beta)
    g = jnp.asarray([1j * np.pi / 4 / (1 - b1), 3 - 4j, 0.01 + 0.02j], jnp.complex64)
    p = jnp.zeros(3, jnp.complex64)
    u, _ = opt.update(g, opt.init(p), p)
    c = (1 - b1) * np.asarray(g, np.complex128)
    want = np.tanh(beta * np.abs(c)) * c / np.abs(c)
    np.testing.assert_allclose(u, want, rtol=1e-5)
    # Real gradients keep the real tanh.
    r = jnp.asarray([-2.0, 0.3], jnp.float32)
    u, _ = opt.update(r, opt.init(r), r)
    np.testing.assert_allclose(u, np.tanh(beta * (1 - b1) * np.asarray(r)), rtol=1e-6)


@pytest.mark.parametrize(
    "block",
    ["scale_by_adam", "scale_by_amsgrad", "scale_by_adamax", "scale_by_belief"],
)
def test_adam_blocks_complex_match_optax(block):
    ours, theirs = getattr(lrjax, block)(), getattr(optax, block)()
    p = jnp.zeros(4, jnp.complex64)
    s, s_ref = ours.init(p), theirs.init(p)
    for g in complex_grads():
        u, s = ours.update(g, s, p)
        u_ref, s_ref = theirs.update(g, s_ref, p)
        # optax's float32 1 - b**t is ~1.5e-5 off; lrjax's expm1 form is not.
        np.testing.assert_allclose(u, u_ref, rtol=3e-5)
    # Same fields, in optax's order and dtypes (the NamedTuple classes differ).
    chex.assert_trees_all_equal_dtypes(list(s), list(s_ref))
    chex.assert_trees_all_close(list(s), list(s_ref), rtol=3e-5)


def test_radam_complex_matches_numpy():
    # Ten steps cross the switch to the rectified step (step 6 for b2=0.999).
    b1, b2, eps = 0.9, 0.999, 1e-8
    opt = lrjax.scale_by_radam()
    p = jnp.zeros(4, jnp.complex64)
    state = opt.init(p)
    # The block's direction is the optimizer's update at a rate of -1.
    ref = references.RAdam(-1.0, b1, b2, eps, threshold=5.0)
    for g in complex_grads(10):
        u, state = opt.update(g, state, p)
        want = ref(np.asarray(g, np.complex128))
        np.testing.assert_allclose(u, want, rtol=RADAM_RTOL)
        np.testing.assert_allclose(jnp.real(state.nu), ref.v, rtol=1e-5)


def test_add_decayed_weights_complex():
    p = jnp.asarray([1 + 2j, -3j], jnp.complex64)
    u = jnp.asarray([0.5 - 1j, 2.0 + 0j], jnp.complex64)
    out, _ = lrjax.add_decayed_weights(0.1).update(u, optax.EmptyState(), p)
    np.testing.assert_allclose(out, np.asarray(u) + 0.1 * np.asarray(p), rtol=1e-6)
    assert out.dtype == jnp.complex64


# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
@pytest.mark.parametrize(
    "make,scale",
    [
        (lambda: lrjax.ema(0.999), 1e-4),
        (lambda: lrjax.scale_by_lion(mode="smooth", smooth_beta=1e4), 1e-4),
        (lambda: lrjax.scale_by_lion(mode="refined"), 1e-4),
        (lambda: lrjax.trace(0.999, accumulator_dtype="float32"), 1e-4),
        (lambda: lrjax.scale_by_learning_rate(1e-7), 1e2),
        (lambda: lrjax.scale(3e-6), 1e2),
    ],
    ids=["ema", "lion_smooth", "lion_refined", "trace_f32", "lr_1e-7", "scale_3e-6"],
)
def test_blocks_low_precision_steps_equal_float32_steps(make, scale, dtype):
    # Blocks no optimizer case reaches in this form. In float16, 0.1 * 1e-4
    # is a subnormal with 1% steps, and a factor of 1e-7 is 20% off.
    params, grads = low_precision_problem(dtype, scale)
    opt = make()
    state = opt.init(params)
    for g in grads:
        u, new_state = opt.update(g, state, params)
        u_ref, state_ref = opt.update(
            to_float32(g), to_float32(state), to_float32(params)
        )
        chex.assert_trees_all_equal_dtypes(u, params)
        close_in(dtype, u, u_ref)
        close_in(dtype, new_state, state_ref)
        state = new_state


def test_decayed_weights_of_float16_params_in_float32():
    p = jnp.asarray([3000.0, 1e-3], jnp.float16)
    u = jnp.asarray([1e-3, 5e-4], jnp.float16)
    out, _ = lrjax.add_decayed_weights(1e-4).update(u, optax.EmptyState(), p)
    want = np.asarray(u, np.float64) + 1e-4 * np.asarray(p, np.float64)
    assert out.dtype == jnp.float16
    np.testing.assert_allclose(out, want.astype(np.float16), rtol=1e-3)
