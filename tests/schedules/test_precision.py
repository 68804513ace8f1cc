"""Schedule precision: jit equals eager at every step, and geometric decays
(``gamma ** t``) match float64 NumPy.

References are independent of lrjax: eager evaluation (for jit) and float64
NumPy powers.
"""

from __future__ import annotations

import inspect
import math

import jax
import numpy as np
import pytest

import lrjax

# A deep check (every schedule at every boundary / every optimizer in
# float64): run by CI, left out of the quick subset (-m "not slow").
pytestmark = pytest.mark.slow

MAX = 2**31 - 1
EPS32 = float(np.finfo(np.float32).eps)  # 2**-23, one ulp at 1


def _steps(*marks: int) -> np.ndarray:
    """0, 1, each mark -1/0/+1 and 10x, and the int32 end (2**31 - 1)."""
    out = {0, 1, MAX - 1, MAX}
    for m in marks:
        out.update(x for x in (m - 1, m, m + 1, 10 * m) if 0 <= x <= MAX)
    return np.array(sorted(out), np.int32)


def _sgdr():
    return lrjax.sgdr_schedule(
        [
            dict(init_value=0.0, peak_value=1.0, warmup_steps=5, decay_steps=50),
            dict(init_value=0.1, peak_value=1.0, warmup_steps=0, decay_steps=30),
        ]
    )


def _join():
    return lrjax.join_schedules(
        [lrjax.linear_schedule(0.0, 1.0, 10), lrjax.polynomial_schedule(1, 0, 0.1, 90)],
        [10],
    )


