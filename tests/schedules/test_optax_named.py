"""lrjax's optax-named schedules against optax, Keras' formula and properties.

References: optax 0.2.8's same-named schedules (evaluated with ``jax.vmap``
over whole step arrays) and, for ``polynomial_schedule(cycle=True)``, Keras
``PolynomialDecay(cycle=True)``'s documented formula written out in NumPy.
"""

from __future__ import annotations

import math

import chex
import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

INT32_MAX = 2**31 - 1
RTOL, ATOL = 1e-6, 1e-7
SETTINGS = hypothesis.settings(
    max_examples=15, deadline=None, derandomize=True, print_blob=True
)


def _join(lib):
    return lib.join_schedules(
        [
            lib.linear_schedule(0.0, 1.0, 100),
            lib.constant_schedule(0.5),
            lib.cosine_decay_schedule(0.5, 400, alpha=0.1),
        ],
        [100, 300],
    )


def _join_foreign(lib):
    # lrjax.join_schedules must accept optax's schedules (Python-float output).
    children = [optax.linear_schedule(1.0, 0.2, 50), optax.constant_schedule(0.2)]
    return lib.join_schedules(children, [120])


_SGDR = [
    dict(init_value=0.0, peak_value=1.0, warmup_steps=20, decay_steps=200),
    dict(init_value=0.01, peak_value=0.5, warmup_steps=0, decay_steps=300),
    dict(
        init_value=0.0,
        peak_value=0.25,
        warmup_steps=50,
        decay_steps=400,
        end_value=0.01,
        exponent=2.0,
    ),
]

# (id, build(lib) for lib in {lrjax, optax}, horizon: the step from which the
# value is held, or None when it never settles).
CASES = [
    ("constant", lambda lib: lib.constant_schedule(0.3), 0),
    ("linear", lambda lib: lib.linear_schedule(1.0, 0.1, 300), 300),
    ("linear_begin", lambda lib: lib.linear_schedule(0.0, 2e-3, 250, 100), 350),
    ("linear_one_step", lambda lib: lib.linear_schedule(1.0, 0.0, 1), 1),
    (
        "polynomial",
        lambda lib: lib.polynomial_schedule(1.0, 0.01, 2, 500, 5),
        505,
    ),
    (
        "polynomial_sqrt_up",
        lambda lib: lib.polynomial_schedule(0.1, 0.5, 0.5, 777),
        777,
    ),
    (
        "polynomial_cubic",
        lambda lib: lib.polynomial_schedule(2.0, 0.0, 3.0, 64, 900),
        964,
    ),
    ("exponential", lambda lib: lib.exponential_decay(1.0, 100, 0.5), None),
    (
        "exponential_staircase",
        lambda lib: lib.exponential_decay(0.1, 7, 0.9, 50, True),
        None,
    ),
    (
        "exponential_floor",
        lambda lib: lib.exponential_decay(1.0, 10, 0.5, end_value=1e-3),
        100,
    ),
    (
        "exponential_capped_growth",
        lambda lib: lib.exponential_decay(1e-4, 100, 1.5, end_value=0.01),
        1200,
    ),
    ("exponential_growth", lambda lib: lib.exponential_decay(1e-6, 30, 1.1), None),
    ("cosine", lambda lib: lib.cosine_decay_schedule(1.0, 600), 600),
    (
        "cosine_alpha_exponent",
        lambda lib: lib.cosine_decay_schedule(0.5, 333, alpha=0.1, exponent=2.0),
        333,
    ),
    ("cosine_one_step", lambda lib: lib.cosine_decay_schedule(0.5, 1), 1),
    (
        "warmup_cosine",
        lambda lib: lib.warmup_cosine_decay_schedule(0.0, 1.0, 100, 800, 1e-3),
        800,
    ),
    (
        "warmup_cosine_no_warmup",
        lambda lib: lib.warmup_cosine_decay_schedule(
            0.2, 0.4, 0, 500, end_value=0.05, exponent=0.7
        ),
        500,
    ),
    (
        "piecewise_constant",
        lambda lib: lib.piecewise_constant_schedule(
            1.0, {300: 0.5, 100: 0.1, 700: 0.01}
        ),
        700,
    ),
    (
        "piecewise_constant_zero",
        lambda lib: lib.piecewise_constant_schedule(0.3, {0: 2.0, 500: 0.0}),
        500,
    ),
    ("piecewise_constant_empty", lambda lib: lib.piecewise_constant_schedule(0.3), 0),
    (
        "interpolate_linear",
        lambda lib: lib.piecewise_interpolate_schedule(
            "linear", 1.0, {100: 0.1, 400: 0.5, 401: 3.0, 900: 0.2}
        ),
        900,
    ),
    (
        "interpolate_cosine",
        lambda lib: lib.piecewise_interpolate_schedule(
            "cosine", 2.0, {0: 0.5, 250: 10.0, 600: 0.01}
        ),
        600,
    ),
    (
        "interpolate_empty",
        lambda lib: lib.piecewise_interpolate_schedule("linear", 0.7),
        0,
    ),
    ("join", _join, 700),
    ("join_foreign", _join_foreign, 120),
    ("warmup_constant", lambda lib: lib.warmup_constant_schedule(0.0, 0.1, 200), 200),
    (
        "warmup_exponential",
        lambda lib: lib.warmup_exponential_decay_schedule(
            1e-3, 0.1, 50, 40, 0.8, 10, True, 1e-3
        ),
        1000,
    ),
    (
        "warmup_exponential_no_warmup",
        lambda lib: lib.warmup_exponential_decay_schedule(0.0, 0.1, 0, 25, 0.95),
        None,
    ),
    ("sgdr", lambda lib: lib.sgdr_schedule(_SGDR), 900),
    ("cosine_onecycle", lambda lib: lib.cosine_onecycle_schedule(700, 0.1), 700),
    (
        "cosine_onecycle_args",
        lambda lib: lib.cosine_onecycle_schedule(999, 1.0, 0.25, 10.0, 100.0),
        999,
    ),
    ("linear_onecycle", lambda lib: lib.linear_onecycle_schedule(800, 0.1), 800),
    (
        "linear_onecycle_tiny",
        lambda lib: lib.linear_onecycle_schedule(3, 1.0, 0.4, 0.9),
        3,
    ),
]
IDS = [case[0] for case in CASES]


