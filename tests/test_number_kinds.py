"""Number kinds every optimizer must handle (lrjax issue 7).

* Complex parameters train as in optax: second moments use ``|g|**2``, first
  moments stay complex, state dtypes equal optax's.
* float16 / bfloat16 parameters: per-element arithmetic runs in float32, so a
  step equals the float32 step on the same (float32-cast) values, rounded
  once to the declared dtypes.
* Python-scalar update leaves give optax's values and dtypes.

References: optax's same-named optimizer, NumPy formulas written here, and
(for float16/bf16) lrjax's float32 path, which the parity tests in
``test_optimizers_common.py`` check against optax.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest
import references
from cases_distance import ldog_complex_reference
from cases_polyak import polyak_complex_reference
from cases_sign import rprop_complex_reference
from number_kinds import (
    RADAM_RTOL,
    RTOL,
    close_in,
    complex_problem,
    low_precision_problem,
    per_param_leaves,
    run_complex,
    to_float32,
)
from number_kinds_lr_free import (
    cocob_reference,
    dadapt_adamw_reference,
    prodigy_reference,
)
from optimizer_case import (
    REPRESENTATIVE_IDS,
    all_cases,
    first_of_each_optimizer,
    one_per_optimizer,
    representatives_first,
)

import lrjax

CASES = all_cases()
PARITY_CASES = [c for c in CASES if c.optax_parity]
# The per-leaf-statistics optimizers have their own complex and half-precision
# tests (tests/test_number_kinds_adaptive.py), with their deliberate
# differences from optax (adadelta's |g|**2, rmsprop's rate after momentum).
ADAPTIVE_NAMES = {"adagrad", "rmsprop", "adadelta", "adafactor", "lamb", "lars"}
# Absolute tolerance, as a fraction of the largest update component, for
# methods whose float32 rounding is set by the whole tree rather than by each
# element: DoG's rate divides a global distance by a global gradient sum, and
# schedule-free's update y_{t+1} - y_t cancels. Measured against optax run in
# complex128: lrjax and optax are each up to 1.2e-5 of max |u| off (so up to
# 7e-5 relative on an element ten times smaller than the largest).
COMPLEX_ATOL_OF_MAX = {"schedule_free_sgd": 3e-5, "dog": 3e-5}
# Absolute tolerance of the state comparison, by optimizer name, where a state
# buffer cancels: Adan's v averages g_t - g_{t-1}, about 1 here while |g| is
# about 1400, so one float32 ulp of the gradient (1e-4) reaches v. Measured
# after 20 steps: lrjax's and optax's float32 v are each 7e-6 to 9e-6 off an
# optax run in complex128, and 1e-5 apart (the updates still agree to 3e-5).
COMPLEX_STATE_ATOL = {"adan": 5e-5}


def _complex_atol(case, ref, floor=1e-7):
    frac = COMPLEX_ATOL_OF_MAX.get(case.id)
    if frac is None:
        return floor
    biggest = max(float(np.max(np.abs(x))) for x in jax.tree.leaves(ref))
    return max(frac * biggest, floor)


by_id = pytest.mark.parametrize("case", CASES, ids=str)

# Arguments naming a first-moment (momentum) dtype: a real one for a complex
# parameter gives a complex buffer of that precision.
_FIRST_MOMENT_DTYPE_ARGS = ("mu_dtype", "accumulator_dtype", "dtype_momentum")


def _real_first_moment_arg(case) -> str | None:
    kw = {**case.kwargs, **case.lrjax_kwargs}
    for name in _FIRST_MOMENT_DTYPE_ARGS:
        dtype = kw.get(name)
        if dtype is not None and not jnp.issubdtype(dtype, jnp.complexfloating):
            return name
    return None


def _leaf_dtypes(tree):
    return [jnp.asarray(x).dtype for x in jax.tree_util.tree_leaves(tree)]


# --------------------------------------------------------------------------
# (a) Complex parameters.


def _sgd_ema_reference(case, steps=20):
    """NumPy complex SGD with dampened (EMA) momentum: the case's formula."""
    kw = {**case.kwargs, **case.lrjax_kwargs}
    b, d, lr = kw["momentum"], kw["dampening"], case.learning_rate
    params, _, grads = complex_problem()
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    out = []
    for _ in range(steps):
        g = {k: np.asarray(x, np.complex128) for k, x in grads(p).items()}
        v = {k: b * v[k] + (1 - d) * g[k] for k in p}
        u = {k: -lr * v[k] for k in p}
        out.append((u, [v["m"], v["w"]]))
        p = {k: p[k] + u[k] for k in p}
    return out


