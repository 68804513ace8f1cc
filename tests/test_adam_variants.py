"""Adam's variants against their papers' update rules, written out in NumPy.

Each reference below is a few lines of float64 NumPy transcribing the paper's
algorithm (or optax's documented variant of it, where lrjax follows optax);
none calls lrjax or optax.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import references
from hypothesis import given, settings
from hypothesis import strategies as st

import lrjax

GRADS = [
    np.array([0.5, -1.0, 2.0]),
    np.array([0.1, 0.3, -0.7]),
    np.array([-1.2, 0.4, 0.9]),
]
W0 = np.array([1.0, -2.0, 0.5])
# RAdam needs more than 5 steps before its rectified step switches on.
LONG_GRADS = GRADS + [
    np.array([0.3, -0.2, 1.1]),
    np.array([-0.4, 0.8, 0.6]),
    np.array([0.7, 0.5, -0.3]),
    np.array([0.2, -0.9, 0.4]),
    np.array([-0.6, 0.1, 1.5]),
]


def run_lrjax(opt, grads=GRADS, w0=W0):
    """Final params, per-step updates and final state, in float32."""
    w = jnp.asarray(w0, jnp.float32)
    state = opt.init(w)
    steps = []
    for g in grads:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, w)
        steps.append(np.asarray(u))
        w = optax.apply_updates(w, u)
    return np.asarray(w), steps, state


def close(got, want, rtol=1e-5):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)


# --------------------------------------------------------------------------
# AMSGrad (Reddi, Kale & Kumar, 2018).


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


# --------------------------------------------------------------------------
# Adamax (Kingma & Ba, 2015, section 7.1).


def adamax_reference(lr, b1, b2, eps, wd=0.0):
    return references.run(references.Adamax(lr, b1, b2, eps, wd), GRADS, W0)[0]


@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_adamax(eps):
    # eps=0 is the paper's rule exactly; eps=0.5 pins down where eps goes.
    got, _, _ = run_lrjax(lrjax.adamax(0.1, 0.8, 0.95, eps))
    close(got, adamax_reference(0.1, 0.8, 0.95, eps))


def test_adamaxw():
    got, _, _ = run_lrjax(lrjax.adamaxw(0.1, weight_decay=0.3))
    close(got, adamax_reference(0.1, 0.9, 0.999, 1e-8, wd=0.3))


def test_adamax_zero_gradients_give_zero_updates():
    opt = lrjax.adamax(0.1)
    _, steps, _ = run_lrjax(opt, [np.zeros(3)] * 2)
    np.testing.assert_array_equal(steps[-1], np.zeros(3))


# --------------------------------------------------------------------------
# NAdam (Dozat, 2016), in optax's constant-b1 form.


def nadam_reference(lr, b1, b2, eps, wd=0.0, nesterov=True):
    ref = references.Adam(lr, b1, b2, eps, weight_decay=wd, nesterov=nesterov)
    return references.run(ref, GRADS, W0)[0]


def test_nadam():
    got, _, _ = run_lrjax(lrjax.nadam(0.1, 0.8, 0.95, 1e-3))
    close(got, nadam_reference(0.1, 0.8, 0.95, 1e-3))


def test_nadam_without_nesterov_is_adam():
    got, _, _ = run_lrjax(lrjax.nadam(0.1, nesterov=False))
    close(got, nadam_reference(0.1, 0.9, 0.999, 1e-8, nesterov=False))


def test_nadamw():
    got, _, _ = run_lrjax(lrjax.nadamw(0.1, weight_decay=0.3))
    close(got, nadam_reference(0.1, 0.9, 0.999, 1e-8, wd=0.3))


# --------------------------------------------------------------------------
# RAdam (Liu et al., 2020).


def radam_reference_steps(lr, b1, b2, eps, threshold, nesterov=False):
    """Per-step updates of the paper's Algorithm 2."""
    ref = references.RAdam(lr, b1, b2, eps, threshold, nesterov=nesterov)
    return references.run(ref, LONG_GRADS, W0)[1]


@pytest.mark.parametrize(
    "b2, threshold, nesterov",
    [(0.999, 5.0, False), (0.9, 4.0, False), (0.99, 5.0, True)],
)
def test_radam(b2, threshold, nesterov):
    opt = lrjax.radam(0.1, 0.8, b2, 1e-3, threshold=threshold, nesterov=nesterov)
    _, got, _ = run_lrjax(opt, LONG_GRADS)
    want = radam_reference_steps(0.1, 0.8, b2, 1e-3, threshold, nesterov)
    # rho_t subtracts two numbers near 2 / (1 - b2): in float32 it is exact to
    # ~4e-4, which moves r_t by ~1e-4 relative in the first rectified steps.
    np.testing.assert_allclose(np.stack(got), np.stack(want), rtol=3e-4, atol=1e-7)


