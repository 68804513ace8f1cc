"""Complex and half-precision parameters in the adaptive, factored, clipping
and layer-wise blocks and the optimizers built from them (lrjax issue 7).

References are independent of the code under test: optax's same-named
optimizer or block, NumPy complex128 formulas written here, and, for half
precision, the same optimizer computing in float32 from the same stored
(rounded) state, as the issue states the rule.
"""

from __future__ import annotations

import cases_adadelta
import cases_adagrad
import cases_large_batch
import cases_rmsprop
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optimizer_case import one_per_optimizer

import lrjax

# Lion's block lives with the sign-based methods, covered elsewhere.
_NAMES = {"adagrad", "rmsprop", "adadelta", "adafactor", "lamb", "lars"}
_FAMILIES = (cases_adagrad, cases_rmsprop, cases_adadelta, cases_large_batch)
CASES = [c for m in _FAMILIES for c in m.CASES if c.name in _NAMES]
by_id = pytest.mark.parametrize("case", CASES, ids=str)

# optax 0.2.8's scale_by_adadelta squares complex numbers (g**2) instead of
# taking |g|**2, so its complex steps are not AdaDelta's: a NumPy reference.
_NUMPY_COMPLEX = {"adadelta", "adadelta_default_rate"}


# --------------------------------------------------------------------------
# A complex least-squares problem.


def _complex_problem():
    r = np.random.RandomState(0)

    def cplx(*shape):
        return r.randn(*shape) + 1j * r.randn(*shape)

    params = {
        "w": jnp.asarray(cplx(3, 4), jnp.complex64),
        "b": jnp.asarray(cplx(4), jnp.complex64),
        "r": jnp.asarray(r.randn(4), jnp.float32),  # a real leaf alongside
    }
    x = jnp.asarray(cplx(5, 3), jnp.complex64)
    y = jnp.asarray(cplx(5, 4), jnp.complex64)
    t = jnp.asarray(r.randn(4), jnp.float32)

    def loss(p):
        resid = x @ p["w"] + p["b"] - y
        return jnp.sum(jnp.real(resid * jnp.conj(resid))) + jnp.sum((p["r"] - t) ** 2)

    def grads(p):
        # jax.grad of a real function of z gives conj(dL/dz*) up to 2: its
        # conjugate is the steepest-ascent direction, which descent needs.
        return jax.tree_util.tree_map(jnp.conj, jax.grad(loss)(p))

    return params, loss, grads


def _buffers(state):
    """Per-parameter buffers (counts and rates are scalars), in tree order."""
    return [x for x in jax.tree_util.tree_leaves(state) if jnp.ndim(x) >= 1]


def _optax_twin(case):
    if case.name == "adafactor" and case.kwargs.get("momentum") is not None:
        # lrjax keeps a complex param's momentum complex at the declared
        # precision (dtype_momentum=float32 -> complex64); optax would cast it
        # to float32 and drop the imaginary part, so ask it for complex64.
        return optax.adafactor(
            learning_rate=case.learning_rate,
            **case.kwargs,
            dtype_momentum=jnp.complex64,
        )
    return case.make_optax()


@pytest.mark.parametrize(
    "case", one_per_optimizer([c for c in CASES if c.id not in _NUMPY_COMPLEX])
)
def test_complex_params_match_optax_for_20_steps(case):
    params, loss, grads = _complex_problem()
    ours, theirs = case.make(), _optax_twin(case)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    loss0 = loss(params)
    for _ in range(20):
        g = grads(params)
        u_ours, s_ours = ours.update(g, s_ours, params)
        u_theirs, s_theirs = theirs.update(g, s_theirs, params)
        chex.assert_trees_all_equal_dtypes(u_ours, params)
        chex.assert_trees_all_close(u_ours, u_theirs, rtol=1e-4, atol=1e-7)
        b_ours, b_theirs = _buffers(s_ours), _buffers(s_theirs)
        if case.kwargs.get("momentum") is not None and case.name == "rmsprop":
            # lrjax applies the rate (with its descent sign) on the way out
            # of the momentum buffer; optax stores -lr-scaled steps in it (the
            # same updates for a constant rate): compare -lr * ours.
            n = len(jax.tree_util.tree_leaves(params))
            b_ours = b_ours[:n] + [-case.learning_rate * b for b in b_ours[n:]]
        want = [b.dtype for b in b_theirs]
        if case.name == "adafactor" and case.kwargs.get("momentum") is not None:
            # The momentum (the last buffers) of the real leaf stays float32
            # in lrjax; the twin was asked for complex64 everywhere.
            leaves = jax.tree_util.tree_leaves(params)
            want[-len(leaves) :] = [
                jnp.promote_types(p.dtype, jnp.float32) for p in leaves
            ]
        assert [b.dtype for b in b_ours] == want
        chex.assert_trees_all_close(b_ours, b_theirs, rtol=1e-4, atol=1e-7)
        params = optax.apply_updates(params, u_ours)
    assert loss(params) < loss0