def _radam_reference(case, steps=20):
    """``references.RAdam`` per leaf in complex128: ``v`` the EMA of ``|g|**2``."""
    kw = {**case.kwargs, **case.lrjax_kwargs}
    names = ("b1", "b2", "eps", "threshold", "eps_root", "nesterov")
    params, _, grads = complex_problem()
    ref = references.PerLeaf(
        lambda: references.RAdam(
            case.learning_rate, **{k: kw[k] for k in names if k in kw}
        ),
        sorted(params),
    )
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    out = []
    for _ in range(steps):
        g = {k: np.asarray(x, np.complex128) for k, x in grads(p).items()}
        u = ref(g, p)
        out.append((u, [ref["m"].m, ref["w"].m, ref["m"].v, ref["w"].v]))
        p = {k: p[k] + u[k] for k in p}
    return out


def _stale_sgd_reference(case, steps=20):
    """NumPy complex SGD applying the gradient ``tau = min(max_delay, t)``
    steps old at rate ``lr / max(tau, 1)`` (staleness-aware); the state's
    ring buffers hold gradient ``t`` in slot ``t % (max_delay + 1)``."""
    delay, lr = case.kwargs["max_delay"], case.learning_rate
    params, _, grads = complex_problem()
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    shapes = {x.shape for x in p.values()}
    ring = {k: np.zeros((delay + 1, *x.shape), np.complex128) for k, x in p.items()}
    received = []
    out = []
    for t in range(steps):
        received.append({k: np.asarray(x, np.complex128) for k, x in grads(p).items()})
        for k in p:
            ring[k][t % (delay + 1)] = received[t][k]
        tau = min(delay, t)
        u = {k: -lr / max(tau, 1) * received[t - tau][k] for k in p}
        # State leaves in tree order (keys sorted); only parameter-shaped
        # ones are compared, as per_param_leaves does.
        out.append((u, [ring[k] for k in sorted(p) if ring[k].shape in shapes]))
        p = {k: p[k] + u[k] for k in p}
    return out


# NumPy complex references (and their tolerance), by case id: cases without
# an optax twin, and RAdam, whose first rectified steps optax computes with a float32 b2**t
# (0.5% off at step 6; lrjax's rho_t is accurate, see scale_by_radam).
# optax.contrib's prodigy, dadapt_adamw and cocob mishandle complex numbers
# (see tests/number_kinds_lr_free.py); their references are float64.
COMPLEX_REFERENCES = {
    "sgd_ema_momentum": (_sgd_ema_reference, 1e-5),
    "stale_sgd_delay2": (_stale_sgd_reference, 1e-5),
    "prodigy": (prodigy_reference, 3e-5),
    "dadapt_adamw": (dadapt_adamw_reference, 3e-5),
    "cocob": (cocob_reference, 1e-5),
    "radam": (_radam_reference, RADAM_RTOL),
    "radam_nesterov": (_radam_reference, RADAM_RTOL),
    # optax compares complex numbers, which JAX refuses.
    "rprop": (rprop_complex_reference, 1e-5),
    "rprop_bounded": (rprop_complex_reference, 1e-5),
    # optax's polyak_sgd with scaling != 1 is another formula (polyak_sgd).
    "polyak_sgd_scaling_half": (polyak_complex_reference, 1e-5),
    # optax's LDoG squares complex gradients (scale_by_distance_over_gradients).
    "distance_over_gradients": (ldog_complex_reference, 1e-5),
}