# One step array (one shape, so eager JAX compiles each primitive once for the
# whole file): negatives, 0..999, 10x every horizon, and up to 2**31 - 1.
_FAR = {10 * (h or 100) for _, _, h in CASES} | {h for _, _, h in CASES if h}
STEPS = np.unique(
    np.concatenate(
        [
            [-(2**31), -17, -1],
            np.arange(1000),
            sorted(_FAR),
            [1500, 12_345_678, INT32_MAX - 1, INT32_MAX],
        ]
    )
).astype(np.int32)
STEPS = np.concatenate([STEPS, np.full(1100 - STEPS.size, INT32_MAX, np.int32)])
# Steps -10 to 1363.75 in steps of 1.25 (exact in float32): every fraction
# .0/.25/.5/.75, in the same shape.
FLOAT_STEPS = ((np.arange(STEPS.size) - 8) * 1.25).astype(np.float32)
NON_NEGATIVE = STEPS >= 0


# Where optax's own float32 rounding is larger than RTOL (lrjax's values are
# checked against float64 references in test_precision_and_edges.py):
# ``1.1 ** (t / 30)`` with a float32 base is off by about |t / 30| * 2e-8
# plus |t / 30 * log 1.1| ulps (1e-5 where the value reaches 3.6e10), and ``end + (start - end) * (1 + cos) / 2`` loses
# ``ulp(start) / value`` near a small end value (1.5e-6 near step 600).
OPTAX_ROUNDING = {"exponential_growth": 3e-5, "interpolate_cosine": 4e-6}


def _optax_values(fn, steps):
    out = jax.vmap(fn)(jnp.asarray(steps))
    return np.broadcast_to(np.asarray(out, np.float64), np.shape(steps))


@pytest.mark.parametrize(("name", "build", "horizon"), CASES, ids=IDS)
def test_equals_optax_at_integer_steps(name, build, horizon):
    got = np.asarray(build(lrjax)(STEPS))
    assert got.dtype == np.float32 and got.shape == STEPS.shape
    assert np.all(np.isfinite(got))
    # optax is only defined for steps >= 0 here (it does not clamp negatives),
    # and overflows to inf for unbounded growth: compare where it is finite.
    steps = STEPS[NON_NEGATIVE]
    want = _optax_values(build(optax), steps)
    finite = np.isfinite(want)
    assert finite[steps < 1000].all()
    got = got[NON_NEGATIVE]
    rtol = OPTAX_ROUNDING.get(name, RTOL)
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=ATOL)