def test_radam_switches_to_the_adaptive_step_after_five_steps():
    # b2 = 0.999: rho_5 = 4.996 < 5 <= rho_6 = 5.994 (float64).
    lr = 0.1
    _, got, _ = run_lrjax(lrjax.radam(lr), LONG_GRADS)
    m = np.zeros(3)
    for t, g in enumerate(LONG_GRADS[:6], start=1):
        m = 0.9 * m + 0.1 * g
        sgd_step = -lr * m / (1 - 0.9**t)
        if t <= 5:
            close(got[t - 1], sgd_step)
        else:
            assert not np.allclose(got[t - 1], sgd_step, rtol=1e-2)


def test_radam_gradients_through_the_update_stay_finite():
    # Steps 3-4 have 2 < rho_t < 4, where the paper's r_t is imaginary; the
    # unused branch must not poison derivatives taken through the optimizer.
    opt = lrjax.radam(0.1)

    def total_update(scale):
        state, total = opt.init(jnp.zeros(3)), 0.0
        for g in LONG_GRADS:
            u, state = opt.update(scale * jnp.asarray(g, jnp.float32), state)
            total = total + jnp.sum(u)
        return total

    assert np.isfinite(float(jax.grad(total_update)(1.0)))


def test_radam_rejects_a_threshold_where_r_is_undefined():
    with pytest.raises(ValueError, match=r"threshold.*3\.5"):
        lrjax.radam(0.1, threshold=3.5)
    lrjax.radam(0.1, threshold=4.0)  # the paper's own threshold is accepted


# --------------------------------------------------------------------------
# AdaBelief (Zhuang et al., 2020).


def adabelief_reference(lr, b1, b2, eps, eps_root, nesterov=False):
    w, m, s = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps_root
        if nesterov:
            m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        else:
            m_hat = m / (1 - b1**t)
        w = w - lr * m_hat / (np.sqrt(s / (1 - b2**t)) + eps)
    return w


def test_adabelief_paper_algorithm():
    # The paper uses one epsilon in both places.
    got, _, _ = run_lrjax(lrjax.adabelief(0.1, 0.8, 0.95, 1e-3, 1e-3))
    close(got, adabelief_reference(0.1, 0.8, 0.95, 1e-3, 1e-3))


@pytest.mark.parametrize("nesterov", [False, True])
def test_adabelief_separate_eps_and_eps_root(nesterov):
    opt = lrjax.adabelief(0.1, eps=0.2, eps_root=0.05, nesterov=nesterov)
    got, _, _ = run_lrjax(opt)
    close(got, adabelief_reference(0.1, 0.9, 0.999, 0.2, 0.05, nesterov))


# --------------------------------------------------------------------------
# Moment dtypes.

BLOCKS = {
    "amsgrad": lrjax.scale_by_amsgrad,
    "adamax": lrjax.scale_by_adamax,
    "belief": lrjax.scale_by_belief,
    "radam": lrjax.scale_by_radam,
}


# float16 rather than bfloat16 for mu_dtype: lrjax._validation.check_dtype
# rejects bfloat16 (np.issubdtype(bfloat16, np.floating) is False); reported.
@pytest.mark.parametrize("name", list(BLOCKS))
def test_moment_dtypes_are_honoured(name):
    params = {"w": jnp.ones((2, 3), jnp.float32), "h": jnp.ones(4, jnp.bfloat16)}
    opt = BLOCKS[name](mu_dtype=jnp.float16, nu_dtype=jnp.float32)
    state = opt.init(params)
    updates, state = opt.update(params, state)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    want_mu = jax.tree_util.tree_map(lambda p: p.astype(jnp.float16), params)
    want_nu = jax.tree_util.tree_map(lambda p: p.astype(jnp.float32), params)
    chex.assert_trees_all_equal_dtypes(state.mu, want_mu)
    chex.assert_trees_all_equal_dtypes(state.nu, want_nu)
    if name == "amsgrad":
        chex.assert_trees_all_equal_dtypes(state.nu_max, want_nu)
    # Default: every buffer takes its parameter's dtype.
    default = BLOCKS[name]().init(params)
    for field in default[1:]:
        chex.assert_trees_all_equal_dtypes(field, params)