@pytest.mark.parametrize(
    "case",
    one_per_optimizer(
        [
            c
            for c in PARITY_CASES
            if not _real_first_moment_arg(c)
            and c.id not in COMPLEX_REFERENCES
            and c.name not in ADAPTIVE_NAMES
            and c.complex_checked
        ]
    ),
)
def test_complex_parameters_match_optax(case):
    ours_final, loss, ours = run_complex(case.make(), extra=case.extra())
    _, _, theirs = run_complex(case.make_optax(), extra=case.extra())
    for k, ((u, s), (u_ref, s_ref)) in enumerate(zip(ours, theirs, strict=True)):
        chex.assert_trees_all_equal_dtypes(u, u_ref)
        # optax's float32 1 - b2**t is up to ~1.5e-5 off; lrjax's expm1 form
        # is exact to float32 rounding (tests/test_numerics_precision.py).
        atol = _complex_atol(case, u_ref)
        chex.assert_trees_all_close(u, u_ref, rtol=3e-5, atol=atol)
        params = complex_problem()[0]
        mine, ref = per_param_leaves(s, params), per_param_leaves(s_ref, params)
        if not case.optax_state_twin:  # a different composition: updates only
            assert all(x.dtype == jnp.complex64 for x in mine), f"step {k}"
            continue
        assert [x.dtype for x in mine] == [x.dtype for x in ref], f"step {k}"
        # (z, the iterate, is O(1) and kept to the same absolute error.)
        state_atol = max(atol, COMPLEX_STATE_ATOL.get(case.name, 1e-7))
        chex.assert_trees_all_close(mine, ref, rtol=3e-5, atol=state_atol)
    assert any(
        bool(jnp.any(jnp.imag(x) != 0))
        for x in jax.tree_util.tree_leaves(ours[case.zero_first_updates][0])
    ), "updates lost their imaginary part"
    assert float(loss(ours_final)) < float(loss(complex_problem()[0]))


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if (not c.optax_parity or c.id in COMPLEX_REFERENCES)
        and c.name not in ADAPTIVE_NAMES
        and c.complex_checked
    ],
    ids=str,
)
def test_complex_parameters_match_numpy_reference(case):
    assert case.id in COMPLEX_REFERENCES, (
        f"{case.id}: no optax twin and no NumPy complex reference in COMPLEX_REFERENCES"
    )
    _, _, ours = run_complex(case.make(), extra=case.extra())
    reference, rtol = COMPLEX_REFERENCES[case.id]
    want = reference(case)
    params = complex_problem()[0]
    # States interchangeable with optax's (not where optax's complex state
    # differs: optax_state_twin).
    if case.optax_parity and case.optax_state_twin:
        chex.assert_trees_all_equal_dtypes(
            per_param_leaves(case.make().init(params), params),
            per_param_leaves(case.make_optax().init(params), params),
        )
    for (u, s), (u_ref, s_ref) in zip(ours, want, strict=True):
        atol = _complex_atol(case, u_ref)
        for key in u:
            np.testing.assert_allclose(u[key], u_ref[key], rtol=rtol, atol=atol)
        for got, ref in zip(per_param_leaves(s, params), s_ref, strict=True):
            atol = _complex_atol(case, ref, floor=1e-6)
            np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


_DTYPE_ARGS = ("mu_dtype", "nu_dtype", "accumulator_dtype", "dtype_momentum")