@pytest.mark.parametrize(("name", "build", "horizon"), CASES, ids=IDS)
def test_equals_optax_at_fractional_steps(name, build, horizon):
    # optax computes in float, lrjax from the whole part and the fraction;
    # both must interpolate the same way.
    got = np.asarray(build(lrjax)(FLOAT_STEPS))
    assert got.dtype == np.float32
    steps = np.maximum(FLOAT_STEPS, 0)  # optax does not clamp negatives
    want = _optax_values(build(optax), steps)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("name", "build", "horizon"), CASES, ids=IDS)
def test_holds_final_value_and_clamps_negative_steps(name, build, horizon):
    got = np.asarray(build(lrjax)(STEPS))
    at_zero = got[STEPS == 0]
    np.testing.assert_array_equal(got[STEPS < 0], np.full(3, at_zero))
    if horizon is not None:
        held = got[STEPS >= horizon]
        np.testing.assert_array_equal(held, np.full(held.shape, held[0]))
    negative_floats = np.where(FLOAT_STEPS < 0, FLOAT_STEPS, -1e9).astype(np.float32)
    np.testing.assert_array_equal(
        build(lrjax)(negative_floats), np.full(STEPS.shape, at_zero)
    )


def test_jit_vmap_python_and_numpy_calls_agree():
    schedules = [build(lrjax) for _, build, _ in CASES]
    # One compilation for all schedules.
    jitted = jax.jit(lambda s: [fn(s) for fn in schedules])(jnp.asarray(STEPS))
    few = [0, 1, 49, 150, 401, 699, 5000, INT32_MAX]
    where = np.searchsorted(STEPS, few)
    for name, fn, jit_values in zip(IDS, schedules, jitted, strict=True):
        eager = np.asarray(fn(STEPS))
        python = np.array([fn(s) for s in few])
        vmapped = jax.vmap(fn)(jnp.asarray(STEPS))
        numpy_ints = fn(STEPS.astype(np.int64))
        numpy_floats = fn(STEPS.astype(np.float64))
        chex.assert_type([jit_values, vmapped, numpy_ints, numpy_floats], jnp.float32)
        assert python.dtype == np.float32 and python.shape == (len(few),), name
        np.testing.assert_allclose(python, eager[where], rtol=RTOL, atol=ATOL)
        # float32 steps are exact below 2**24 only.
        exact = np.abs(STEPS) < 2**24
        for other, mask in (
            (jit_values, ...),
            (vmapped, ...),
            (numpy_ints, ...),
            (numpy_floats, exact),
        ):
            # XLA fuses and rewrites under jit (x / c -> x * (1 / c)): a few ulp.
            np.testing.assert_allclose(
                np.asarray(other)[mask],
                eager[mask],
                rtol=4 * RTOL,
                atol=ATOL,
                err_msg=name,
            )
        np.testing.assert_allclose(fn(np.int64(150)), eager[where[3]], rtol=RTOL)


def test_output_shape_follows_step_shape():
    for name, build, _ in CASES[::4]:
        fn = build(lrjax)
        out = fn(STEPS[:1000].reshape(40, 25))
        chex.assert_shape(out, (40, 25))
        chex.assert_type(out, jnp.float32)
        chex.assert_type(fn(jnp.float32(2.5)), jnp.float32)
        assert np.asarray(fn(2)).dtype == np.float32, name


# --- polynomial_schedule(cycle=True) = Keras PolynomialDecay(cycle=True) ----


def _keras_polynomial_cycle(step, init, end, power, period, begin=0):
    """Keras' documented cycle formula, in float64, steps shifted by ``begin``."""
    step = np.maximum(np.asarray(step, np.float64) - begin, 0.0)
    multiplier = np.where(step == 0, 1.0, np.ceil(step / period))
    horizon = period * multiplier
    return (init - end) * (1 - step / horizon) ** power + end


@pytest.mark.parametrize(
    ("init", "end", "power", "period", "begin"),
    [(1.0, 0.0, 1.0, 10, 0), (0.1, 1e-3, 2.0, 97, 0), (0.5, 0.05, 0.5, 300, 40)],
)
def test_polynomial_cycle_equals_keras(init, end, power, period, begin):
    schedule = lrjax.polynomial_schedule(init, end, power, period, begin, cycle=True)
    for steps in (STEPS, FLOAT_STEPS):
        want = _keras_polynomial_cycle(steps, init, end, power, period, begin)
        np.testing.assert_allclose(schedule(steps), want, rtol=1e-5, atol=1e-7)