def _numpy_adadelta(params, grads_fn, lr, rho, eps, weight_decay, steps):
    """Zeiler's AdaDelta with |g|**2, in complex128, on the same trajectory."""
    e_g = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    e_x = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    out = []
    for _ in range(steps):
        g_all = grads_fn({k: jnp.asarray(v, params[k].dtype) for k, v in p.items()})
        step = {}
        for k in p:
            g = np.asarray(g_all[k], np.complex128) + weight_decay * p[k]
            e_g[k] = rho * e_g[k] + (1 - rho) * np.abs(g) ** 2
            dx = np.sqrt(e_x[k] + eps) / np.sqrt(e_g[k] + eps) * g
            e_x[k] = rho * e_x[k] + (1 - rho) * np.abs(dx) ** 2
            step[k] = -lr * dx
            p[k] = p[k] + step[k]
        out.append((step, dict(e_g), dict(e_x)))
    return out


@pytest.mark.parametrize("case", [c for c in CASES if c.id in _NUMPY_COMPLEX], ids=str)
def test_complex_adadelta_matches_numpy_for_20_steps(case):
    params, loss, grads = _complex_problem()
    opt = case.make()
    state = opt.init(params)
    ref = _numpy_adadelta(
        params,
        grads,
        lr=case.learning_rate,
        rho=case.kwargs.get("rho", 0.9),
        eps=case.kwargs.get("eps", 1e-6),
        weight_decay=case.kwargs.get("weight_decay", 0.0),
        steps=20,
    )
    for step, e_g, e_x in ref:
        u, state = opt.update(grads(params), state, params)
        for k in params:
            np.testing.assert_allclose(u[k], step[k], rtol=1e-4, atol=1e-8)
        (ada,) = [s for s in state if isinstance(s, lrjax.ScaleByAdaDeltaState)]
        for k in params:
            assert ada.e_g[k].dtype == params[k].dtype  # optax's layout
            np.testing.assert_allclose(ada.e_g[k], e_g[k], rtol=1e-4, atol=1e-10)
            np.testing.assert_allclose(ada.e_x[k], e_x[k], rtol=1e-4, atol=1e-12)
        params = optax.apply_updates(params, u)


def test_complex_rmsprop_with_real_mu_dtype_keeps_the_imaginary_part():
    # mu_dtype=float32 on a complex parameter means complex64, not a real
    # buffer that drops the imaginary part of the centered mean.
    params, _, grads = _complex_problem()
    ours = lrjax.rmsprop(0.01, centered=True, mu_dtype=jnp.float32)
    theirs = optax.rmsprop(0.01, centered=True)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    assert s_ours[0].mu["w"].dtype == jnp.complex64
    for _ in range(5):
        g = grads(params)
        u, s_ours = ours.update(g, s_ours, params)
        v, s_theirs = theirs.update(g, s_theirs, params)
        chex.assert_trees_all_close(u, v, rtol=1e-4, atol=1e-7)
        params = optax.apply_updates(params, u)


# --------------------------------------------------------------------------
# Complex norms and clipping.


def test_global_norm_of_an_imaginary_leaf_is_its_modulus():
    assert float(lrjax.global_norm([jnp.asarray(3j, jnp.complex64)])) == 3.0
    tree = {"c": jnp.asarray([3 + 4j, 1j], jnp.complex64), "x": jnp.asarray([2.0])}
    np.testing.assert_allclose(lrjax.global_norm(tree), np.sqrt(25 + 1 + 4), rtol=1e-6)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_by_global_norm_complex_matches_numpy(max_norm):
    r = np.random.RandomState(3)
    tree = {
        "c": (r.randn(3, 2) + 1j * r.randn(3, 2)).astype(np.complex64),
        "x": r.randn(4).astype(np.float32),
    }
    norm = np.sqrt(
        sum(np.sum(np.abs(v.astype(np.complex128)) ** 2) for v in tree.values())
    )
    factor = min(1.0, max_norm / norm)
    opt = lrjax.clip_by_global_norm(max_norm)
    out, _ = opt.update(jax.tree_util.tree_map(jnp.asarray, tree), opt.init(tree))
    for k, v in tree.items():
        assert out[k].dtype == v.dtype
        np.testing.assert_allclose(out[k], v * factor, rtol=1e-6)


def test_element_wise_clip_rejects_complex_params_and_updates():
    opt = lrjax.clip(1.0)
    with pytest.raises(TypeError, match=r"clip: the parameter at \['c'\] is complex"):
        opt.init({"c": jnp.ones(2, jnp.complex64)})
    with pytest.raises(TypeError, match="clip: the update .* is complex"):
        opt.update([jnp.ones(2, jnp.complex64)], optax.EmptyState())


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.scale_by_trust_ratio(),
        lambda lib: lib.scale_by_trust_ratio(min_norm=0.1, trust_coefficient=0.01),
        lambda lib: lib.clip_by_block_rms(0.3),
        lambda lib: lib.scale_by_param_block_rms(),
        lambda lib: lib.scale_by_factored_rms(min_dim_size_to_factor=2),
    ],
    ids=["trust_ratio", "trust_ratio_min_norm", "block_rms", "param_rms", "factored"],
)
def test_complex_norm_blocks_match_optax(make):
    params, _, grads = _complex_problem()
    ours, theirs = make(lrjax), make(optax)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    for _ in range(3):
        g = grads(params)
        u, s_ours = ours.update(g, s_ours, params)
        v, s_theirs = theirs.update(g, s_theirs, params)
        chex.assert_trees_all_equal_dtypes(u, params)
        chex.assert_trees_all_close(u, v, rtol=1e-5, atol=1e-7)
        params = jax.tree_util.tree_map(lambda p, d: p - 0.1 * d, params, u)