@pytest.mark.parametrize(
    "case", [c for c in CASES if _real_first_moment_arg(c)], ids=str
)
def test_real_momentum_dtype_for_complex_params_gives_a_complex_buffer(case):
    # A real first-moment dtype sets the precision of a complex buffer
    # (float32 -> complex64): the momentum keeps its imaginary part, and the
    # steps equal optax's with its default (complex) buffers. optax itself
    # would cast the momentum to the real dtype and drop the imaginary part.
    arg = _real_first_moment_arg(case)
    declared = jnp.dtype({**case.kwargs, **case.lrjax_kwargs}[arg])
    params = complex_problem()[0]
    mine = per_param_leaves(case.make().init(params), params)
    assert jnp.promote_types(declared, jnp.complex64) in [x.dtype for x in mine]
    _, _, ours = run_complex(case.make(), steps=5, extra=case.extra())
    kwargs = {k: v for k, v in case.kwargs.items() if k not in _DTYPE_ARGS}
    module = optax if case.optax_module is None else case.optax_module
    theirs_opt = getattr(module, case.name)(case.learning_rate, **kwargs)
    _, _, theirs = run_complex(theirs_opt, steps=5)
    # float16 momentum (lion_mu_float16 -> complex64) is exact here.
    for (u, _), (u_ref, _) in zip(ours, theirs, strict=True):
        chex.assert_trees_all_close(u, u_ref, rtol=3e-5, atol=1e-7)


def test_issue_example_adam_complex_step():
    # Issue 7: adam(0.1) on p=[1+1j], g=[1+2j] gave -0.1+0j.
    opt = lrjax.adam(0.1)
    p = jnp.asarray([1 + 1j], jnp.complex64)
    u, _ = opt.update(jnp.asarray([1 + 2j], jnp.complex64), opt.init(p), p)
    # m_hat = g, v_hat = |g|**2 = 5: u = -0.1 * g / sqrt(5).
    # (float32's 1 - 0.999**1 is 1.3e-5 off, hence the tolerance.)
    want = -0.1 * (1 + 2j) / np.sqrt(5.0)
    np.testing.assert_allclose(u, [want], rtol=1e-5)
    np.testing.assert_allclose(u, [-0.0447214 - 0.0894427j], atol=1e-6)


# --------------------------------------------------------------------------
# (b) Complex state dtypes.

# Optimizers with both moment dtypes, and their optax twin's keywords.
_WITH_MU = {"mu_dtype": "complex64"}
_MOMENT_DTYPE_OPTIMIZERS = [
    ("adam", _WITH_MU),
    ("nadam", _WITH_MU),
    ("adamw", _WITH_MU),
    ("amsgrad", _WITH_MU),
    ("adamax", {}),
    ("radam", {}),
    ("adabelief", {}),
]


@pytest.mark.parametrize("name,optax_kw", _MOMENT_DTYPE_OPTIMIZERS)
def test_complex_mu_dtype_and_real_nu_dtype(name, optax_kw):
    # mu_dtype="complex64" is accepted, and a real nu_dtype holds the real
    # second moment of complex parameters: the same steps as optax, whose nu
    # is complex with a zero imaginary part.
    ours = getattr(lrjax, name)(1e-2, mu_dtype="complex64", nu_dtype="float32")
    # optax's adamax, radam and adabelief have no mu_dtype: complex64 is their
    # default for these params anyway.
    theirs = getattr(optax, name)(1e-2, **optax_kw)
    # RAdam: the 5 steps before its switch (optax's float32 b2**t puts its
    # rectified steps 0.5% off; test_radam_complex_matches_numpy covers them).
    steps = 5 if name == "radam" else 10
    _, _, got = run_complex(ours, steps=steps)
    _, _, want = run_complex(theirs, steps=steps)
    params = complex_problem()[0]
    for (u, s), (u_ref, s_ref) in zip(got, want, strict=True):
        chex.assert_trees_all_close(u, u_ref, rtol=3e-5, atol=1e-7)
        mine = per_param_leaves(s, params)
        ref = per_param_leaves(s_ref, params)
        n = len(params)
        assert all(x.dtype == jnp.complex64 for x in mine[:n])
        assert all(x.dtype == jnp.float32 for x in mine[n:])
        chex.assert_trees_all_close(mine[:n], ref[:n], rtol=3e-5, atol=1e-7)
        chex.assert_trees_all_close(
            mine[n:], [jnp.real(x) for x in ref[n:]], rtol=3e-5, atol=1e-7
        )