# (id, constructor, marks: boundaries and horizons). Every public schedule,
# with fractional powers, horizons and boundaries.
JIT_CASES = [
    ("constant", lambda: lrjax.constant_schedule(0.3), [1]),
    ("linear", lambda: lrjax.linear_schedule(1.0, 0.0, 300), [300]),
    ("linear_up", lambda: lrjax.linear_schedule(0.1, 1.0, 3, 4), [4, 7]),
    ("linear_zero_steps", lambda: lrjax.linear_schedule(0.5, 0.0, 0), [1]),
    ("poly_0.1", lambda: lrjax.polynomial_schedule(1.0, 0.0, 0.1, 100), [100]),
    ("poly_0.1_begin", lambda: lrjax.polynomial_schedule(1.0, 0.0, 0.1, 100, 7), [107]),
    ("poly_0.5_up", lambda: lrjax.polynomial_schedule(0.1, 0.5, 0.5, 777), [777]),
    (
        "poly_0.3_long",
        lambda: lrjax.polynomial_schedule(1.0, 1e-4, 0.3, 3_000_001),
        [3_000_001],
    ),
    ("poly_2", lambda: lrjax.polynomial_schedule(2.0, 0.0, 2.0, 64, 900), [900, 964]),
    (
        "poly_cycle_0.5",
        lambda: lrjax.polynomial_schedule(1.0, 0.0, 0.5, 100, 7, cycle=True),
        [7, 107, 207],
    ),
    ("exponential", lambda: lrjax.exponential_decay(1.0, 7, 0.5, 3), [3, 10]),
    (
        "exponential_stair_end",
        lambda: lrjax.exponential_decay(1.0, 7, 0.5, 3, True, 1e-3),
        [3, 10, 73],
    ),
    ("exponential_0.9999", lambda: lrjax.exponential_decay(1.0, 1, 0.9999), [65536]),
    (
        "exponential_grow",
        lambda: lrjax.exponential_decay(1.0, 3, 2.0, 0, False, 100.0),
        [20],
    ),
    ("exponential_zero", lambda: lrjax.exponential_decay(1.0, 1, 0.0), [1]),
    ("cosine", lambda: lrjax.cosine_decay_schedule(1.0, 100), [100]),
    ("cosine_exp_0.3", lambda: lrjax.cosine_decay_schedule(1.0, 100, 0.0, 0.3), [100]),
    (
        "warmup_cosine",
        lambda: lrjax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 110, 0.0, 0.5),
        [10, 110],
    ),
    ("sgdr", _sgdr, [5, 50, 80]),
    (
        "restarts_int",
        lambda: lrjax.cosine_restarts_schedule(1.0, 10, 2.0, 0.5),
        [10, 30, 70],
    ),
    (
        "restarts_real",
        lambda: lrjax.cosine_restarts_schedule(1.0, 10, 1.5, 0.9),
        [10, 25],
    ),
    (
        "restarts_flat",
        lambda: lrjax.cosine_restarts_schedule(1.0, 10, 1.0, 0.99, 0.01),
        [10, 20],
    ),
    ("cyclic", lambda: lrjax.cyclic_schedule(0.1, 1.0, 5, 3), [5, 8]),
    ("cyclic2", lambda: lrjax.cyclic_schedule(0.1, 1.0, 5, 3, "triangular2"), [5, 8]),
    (
        "cyclic_exp",
        lambda: lrjax.cyclic_schedule(0.1, 1.0, 5, 3, "exp_range", 0.99),
        [5, 8],
    ),
    ("one_cycle", lambda: lrjax.one_cycle_schedule(1.0, 100), [29, 99, 100]),
    (
        "one_cycle_3_linear",
        lambda: lrjax.one_cycle_schedule(
            1.0, 100, three_phase=True, anneal_strategy="linear"
        ),
        [29, 58, 99],
    ),
    ("cosine_onecycle", lambda: lrjax.cosine_onecycle_schedule(100, 1.0), [30, 100]),
    (
        "linear_onecycle",
        lambda: lrjax.linear_onecycle_schedule(100, 1.0),
        [30, 85, 100],
    ),
    (
        "piecewise_constant",
        lambda: lrjax.piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5}),
        [10, 20],
    ),
    (
        "piecewise_cosine",
        lambda: lrjax.piecewise_interpolate_schedule(
            "cosine", 1.0, {10: 0.1, 20: 0.01}
        ),
        [10, 20],
    ),
    (
        "piecewise_linear",
        lambda: lrjax.piecewise_interpolate_schedule(
            "linear", 1.0, {10: 0.1, 20: 0.01}
        ),
        [10, 20],
    ),
    ("join", _join, [10, 100]),
    ("warmup_constant", lambda: lrjax.warmup_constant_schedule(0.0, 1.0, 10), [10]),
    (
        "warmup_exponential",
        lambda: lrjax.warmup_exponential_decay_schedule(
            0.0, 1.0, 10, 3, 0.9, 2, False, 0.01
        ),
        [10, 12],
    ),
    ("random", lambda: lrjax.random_schedule(jax.random.key(0), 1e-3, 1.0, 3), [3]),
    ("inverse_sqrt", lambda: lrjax.inverse_sqrt_schedule(1.0, 10), [10]),
    ("inverse_time", lambda: lrjax.inverse_time_decay_schedule(1.0, 10, 0.5), [10]),
    (
        "inverse_time_stair",
        lambda: lrjax.inverse_time_decay_schedule(1.0, 10, 0.5, True),
        [10],
    ),
    ("multistep", lambda: lrjax.multistep_decay_schedule(1.0, [20, 10], 0.5), [10, 20]),
    ("step_decay", lambda: lrjax.step_decay_schedule(1.0, 10, 0.9999), [10]),
    (
        "warmup_cosine_wrap",
        lambda: lrjax.warmup_schedule(
            lrjax.polynomial_schedule(1.0, 0.0, 0.1, 100), 10, 0.0, "cosine"
        ),
        [10, 110],
    ),
    (
        "wsd_sqrt",
        lambda: lrjax.warmup_stable_decay_schedule(1.0, 10, 10, 100, 0.0, 0.0, "sqrt"),
        [10, 20, 120],
    ),
    (
        "wsd_cosine",
        lambda: lrjax.warmup_stable_decay_schedule(
            1.0, 10, 10, 100, 0.1, 1e-3, "cosine"
        ),
        [10, 20, 120],
    ),
    (
        "wsd_linear",
        lambda: lrjax.warmup_stable_decay_schedule(1.0, 0, 0, 100, 0.0, 1e-3, "linear"),
        [100],
    ),
    (
        "wsd_cycles",
        lambda: lrjax.wsd_schedule(
            1.0,
            300,
            warmup=0.1,
            decay=0.3,
            init_value=0.1,
            end_value=1e-3,
            decay_type="sqrt",
            cycles=[70, 100, 130],
            peak_decay=0.5,
        ),
        [7, 49, 70, 80, 140, 170, 183, 209, 300],
    ),
    (
        "clip",
        lambda: lrjax.clip_schedule(
            lrjax.polynomial_schedule(1.0, 0.0, 0.1, 100), 0.0, 0.5
        ),
        [100],
    ),
    (
        "per_epoch",
        lambda: lrjax.per_epoch_schedule(
            lrjax.polynomial_schedule(1.0, 0.0, 0.1, 10), 10, False
        ),
        [100],
    ),
]

# Tolerance of jit against eager: 8 float32 ulps of the value itself (no
# absolute slack: an exact 0 must stay 0). Under jit XLA may fuse a multiply
# and an add into one FMA (one rounding fewer), multiply by a reciprocal
# instead of dividing (1 ulp), and use vectorised exp/log/sin that differ
# from the scalar ones by an ulp or two. Every schedule is written without
# cancellation, so such differences stay a few ulps of the value.
JIT_RTOL = 8 * EPS32