def test_polynomial_cycle_false_is_optax_default():
    steps = STEPS[NON_NEGATIVE]
    plain = lrjax.polynomial_schedule(1.0, 0.1, 2.0, 100)(steps)
    explicit = lrjax.polynomial_schedule(1.0, 0.1, 2.0, 100, cycle=False)(steps)
    want = _optax_values(optax.polynomial_schedule(1.0, 0.1, 2.0, 100), steps)
    np.testing.assert_allclose(plain, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(plain, explicit)


# --- properties (hypothesis) -----------------------------------------------

PROPERTY_STEPS = STEPS  # sorted
values = st.floats(0.0, 10.0, allow_nan=False, width=32)
lengths = st.integers(1, 1500)


def _assert_bounded(got, low, high):
    got = np.asarray(got, np.float64)
    assert np.all(np.isfinite(got))
    slack = 1e-6 * max(abs(low), abs(high)) + 1e-12
    assert got.min() >= low - slack and got.max() <= high + slack


def _assert_monotone(got, increasing):
    diffs = np.diff(np.asarray(got, np.float64))
    slack = 1e-6 * np.max(np.abs(got)) + 1e-12
    if increasing:
        assert diffs.min() >= -slack
    else:
        assert diffs.max() <= slack


@SETTINGS
@hypothesis.given(
    init=values,
    end=values,
    power=st.floats(0.1, 4.0),
    steps=lengths,
    begin=st.integers(0, 1000),
    cycle=st.booleans(),
)
def test_polynomial_bounded_and_monotone(init, end, power, steps, begin, cycle):
    schedule = lrjax.polynomial_schedule(init, end, power, steps, begin, cycle=cycle)
    got = schedule(PROPERTY_STEPS)
    _assert_bounded(got, min(init, end), max(init, end))
    if not cycle:
        _assert_monotone(got, increasing=end > init)
        linear = lrjax.linear_schedule(init, end, steps, begin)(PROPERTY_STEPS)
        _assert_monotone(linear, increasing=end > init)


@SETTINGS
@hypothesis.given(
    init=values,
    steps=lengths,
    rate=st.floats(0.05, 3.0),
    begin=st.integers(0, 1000),
    staircase=st.booleans(),
    end=st.none() | values,
)
def test_exponential_bounded_and_monotone(init, steps, rate, begin, staircase, end):
    schedule = lrjax.exponential_decay(init, steps, rate, begin, staircase, end)
    got = np.asarray(schedule(PROPERTY_STEPS))
    assert np.all(np.isfinite(got))
    growing = rate > 1.0
    _assert_monotone(got, increasing=growing)
    if end is None:
        low, high = (init, math.inf) if growing else (0.0, init)
    else:
        low, high = min(init, end), max(init, end)
    _assert_bounded(got, low, min(high, float(np.finfo(np.float32).max)))


@SETTINGS
@hypothesis.given(
    init=values,
    peak=values,
    end=values,
    warmup=st.integers(0, 500),
    decay=lengths,
    exponent=st.floats(0.2, 3.0),
)
def test_cosine_family_bounded_and_monotone(init, peak, end, warmup, decay, exponent):
    alpha = end / peak if peak > 0 else 0.0
    got = lrjax.cosine_decay_schedule(peak, decay, alpha, exponent)(PROPERTY_STEPS)
    _assert_bounded(got, min(peak, end), max(peak, end))
    _assert_monotone(got, increasing=end > peak)
    warm = lrjax.warmup_cosine_decay_schedule(
        init, peak, warmup, warmup + decay, end, exponent
    )(PROPERTY_STEPS)
    _assert_bounded(warm, min(init, peak, end), max(init, peak, end))


@SETTINGS
@hypothesis.given(
    init=values,
    boundaries=st.lists(st.integers(0, 3000), min_size=0, max_size=5, unique=True),
    data=st.data(),
    interpolate_type=st.sampled_from(["linear", "cosine"]),
)
def test_piecewise_bounded_and_monotone(init, boundaries, data, interpolate_type):
    scales = data.draw(
        st.lists(st.floats(0.0, 1.0), min_size=len(boundaries), max_size=5)
    )
    table = dict(zip(boundaries, scales, strict=False))
    constant = lrjax.piecewise_constant_schedule(init, table)(PROPERTY_STEPS)
    smooth = lrjax.piecewise_interpolate_schedule(interpolate_type, init, table)(
        PROPERTY_STEPS
    )
    for got in (constant, smooth):
        _assert_bounded(got, 0.0, init)
        _assert_monotone(got, increasing=False)


@SETTINGS
@hypothesis.given(
    steps=st.integers(10, 3000),
    peak=st.floats(1e-4, 10.0),
    pct_start=st.floats(0.05, 0.6),
    div_factor=st.floats(1.5, 100.0),
    final_div_factor=st.floats(1.5, 1e4),
)
def test_onecycles_bounded(steps, peak, pct_start, div_factor, final_div_factor):
    low = peak / div_factor / final_div_factor
    cosine = lrjax.cosine_onecycle_schedule(
        steps, peak, pct_start, div_factor, final_div_factor
    )(PROPERTY_STEPS)
    linear = lrjax.linear_onecycle_schedule(
        steps, peak, pct_start, 0.85, div_factor, final_div_factor
    )(PROPERTY_STEPS)
    for got in (cosine, linear):
        _assert_bounded(got, low, peak)
        assert np.asarray(got)[-1] == pytest.approx(low, rel=1e-5)


# --- traced hyperparameters --------------------------------------------------


def test_traced_values_under_jit_and_vmap():
    # Formula: linear from lr to 0 over 100 steps, at step 25.
    got = jax.jit(lambda lr: lrjax.linear_schedule(lr, 0.0, 100)(25))(2.0)
    np.testing.assert_allclose(got, 1.5, rtol=RTOL)
    peaks = jnp.array([0.0, 0.5, 2.0])
    steps = jnp.array([0, 50, 150, 400])

    def curve(peak):
        return lrjax.warmup_cosine_decay_schedule(0.0, peak, 100, 300, 0.1)(steps)

    got = jax.vmap(curve)(peaks)
    for peak, row in zip(peaks.tolist(), np.asarray(got), strict=True):
        reference = optax.warmup_cosine_decay_schedule(0.0, peak, 100, 300, 0.1)
        want = _optax_values(reference, np.asarray(steps))
        np.testing.assert_allclose(row, want, rtol=RTOL, atol=ATOL)


# --- validation --------------------------------------------------------------

INVALID = [
    (lambda: lrjax.constant_schedule(float("nan")), ValueError, "value"),
    (lambda: lrjax.linear_schedule(1.0, 0.0, -5), ValueError, "transition_steps"),
    (lambda: lrjax.linear_schedule(1.0, 0.0, 10, -1), ValueError, "transition_begin"),
    (lambda: lrjax.linear_schedule(1.0, 0.0, 10.5), ValueError, "transition_steps"),
    (lambda: lrjax.linear_schedule(1.0, 0.0, 2**31), ValueError, "transition_steps"),
    (lambda: lrjax.linear_schedule(1.0, 0.0, "10"), TypeError, "transition_steps"),
    (lambda: lrjax.linear_schedule(float("inf"), 0.0, 10), ValueError, "init_value"),
    (lambda: lrjax.polynomial_schedule(1.0, 0.0, -1.0, 10), ValueError, "power"),
    (lambda: lrjax.polynomial_schedule(1.0, 0.0, 1, 10, cycle=1), TypeError, "cycle"),
    (lambda: lrjax.exponential_decay(1.0, 0, 0.5), ValueError, "transition_steps"),
    (lambda: lrjax.exponential_decay(1.0, 10, -0.5), ValueError, "decay_rate"),
    (
        lambda: lrjax.exponential_decay(1.0, 10, 0.5, end_value=float("nan")),
        ValueError,
        "end_value",
    ),
    (lambda: lrjax.cosine_decay_schedule(1.0, 0), ValueError, "decay_steps"),
    (lambda: lrjax.cosine_decay_schedule(1.0, 10, alpha=-0.1), ValueError, "alpha"),
    (lambda: lrjax.cosine_decay_schedule(1.0, 10, exponent=-1), ValueError, "exponent"),
    (
        lambda: lrjax.warmup_cosine_decay_schedule(0.0, 1.0, 100, 100),
        ValueError,
        "decay_steps",
    ),
    (
        lambda: lrjax.warmup_cosine_decay_schedule(0.0, 1.0, -1, 100),
        ValueError,
        "warmup_steps",
    ),
    (
        lambda: lrjax.piecewise_constant_schedule(1.0, {10: -0.1}),
        ValueError,
        "boundaries_and_scales",
    ),
    (
        lambda: lrjax.piecewise_constant_schedule(1.0, {-10: 0.1}),
        ValueError,
        "boundaries_and_scales",
    ),
    (
        lambda: lrjax.piecewise_constant_schedule(1.0, [(10, 0.1)]),
        TypeError,
        "boundaries_and_scales",
    ),
    (
        lambda: lrjax.piecewise_interpolate_schedule("cubic", 1.0),
        ValueError,
        "interpolate_type",
    ),
    (
        lambda: lrjax.piecewise_interpolate_schedule("linear", 1.0, {5: -1.0}),
        ValueError,
        "boundaries_and_scales",
    ),
    (lambda: lrjax.join_schedules([], []), ValueError, "schedules"),
    (lambda: lrjax.join_schedules([abs, 1.0], [5]), TypeError, "schedules"),
    (lambda: lrjax.join_schedules([abs, abs], []), ValueError, "boundaries"),
    (lambda: lrjax.join_schedules([abs, abs, abs], [5, 5]), ValueError, "boundaries"),
    (lambda: lrjax.join_schedules([abs, abs, abs], [9, 5]), ValueError, "boundaries"),
    (lambda: lrjax.join_schedules([abs, abs], [-1]), ValueError, "boundaries"),
    (lambda: lrjax.warmup_constant_schedule(0.0, 1.0, 0), ValueError, "warmup_steps"),
    (
        lambda: lrjax.warmup_exponential_decay_schedule(0.0, 1.0, 10, 0, 0.5),
        ValueError,
        "transition_steps",
    ),
    (
        lambda: lrjax.warmup_exponential_decay_schedule(0.0, 1.0, 10, 5, -0.5),
        ValueError,
        "decay_rate",
    ),
    (lambda: lrjax.sgdr_schedule([]), ValueError, "cosine_kwargs"),
    (lambda: lrjax.sgdr_schedule([{"init_value": 1.0}]), ValueError, "decay_steps"),
    (lambda: lrjax.sgdr_schedule([3]), TypeError, "cosine_kwargs"),
    (lambda: lrjax.cosine_onecycle_schedule(0, 1.0), ValueError, "transition_steps"),
    (lambda: lrjax.cosine_onecycle_schedule(100, 1.0, 1.0), ValueError, "pct_start"),
    (lambda: lrjax.cosine_onecycle_schedule(100, 1.0, 0.0), ValueError, "pct_start"),
    (
        lambda: lrjax.cosine_onecycle_schedule(100, 1.0, div_factor=0.0),
        ValueError,
        "div_factor",
    ),
    (
        lambda: lrjax.linear_onecycle_schedule(100, 1.0, 0.5, 0.4),
        ValueError,
        "pct_final",
    ),
    (
        lambda: lrjax.linear_onecycle_schedule(100, 1.0, final_div_factor=-1.0),
        ValueError,
        "final_div_factor",
    ),
]


@pytest.mark.parametrize(("make", "error", "argument"), INVALID)
def test_invalid_arguments_name_the_argument(make, error, argument):
    with pytest.raises(error, match=argument):
        make()


def test_integral_float_step_counts_are_accepted():
    # optax accepts transition_steps=1e2; lrjax does too when it is integral.
    steps = STEPS[NON_NEGATIVE]
    got = lrjax.linear_schedule(1.0, 0.0, 1e2)(steps)
    want = _optax_values(optax.linear_schedule(1.0, 0.0, 100), steps)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_long_cosine_decay_reaches_its_floor_only_at_the_horizon():
    # (1 + cos(pi t / T)) / 2 is positive for t < T; float32's 1 + cos(...)
    # rounds it to 0 about 80 steps early on a 1e6-step decay.
    steps = np.arange(999_000, 1_000_001)
    got = np.asarray(lrjax.cosine_decay_schedule(1.0, 1_000_000)(steps))
    want = 0.5 * (1 + np.cos(np.pi * steps.astype(np.float64) / 1_000_000))
    assert np.all(got[:-1] > 0) and got[-1] == 0.0
    assert np.all(np.diff(got) <= 0)
    # float32 t / T carries ~6e-8 absolute error, so compare absolutely near 0.
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=5e-11)