# --------------------------------------------------------------------------
# (c) float16 and bfloat16 arithmetic.

_LOW_PRECISION = [
    (jnp.float16, 1e-4),
    (jnp.float16, 1e2),
    (jnp.float16, 1e-6),  # subnormal in float16
    (jnp.bfloat16, 1e-4),
    (jnp.bfloat16, 1e2),
]


# Each optimizer's first case at the hardest point by default (float16
# subnormal gradients); every point for the representatives; the rest (flag
# variants, bf16, other scales) under slow.
_LOW_PRECISION_DEFAULT = {(jnp.float16, 1e-6)}


def _low_precision_cases():
    for case in CASES:
        if case.name in ADAPTIVE_NAMES:
            continue
        for dtype, scale in _LOW_PRECISION:
            default = (dtype, scale) in _LOW_PRECISION_DEFAULT
            default = default and case.id in first_of_each_optimizer(CASES)
            yield pytest.param(
                case,
                dtype,
                scale,
                id=f"{case.id}-{dtype.__name__}-{scale:g}",
                marks=()
                if default or case.id in REPRESENTATIVE_IDS
                else pytest.mark.slow,
            )


@pytest.mark.parametrize("case, dtype, scale", list(_low_precision_cases()))
def test_low_precision_steps_equal_float32_steps(case, dtype, scale):
    # Each step: our update and new state must be the float32 step on the
    # float32-cast gradient, state and params, rounded once to the declared
    # dtypes. Squaring or decaying in float16 (g = 1e-4: g**2 = 1e-8 flushes
    # to 0) breaks this by orders of magnitude.
    params, grads = low_precision_problem(dtype, scale)
    opt = case.make()
    state = opt.init(params)
    declared = _leaf_dtypes(state)
    for k, g in enumerate(grads):
        u, new_state = opt.update(g, state, params, **case.extra())
        u_ref, state_ref = opt.update(
            to_float32(g), to_float32(state), to_float32(params), **case.extra()
        )
        chex.assert_trees_all_equal_dtypes(u, params)
        assert _leaf_dtypes(new_state) == declared, f"step {k}"
        close_in(dtype, u, u_ref)
        close_in(dtype, new_state, state_ref)
        params, state = optax.apply_updates(params, u), new_state


def test_issue_example_adam_first_float16_step():
    # Issue 7: the first float16 update with g = 1e-4 was 10,000x the rate.
    p = jnp.ones(3, jnp.float16)
    for kwargs in ({}, {"nu_dtype": "float32"}):
        opt = lrjax.adam(1e-2, **kwargs)
        u, _ = opt.update(jnp.full(3, 1e-4, jnp.float16), opt.init(p), p)
        assert u.dtype == jnp.float16
        # m_hat = g, v_hat = g**2: u = -lr * g / (|g| + eps) = -lr (1 - 1e-4).
        np.testing.assert_allclose(u, np.full(3, -1e-2 * (1 - 1e-4)), rtol=2e-3)