def test_jit_cases_cover_every_public_schedule():
    public = {
        name
        for name, obj in vars(lrjax.schedules).items()
        if inspect.isfunction(obj) and not name.startswith("_")
    }
    used = set()
    for _, make, _ in JIT_CASES:
        used.update(make.__code__.co_names)
    assert public - used == set()


@pytest.mark.parametrize("name, make, marks", JIT_CASES, ids=[c[0] for c in JIT_CASES])
def test_jit_equals_eager_at_boundaries_horizons_and_int32_end(name, make, marks):
    sched = make()
    steps = _steps(*marks)
    jitted = np.asarray(jax.jit(sched)(steps))
    eager = np.asarray(sched(steps))
    scalars = np.array([np.asarray(sched(int(t))) for t in steps])
    for other in (jitted, scalars):
        np.testing.assert_allclose(other, eager, rtol=JIT_RTOL, atol=0, err_msg=name)
    assert np.all(np.isfinite(eager)), name


# --------------------------------------------------------------------------
# Geometric decays against float64 NumPy ``gamma ** t``.
#
# Bound: lrjax computes exp(n * log(gamma)) with log(gamma) taken in float64
# and rounded once to float32 (half an ulp), the product rounded once (half
# an ulp): together they move the exponent y = n log(gamma) by at most
# |y| * EPS32, hence the value by |y| * EPS32 relative; exp itself and the
# final multiplications add a few ulps. So rtol = (|y| + 4) * EPS32.

GAMMAS = [0.9999, 0.99, 0.5]
GEO_STEPS = np.array([1, 7, 1000, 3000, 65000, 65536, 999_000, 10**6], np.int64)


def _geo_close(got, init, gamma, exponent):
    exponent = np.asarray(exponent, np.float64)
    want = init * np.power(gamma, exponent)
    y = np.abs(exponent * math.log(gamma))
    rtol = (y + 4) * EPS32
    got = np.asarray(got, np.float64)
    # Results below float32's normal range lose relative precision.
    tiny = want < 1e-30
    assert np.all(np.abs(got[tiny] - want[tiny]) <= 1e-37)
    err = np.abs(got - want)[~tiny] / want[~tiny]
    assert np.all(err <= rtol[~tiny]), (gamma, err.max(), rtol[~tiny].min())


@pytest.mark.parametrize("gamma", GAMMAS)
def test_exponential_decay_matches_float64_power(gamma):
    t = GEO_STEPS
    _geo_close(lrjax.exponential_decay(0.5, 1, gamma)(t), 0.5, gamma, t)
    _geo_close(lrjax.exponential_decay(0.5, 7, gamma)(t), 0.5, gamma, t / 7)
    _geo_close(
        lrjax.exponential_decay(0.5, 7, gamma, staircase=True)(t), 0.5, gamma, t // 7
    )
    later = lrjax.exponential_decay(0.5, 7, gamma, transition_begin=100)(t + 100)
    _geo_close(later, 0.5, gamma, t / 7)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_step_and_warmup_exponential_decay_match_float64_power(gamma):
    t = GEO_STEPS
    _geo_close(lrjax.step_decay_schedule(0.5, 3, gamma)(t), 0.5, gamma, t // 3)
    sched = lrjax.warmup_exponential_decay_schedule(0.0, 0.5, 10, 1, gamma)
    _geo_close(sched(t + 10), 0.5, gamma, t)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_multistep_matches_float64_products(gamma):
    # 60 milestones: float32 products of a float32 gamma = 0.9999 (off by
    # 1.7e-8) would drift by 1e-6, 8 ulps.
    marks = [3, 5, 8] + list(range(100, 5800, 100))
    sched = lrjax.multistep_decay_schedule(0.5, marks, gamma)
    t = np.arange(0, 6000)
    count = np.searchsorted(np.array(marks), t, side="right")
    # Tabulated float64 powers rounded once: an ulp or two.
    np.testing.assert_allclose(sched(t), 0.5 * gamma**count, rtol=2 * EPS32)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_cyclic_exp_range_matches_float64_power(gamma):
    # Peaks of a 1000-up/1000-down cycle: x = 1, the value is max * gamma**t.
    sched = lrjax.cyclic_schedule(0.0, 0.5, 1000, mode="exp_range", gamma=gamma)
    t = np.array([1000, 3000, 65000, 999_000], np.int64)
    _geo_close(sched(t), 0.5, gamma, t)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_restart_heights_match_float64_power(gamma):
    # Keras m_mul: the restart of cycle i starts at init * m_mul**i.
    sched = lrjax.cosine_restarts_schedule(0.5, 10, 1.0, peak_decay=gamma)
    i = np.array([1, 7, 3000, 65536, 10**6], np.int64)
    _geo_close(sched(10 * i), 0.5, gamma, i)
