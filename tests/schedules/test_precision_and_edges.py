"""Schedule precision (jit = eager, geometric decays, RAdam's rho_t) and the
edge configurations PyTorch and Keras define.

References are independent of lrjax: float64 NumPy evaluations of the
documented PyTorch/Keras formulas, written out here, and optax.
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

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


# --------------------------------------------------------------------------
# RAdam against a float64 reference of PyTorch's documented update.


def _torch_radam_updates(grad_fn, x0, lr, b1, b2, eps, steps):
    """PyTorch's RAdam (torch.optim.RAdam docs, no weight decay) in float64."""
    x = np.array(x0, np.float64)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    rho_inf = 2 / (1 - b2) - 1
    out, rhos = [], []
    for t in range(1, steps + 1):
        g = grad_fn(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        rhos.append(rho)
        if rho > 5:
            l_t = math.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r_t = math.sqrt(
                (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
            )
            step = -lr * m_hat * l_t * r_t
        else:
            step = -lr * m_hat
        out.append(step)
        x = x + step
    return np.array(out), np.array(rhos)


@pytest.mark.parametrize("b2", [0.9999, 0.999])
def test_radam_matches_float64_pytorch_reference(b2):
    # A quadratic far from its optimum: the gradients keep their sign.
    scale = np.array([0.5, 1.0, 2.0])
    x0 = np.array([1.0, -2.0, 3.0])

    def grad_fn(x):
        return scale * x

    lr, steps = 1e-3, 100
    want, rhos = _torch_radam_updates(grad_fn, x0, lr, 0.9, b2, 1e-8, steps)
    # For these b2 the adaptive step starts at step 6: rho_5 < 5 < rho_6.
    assert rhos[4] < 5 < rhos[5]
    opt = lrjax.radam(lr, b1=0.9, b2=b2, eps=1e-8, threshold=5.0)
    x = jnp.asarray(x0, jnp.float32)
    state = opt.init(x)
    update = jax.jit(opt.update)
    got = []
    for _ in range(steps):
        u, state = update(
            jnp.asarray(grad_fn(np.asarray(x, np.float64)), jnp.float32), state, x
        )
        got.append(np.asarray(u, np.float64))
        x = optax.apply_updates(x, u)
    got = np.array(got)
    # PyTorch adds eps to sqrt(v) before debiasing (lrjax after): with
    # sqrt(v) ~ 1 that moves the update by ~1e-8 relative, far below 1e-5.
    np.testing.assert_allclose(got, want, rtol=1e-5)


# --------------------------------------------------------------------------
# Edge configurations PyTorch and Keras define: accepted, with their values.

T = np.arange(0, 40)


def test_step_decay_gamma_above_one_and_zero_follow_steplr():
    # StepLR closed form: lr * gamma ** (t // step_size).
    for gamma in (1.5, 0.0):
        want = 0.1 * np.power(gamma, T // 3)
        np.testing.assert_allclose(
            lrjax.step_decay_schedule(0.1, 3, gamma)(T), want, rtol=4 * EPS32
        )
    assert lrjax.step_decay_schedule(0.1, 3, 0.0)(2) == np.float32(0.1)
    assert float(lrjax.step_decay_schedule(0.1, 3, 0.0)(3)) == 0.0


def test_exponential_decay_gamma_zero_and_above_one_follow_exponentiallr():
    # ExponentialLR: lr * gamma ** t, with 0 ** 0 = 1 (Keras' pow too).
    got = lrjax.exponential_decay(0.1, 1, 0.0)(T)
    np.testing.assert_array_equal(got, np.where(T == 0, 0.1, 0.0).astype(np.float32))
    got = lrjax.exponential_decay(0.1, 4, 0.0, staircase=True)(T)
    np.testing.assert_array_equal(got, np.where(T < 4, 0.1, 0.0).astype(np.float32))
    np.testing.assert_allclose(
        lrjax.exponential_decay(0.1, 1, 1.05)(T), 0.1 * 1.05**T, rtol=8 * EPS32
    )
    huge = lrjax.exponential_decay(0.1, 1, 1.05)(MAX)
    # Growth saturates (the factor at the largest float32) instead of inf.
    assert np.isfinite(huge) and float(huge) > 1e37


def test_multistep_unsorted_and_repeated_milestones_follow_multisteplr():
    # MultiStepLR keeps a Counter of milestones: at step t the rate is
    # lr * gamma ** (number of milestones <= t, repeats counted).
    milestones = [30, 10, 20, 10]
    want = 0.1 * 0.5 ** np.array([sum(m <= t for m in milestones) for t in T])
    got = lrjax.multistep_decay_schedule(0.1, milestones, 0.5)(T)
    np.testing.assert_allclose(got, want, rtol=2 * EPS32)
    assert float(got[10]) == pytest.approx(0.1 * 0.25)


def test_zero_total_iters_holds_the_start_like_pytorch_and_optax():
    # LinearLR(start_factor=a, total_iters=0): lr * a at step 0, and its
    # chainable update keeps it (last_epoch > total_iters). PolynomialLR
    # (total_iters=0) keeps lr. optax returns the constant init_value.
    lr, a = 0.3, 0.25
    np.testing.assert_array_equal(
        lrjax.linear_schedule(lr * a, lr, 0)(T), np.full(T.shape, np.float32(lr * a))
    )
    np.testing.assert_array_equal(
        lrjax.polynomial_schedule(lr, 0.0, 2.0, 0)(T), np.full(T.shape, np.float32(lr))
    )
    np.testing.assert_array_equal(
        lrjax.linear_schedule(lr, 0.0, 0)(T),
        np.asarray(jax.vmap(optax.linear_schedule(lr, 0.0, 0))(T), np.float32),
    )
    with pytest.raises(ValueError, match="transition_steps"):
        lrjax.linear_schedule(lr, 0.0, -1)


def _torch_cyclic(base, top, up, down, t):
    """CyclicLR's closed form (triangular), float64."""
    total = up + down
    ratio = up / total
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    return base + (top - base) * scale


def test_cyclic_base_above_max_follows_cycliclr():
    got = lrjax.cyclic_schedule(0.5, 0.1, 4, 3)(T)
    want = [_torch_cyclic(0.5, 0.1, 4, 3, int(t)) for t in T]
    np.testing.assert_allclose(got, want, rtol=4 * EPS32)
    assert float(got[4]) == pytest.approx(0.1) and float(got[0]) == pytest.approx(0.5)


def test_warm_restarts_eta_min_above_lr_follows_pytorch():
    # CosineAnnealingWarmRestarts(T_0=5, T_mult=2, eta_min=0.4), lr 0.1.
    def torch_value(t):
        start, length = 0, 5
        while t >= start + length:
            start, length = start + length, 2 * length
        cur = t - start
        return 0.4 + (0.1 - 0.4) * (1 + math.cos(math.pi * cur / length)) / 2

    got = lrjax.cosine_restarts_schedule(0.1, 5, 2.0, min_value=0.4)(T)
    np.testing.assert_allclose(got, [torch_value(int(t)) for t in T], rtol=4 * EPS32)


def test_keras_restarts_m_mul_above_one_follows_keras():
    # CosineDecayRestarts(1e-3, 4, t_mul=2.0, m_mul=1.5, alpha=0.1).
    def keras_value(t):
        frac = t / 4
        i = math.floor(math.log(1 - frac * (1 - 2.0)) / math.log(2.0))
        done = (1 - 2.0**i) / (1 - 2.0)
        frac = (frac - done) / 2.0**i
        cos = 0.5 * 1.5**i * (1 + math.cos(math.pi * frac))
        return 1e-3 * ((1 - 0.1) * cos + 0.1)

    got = lrjax.cosine_restarts_schedule(1e-3, 4, 2.0, 1.5, 1e-4)(T)
    np.testing.assert_allclose(got, [keras_value(int(t)) for t in T], rtol=8 * EPS32)
    assert np.isfinite(
        np.asarray(lrjax.cosine_restarts_schedule(1.0, 1, 1.0, 2.0)(MAX))
    )


@pytest.mark.parametrize(
    "make, name, why",
    [
        (lambda: lrjax.step_decay_schedule(0.1, 3, -0.5), "decay_rate", "sign"),
        (lambda: lrjax.exponential_decay(0.1, 3, -0.5), "decay_rate", "sign"),
        (lambda: lrjax.multistep_decay_schedule(0.1, [3], -2.0), "decay_rate", "sign"),
        (lambda: lrjax.linear_schedule(0.1, 0.0, -3), "transition_steps", "2\\*\\*31"),
    ],
)
def test_meaningless_configurations_are_refused_with_a_reason(make, name, why):
    with pytest.raises(ValueError, match=name) as err:
        make()
    assert pytest.importorskip("re").search(why, str(err.value))


# --------------------------------------------------------------------------
# Claims of the README mapping (docs/schedule_mapping.md).


def test_periodic_cosine_annealing_lambda_does_not_drift():
    # The README's periodic CosineAnnealingLR form: t reduced modulo 2 T
    # (exact in int32) before the float32 cosine.
    lr, m, period = 0.1, 0.001, 1000

    def periodic(t):
        t = jnp.asarray(t)
        return m + (lr - m) * (1 + jnp.cos(jnp.pi * (t % (2 * period)) / period)) / 2

    t = np.array([0, 999, 1000, 1001, 123_456_789, 2_000_000_001, MAX], np.int64)
    want = m + (lr - m) * (1 + np.cos(np.pi * t / period)) / 2
    got = np.asarray(jax.jit(periodic)(t.astype(np.int32)))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * lr)


def test_constant_lr_zero_total_iters_keeps_the_factor():
    # PyTorch ConstantLR(factor=f, total_iters=0): get_lr gives lr * f at
    # step 0 and then keeps the current rate (last_epoch != total_iters), so
    # the rate is lr * f forever; the README maps it to a constant.
    lr, f, total_iters = 0.2, 0.5, 0
    rates = []
    for epoch in range(20):  # ConstantLR.get_lr, chainable form
        if epoch == 0:
            rates.append(lr * f)
        elif epoch != total_iters:
            rates.append(rates[-1])
        else:
            rates.append(rates[-1] / f)
    got = lrjax.constant_schedule(lr * f)(np.arange(20))
    np.testing.assert_allclose(got, rates, rtol=EPS32)


def test_sequential_lr_restarts_closed_forms_and_continues_multiplicative():
    # SequentialLR at milestone m evaluates the next scheduler at epoch 0: an
    # ExponentialLR (closed form lr * g ** e) restarts from lr, as in
    # join_schedules. A MultiplicativeLR(f = g) has no closed form: current
    # PyTorch multiplies the rate r left at step m - 1 by f(0), f(1), ...,
    # which the README writes as exponential_decay(r * g, 1, g) after m.
    lr, g, m = 0.1, 0.9, 5
    warm = [lr * (0.2 + 0.8 * t / m) for t in range(m)]  # LinearLR(0.2, 1, m)
    restart = warm + [lr * g**e for e in range(15)]
    first = lrjax.linear_schedule(0.2 * lr, lr, m)
    joined = lrjax.join_schedules([first, lrjax.exponential_decay(lr, 1, g)], [m])
    np.testing.assert_allclose(joined(np.arange(20)), restart, rtol=4 * EPS32)
    r = warm[-1]
    continued = warm + [r * g ** (e + 1) for e in range(15)]
    readme = lrjax.join_schedules([first, lrjax.exponential_decay(r * g, 1, g)], [m])
    np.testing.assert_allclose(readme(np.arange(20)), continued, rtol=4 * EPS32)