def test_adamw_bf16_step_rounds_once_per_block():
    # docs/runtime.md: a chain rounds once per block. adamw's first bf16 step
    # is the Adam direction g / (|g| + eps) in float32, rounded; plus the
    # decoupled decay wd * p, rounded; times -lr, rounded.
    rng = np.random.RandomState(0)
    p = jnp.asarray(rng.randn(4096), jnp.bfloat16)
    g = jnp.asarray(rng.randn(4096) * 1e-2, jnp.bfloat16)
    lr, wd = 1e-3, 0.1
    opt = lrjax.adamw(lr, weight_decay=wd)
    u, _ = opt.update(g, opt.init(p), p)

    def bf(x):
        return np.asarray(x, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)

    g32, p32 = np.asarray(g, np.float32), np.asarray(p, np.float32)
    direction = g32 / (np.abs(g32) + np.float32(1e-8))
    per_block = bf(-np.float32(lr) * bf(bf(direction) + np.float32(wd) * p32))
    np.testing.assert_array_equal(np.asarray(u, np.float32), per_block)
    once = bf(-np.float32(lr) * (direction + np.float32(wd) * p32))
    differ = np.mean(np.asarray(u, np.float32) != once)
    assert 0.1 < differ < 0.4  # "about a quarter" of the elements, by 1 ulp
    ulp = np.abs(once) * 2.0**-7
    assert np.all(np.abs(np.asarray(u, np.float32) - once) <= ulp)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_float32_moments_of_low_precision_params_track_float32(dtype):
    # With mu_dtype = nu_dtype = float32 only the gradient and the returned
    # step are low precision: three steps equal optax's float32 run on the
    # same (rounded) gradients, rounded once.
    params, grads = low_precision_problem(dtype, 1e-4)
    opt = lrjax.adam(1e-2, mu_dtype="float32", nu_dtype="float32")
    ref = optax.adam(1e-2)
    s, s_ref = opt.init(params), ref.init(to_float32(params))
    for g in grads:
        u, s = opt.update(g, s, params)
        u_ref, s_ref = ref.update(to_float32(g), s_ref)
        close_in(dtype, u, u_ref)
        chex.assert_trees_all_close(s[0].nu, s_ref[0].nu, rtol=1e-6)


# --------------------------------------------------------------------------
# (d) Python-scalar update leaves.


def _scalar_leaf_problem():
    params = {
        "a": jnp.asarray(1.0, jnp.float32),
        "h": jnp.asarray(0.5, jnp.bfloat16),
        "v": jnp.asarray([0.5, -1.0], jnp.float32),
    }
    grads = [
        {"a": 1.0, "h": -2.0, "v": jnp.asarray([0.3, 0.1], jnp.float32)},
        {"a": 0.5, "h": 3.0, "v": jnp.asarray([-0.2, 0.4], jnp.float32)},
    ]
    return params, grads


def _expected_update_dtype(case, g, p):
    """optax's rule: a Python scalar meets the state it updates.

    It takes the dtype of the first moment it is averaged into (the
    parameter's, or the declared momentum dtype); with no per-parameter state
    (plain SGD) it stays a float32 scalar. Array leaves keep their dtype.
    """
    if not isinstance(g, float):
        return jnp.asarray(g).dtype
    takes_state_dtype = case.scalar_leaf_takes_state_dtype
    if takes_state_dtype is None:
        takes_state_dtype = case.has_tree_state
    if not takes_state_dtype:
        return jnp.dtype(jnp.float32)
    kw = {**case.kwargs, **case.lrjax_kwargs}
    declared = [kw[n] for n in _FIRST_MOMENT_DTYPE_ARGS if kw.get(n) is not None]
    return jnp.result_type(jnp.asarray(g), declared[0] if declared else p.dtype)


def _expected_dtypes(case, grads, params):
    return {k: _expected_update_dtype(case, grads[k], params[k]) for k in grads}


def _zero_d_as_vectors(opt):
    """``opt`` run with 0-d leaves given as 1-element vectors.

    optax's sm3 has no axis to cover in a 0-d leaf and fails; lrjax gives one
    the per-element accumulator optax gives a 1-element vector.
    """

    def lift(tree):
        return jax.tree_util.tree_map(
            lambda x: jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x, tree
        )

    def update(updates, state, params=None, **extra):
        out, state = opt.update(lift(updates), state, lift(params), **extra)
        unlift = lambda o, u: jnp.reshape(o, jnp.shape(u))  # noqa: E731
        return jax.tree_util.tree_map(unlift, out, updates), state

    return optax.GradientTransformationExtraArgs(lambda p: opt.init(lift(p)), update)