# --------------------------------------------------------------------------
# float16 and bfloat16.

_HALF = [
    (jnp.float16, 1e-6),
    (jnp.float16, 1e-4),
    (jnp.float16, 1e2),
    (jnp.bfloat16, 1e-4),
    (jnp.bfloat16, 1e2),
]
# Two units in the last place: one rounding of the returned update, plus one
# of a hyperparameter cast to the update's dtype by a downstream block. Each
# block returns the gradient's dtype, so a momentum block downstream sees the
# rounded step; where it cancels against its buffer, that rounding (relative
# to the leaf's largest step) shows: hence also an absolute tolerance of rtol
# times the leaf's largest reference step.
_RTOL = {jnp.float16: 2e-3, jnp.bfloat16: 2e-2}


def _half_problem(case, dtype, scale):
    r = np.random.RandomState(5)
    # A matrix (factored by adafactor with min_dim_size_to_factor=2) and a
    # vector (a full second moment).
    shapes = {"w": (4, 3), "b": (3,)}
    params = {k: jnp.asarray(r.randn(*s), dtype) for k, s in shapes.items()}

    def grads(step):
        rs = np.random.RandomState(100 + step)
        # Magnitudes in [0.5, 1.5] * scale with both signs.
        return {
            k: jnp.asarray(
                scale * (0.5 + rs.rand(*s)) * rs.choice([-1.0, 1.0], size=s), dtype
            )
            for k, s in shapes.items()
        }

    return params, grads


def _round_like(ref_tree, half_tree):
    """``ref_tree`` rounded to ``half_tree``'s dtypes, kept in its own dtypes."""
    return jax.tree_util.tree_map(
        lambda r, h: jnp.asarray(r).astype(h.dtype).astype(jnp.asarray(r).dtype),
        ref_tree,
        half_tree,
    )


@pytest.mark.parametrize(
    "dtype,scale", _HALF, ids=lambda v: str(getattr(v, "__name__", v))
)
@by_id
def test_half_precision_updates_match_float32_computation(case, dtype, scale):
    params, grads = _half_problem(case, dtype, scale)
    opt = case.make()
    state = opt.init(params)
    init_dtypes = [x.dtype for x in jax.tree_util.tree_leaves(state)]
    declared = {jnp.dtype(dtype)}
    if case.name == "adafactor" and case.kwargs.get("momentum") is not None:
        declared.add(jnp.dtype(jnp.float32))  # dtype_momentum's default
    assert {b.dtype for b in _buffers(state)} <= declared

    # The reference computes in float32 from the same stored state: after
    # every step its state is rounded to the dtypes the half run stores.
    to32 = lambda t: jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), t)  # noqa: E731
    ref_state = _round_like(opt.init(to32(params)), state)
    tiny = 2 * float(jnp.finfo(dtype).smallest_subnormal)
    for step in range(3):
        g = grads(step)
        u, state = opt.update(g, state, params)
        u_ref, ref_state = opt.update(to32(g), ref_state, to32(params))
        ref_state = _round_like(ref_state, state)
        chex.assert_trees_all_equal_dtypes(u, params)
        for k in params:
            want = np.asarray(u_ref[k].astype(dtype), np.float32)
            np.testing.assert_allclose(
                np.asarray(u[k], np.float32),
                want,
                rtol=_RTOL[dtype],
                atol=tiny + _RTOL[dtype] * np.max(np.abs(want)),
                err_msg=f"step {step}, leaf {k}",
            )
        params = optax.apply_updates(params, u)
    assert [x.dtype for x in jax.tree_util.tree_leaves(state)] == init_dtypes


@pytest.mark.parametrize("g", [1e-4, 1e-6])
def test_adagrad_without_initial_value_first_float16_step(g):
    # G = g**2 underflows float16 (and 1e-7 eps is below its subnormals):
    # computed in float16 the first step is 0 instead of -lr * g / sqrt(G + eps).
    # (bfloat16 has float32's range: it was right before.)
    dtype = jnp.float16
    opt = lrjax.adagrad(0.1, initial_accumulator_value=0.0)
    params = jnp.ones(3, dtype)
    g_half = jnp.full(3, g, dtype)
    u, state = opt.update(g_half, opt.init(params), params)
    g32 = float(g_half[0].astype(jnp.float32))
    want = -0.1 * g32 / np.sqrt(g32**2 + 1e-7)
    assert u.dtype == dtype and state[0].sum_of_squares.dtype == dtype
    np.testing.assert_allclose(np.asarray(u, np.float32), want, rtol=_RTOL[dtype])