# optax's dtype rule for Python-scalar leaves is the numerics helpers'
# (update_dtype, keep_weak): representatives by default, the rest slow.
@pytest.mark.parametrize("case", representatives_first(CASES))
def test_python_scalar_update_leaves(case):
    # Values: optax's (for a case without an optax twin, the case's own
    # steps), run on float32 parameters with the leaves given as float32
    # arrays (optax's adagrad and adafactor reject Python scalars), to the
    # precision of the leaf's dtype. Dtypes: optax's rule.
    params, grads = _scalar_leaf_problem()
    opt = case.make()
    # optax.contrib's sophia casts its Hutchinson probes to the narrowest
    # dtype of the tree, which jax.jvp rejects on this bf16 + float32 tree:
    # the case's own float32 steps are the reference there.
    twin = case.optax_parity and case.name != "sophia"
    ref = case.make_optax() if twin else case.make()
    if case.name == "sm3":
        ref = _zero_d_as_vectors(ref)
    # A whole-tree method (leaf_local=False) mixes every leaf into each step:
    # its own reference run keeps the bf16 leaf, so only the scalar leaves
    # differ (optax's mechanize cannot take bf16 params: float32 there).
    keep = not case.leaf_local and not twin
    params_ref = params if keep else to_float32(params)
    s, s_ref = opt.init(params), ref.init(params_ref)
    for g in grads:
        u, s = opt.update(g, s, params, **case.extra())
        u_ref, s_ref = ref.update(
            _as_array_leaves(g), s_ref, params_ref, **case.extra()
        )
        assert {k: jnp.asarray(x).dtype for k, x in u.items()} == _expected_dtypes(
            case, g, params
        )
        for k in u:
            got = jnp.asarray(u[k])
            rtol = 1e-5 if got.dtype == jnp.float32 else RTOL[got.dtype.type]
            atol = 1e-7
            if case.name == "sm3" and got.dtype == jnp.bfloat16:
                # SM3's momentum cancels on 'h' (g flips from -2 to 3): m_1 =
                # -0.1 stored in bf16 (half an ulp, 2.4e-4) reaches the second
                # update times lr * b1 = 0.09: up to 2.2e-5 (1.1e-5 measured).
                atol = 2.2e-5
            np.testing.assert_allclose(
                np.asarray(got, np.float32),
                np.asarray(jnp.asarray(u_ref[k]).astype(got.dtype), np.float32),
                rtol=rtol,
                atol=atol,
                err_msg=k,
            )
        params = optax.apply_updates(params, u)
        if case.name in (
            "cocob",
            "dog",
            "dowg",
            "lbfgs",
            "fromage",
            "adaptive_grad_clip",
            "madgrad",
            "sam",
        ):
            # Their updates depend on the params themselves (COCOB steps to
            # x0 + disp from where x is, DoG's rate on the global distance
            # |x - x0|, L-BFGS's through s = w_{k+1} - w_k and the whole-tree
            # <y, s>, Fromage's and AGC's ratios on |x|, MADGRAD moves x
            # towards x0 - s / cbrt(v), SAM's outer step returns from x to its
            # cached params), so they see the bf16 leaf's rounding (0.4% of
            # 'h', up to 13% of its step): give the reference the same params.
            params_ref = to_float32(params)
        else:
            params_ref = optax.apply_updates(params_ref, u_ref)


def _as_array_leaves(tree):
    return jax.tree_util.tree_map(jnp.asarray, tree)


def _optax_promotes_like_lrjax(case):
    # optax's Nesterov momentum passes the update through a jit-wrapped bias
    # correction, which turns a Python scalar into a strong float32 (a bf16
    # parameter then gets a float32 update); dtypes given only to lrjax
    # (lrjax_kwargs) make a different optimizer.
    kw = {**case.kwargs, **case.lrjax_kwargs}
    dtype_only_in_lrjax = any(k.endswith("dtype") for k in case.lrjax_kwargs)
    nesterov = kw.get("nesterov", case.name in ("nadam", "nadamw"))
    # optax's adagrad, adafactor and yogi raise on Python-scalar leaves (its
    # abs_sq takes arrays only).
    # optax.contrib.mechanize fails on them with bf16 params (lax.clamp of
    # mixed dtypes).
    # optax's novograd fails on them too (its lax.cond's branches give the
    # scalar leaf's second moment different dtypes).
    # optax's sm3 fails on 0-d parameters (no axis to cover).
    # optax's add_noise (noisy_sgd) reads .shape of every leaf, which a
    # Python float lacks; optax's adaptive_grad_clip takes abs_sq of arrays.
    # optax.contrib.madgrad reads their .dtype, muon their .ndim;
    # optax.contrib.sophia fails on the mixed bf16 + float32 tree.
    rejects = case.name in (
        "adagrad",
        "adafactor",
        "yogi",
        "novograd",
        "sm3",
        "mechanize",
        "noisy_sgd",
        "adaptive_grad_clip",
        "madgrad",
        "muon",
        "sophia",
    )
    # optax's lars (its trust ratio multiplies by a float32 norm ratio)
    # returns float32 for a bf16 parameter's scalar leaf: lrjax keeps bf16.
    # optax.contrib's prodigy, dadapt_adamw (from its second step), dog and
    # dowg multiply the update by a float32 step-size estimate (d * lr, eta)
    # that promotes it: float32 updates for bf16 params. lrjax keeps bf16.
    # optax's fromage (the same trust ratio) does too.
    breaks_rule = case.name in (
        "lars",
        "fromage",
        "prodigy",
        "dadapt_adamw",
        "dog",
        "dowg",
    )
    # optax's scale_by_lbfgs returns a float32 update for a bf16 parameter's
    # Python-scalar leaf (its recursion promotes through float32 dot
    # products); lrjax keeps bf16.
    breaks_rule = breaks_rule or case.name == "lbfgs"
    # sgd_hd's twin (hypergrad_lr=0) is optax.sgd, which has no buffer; lrjax
    # keeps the previous direction in one, whose dtype the scalar leaf takes.
    breaks_rule = breaks_rule or case.name == "sgd_hd"
    # optax's scale_by_optimistic_gradient returns float32 for a Python-scalar
    # leaf of a bf16 parameter (measured); lrjax keeps bf16.
    breaks_rule = breaks_rule or case.name.startswith("optimistic_")
    # optax's LDoG multiplies by a float32 step of shape (1,).
    breaks_rule = breaks_rule or case.name == "scale_by_distance_over_gradients"
    # optax.contrib.sam mixes the float32 ascent step into every update
    # (cond * outer + (1 - cond) * ascent): float32 for a bf16 parameter's
    # scalar leaf. lrjax keeps the outer optimizer's bf16.
    breaks_rule = breaks_rule or case.name == "sam"
    return (
        case.optax_parity
        and not nesterov
        and not dtype_only_in_lrjax
        and not rejects
        and not breaks_rule
    )


@pytest.mark.parametrize(
    "case", representatives_first([c for c in CASES if _optax_promotes_like_lrjax(c)])
)
def test_python_scalar_leaf_dtypes_are_optax_dtypes(case):
    # The rule above is optax's: its updates of bf16 params have these dtypes.
    params, grads = _scalar_leaf_problem()
    opt = case.make_optax()
    state = opt.init(params)
    for g in grads:
        u, state = opt.update(g, state, params, **case.extra())
        got = {k: jnp.asarray(x).dtype for k, x in u.items()}
        assert got == _expected_dtypes(case, g, params)
