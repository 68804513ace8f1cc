"""The schedules optax lacks (step, cyclic, one-cycle, ...) against PyTorch and Keras.

Every expected value comes from a reference written here in plain Python /
NumPy (float64) that follows PyTorch's or Keras's documented recurrence or
closed form literally, step by step.
"""

from __future__ import annotations

import bisect
import functools
import math
from fractions import Fraction

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrjax

MAX = 2**31 - 1
FAST = settings(max_examples=15, deadline=None)


def close(actual, expected, rtol=2e-5, atol=1e-7):
    actual = np.asarray(actual)
    assert actual.dtype == np.float32
    chex.assert_trees_all_close(
        actual.astype(np.float64),
        np.asarray(expected, np.float64),
        rtol=rtol,
        atol=atol,
    )


def probe_steps(boundaries, horizon):
    """0, every boundary -1/0/+1, the horizon, 10x the horizon and 2**31-1."""
    steps = {0, horizon, 10 * horizon, MAX}
    for b in boundaries:
        steps.update({b - 1, b, b + 1})
    return np.array(sorted(s for s in steps if 0 <= s <= MAX), np.int64)


def check(schedule, reference, steps):
    steps = np.asarray(steps, np.int64)
    close(schedule(steps.astype(np.int32)), [reference(int(t)) for t in steps])


# --------------------------------------------------------------------------
# References. PyTorch's schedulers are written as their chainable recurrence
# (what scheduler.step() does) where that is cheap, and as their documented
# closed form for very large steps.


def torch_steplr(base, step_size, gamma, n):
    lrs, lr = [], base
    for epoch in range(n):
        if epoch != 0 and epoch % step_size == 0:
            lr *= gamma
        lrs.append(lr)
    return lrs


def torch_steplr_closed(base, step_size, gamma, epoch):
    return base * gamma ** (epoch // step_size)


def torch_multisteplr(base, milestones, gamma, n):
    lrs, lr = [], base
    for epoch in range(n):
        if epoch in milestones:
            lr *= gamma ** milestones.count(epoch)
        lrs.append(lr)
    return lrs


def keras_inverse_time(init, decay_steps, rate, staircase, step):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return init / (1 + rate * p)


def torch_warm_restarts(base, t0, t_mult, eta_min, n):
    """CosineAnnealingWarmRestarts stepped n times (T_cur/T_i recurrence)."""
    lrs, t_cur, t_i = [], 0, t0
    for epoch in range(n):
        if epoch > 0:
            t_cur += 1
            if t_cur >= t_i:
                t_cur -= t_i
                t_i *= t_mult
        lrs.append(
            eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
        )
    return lrs


@functools.lru_cache
def cycle_starts(t0, t_mul, upto):
    """Exact cycle starts t0 (t_mul^i - 1) / (t_mul - 1) (and lengths) to upto.

    ``t_mul`` is taken as the decimal number it is written as (1.01 is
    101/100), which keeps the fractions small.
    """
    m, starts, start, length = Fraction(repr(t_mul)), [], Fraction(0), Fraction(t0)
    while start <= upto:
        starts.append((start, length))
        start, length = start + length, length * m
    return [s for s, _ in starts], [n for _, n in starts]


def exact_cycle(step, t0, t_mul):
    """The largest i with t0 (t_mul^i - 1) / (t_mul - 1) <= step, exactly."""
    if t_mul == 1:
        i = step // t0
        return i, float(i * t0), float(t0)
    starts, lengths = cycle_starts(t0, t_mul, 2 ** max(int(step).bit_length(), 9))
    i = bisect.bisect_right(starts, Fraction(step)) - 1
    return i, float(starts[i]), float(lengths[i])


def torch_warm_restarts_closed(base, t0, t_mult, eta_min, epoch):
    # The documented closed form, with the cycle index found exactly.
    n, start, t_i = exact_cycle(epoch, t0, t_mult)
    t_cur = epoch - start
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def keras_cosine_restarts(init, first, t_mul, m_mul, alpha, step):
    completed = step / first
    if t_mul == 1.0:
        i = math.floor(completed)
        completed -= i
    else:
        # Keras takes floor(log(...)); exact_cycle gives the same index
        # without float rounding at the restart steps themselves.
        i, _, _ = exact_cycle(step, first, t_mul)
        sum_r = (1.0 - t_mul**i) / (1.0 - t_mul)
        completed = (completed - sum_r) / t_mul**i
    cosine_decayed = 0.5 * m_mul**i * (1.0 + math.cos(math.pi * completed))
    return init * ((1 - alpha) * cosine_decayed + alpha)


def torch_cycliclr(base, max_lr, up, down, mode, gamma, it):
    total = up + down
    ratio = up / total
    cycle = math.floor(1 + it / total)
    x = 1.0 + it / total - cycle
    scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    height = (max_lr - base) * scale
    if mode == "triangular":
        return base + height
    if mode == "triangular2":
        # PyTorch writes 1 / 2.0 ** (cycle - 1), which overflows past ~1000
        # cycles in Python floats; 0.5 ** (cycle - 1) is the same number.
        return base + height * 0.5 ** (cycle - 1)
    return base + height * gamma**it


def torch_onecycle(max_lr, total, pct, how, div, final_div, three, step):
    step = min(step, total - 1)  # lrjax holds the last value
    initial = max_lr / div
    low = initial / final_div
    phases = [(float(pct * total) - 1, initial, max_lr)]
    if three:
        phases += [(float(2 * pct * total) - 2, max_lr, initial)]
        phases += [(total - 1, initial, low)]
    else:
        phases += [(total - 1, max_lr, low)]
    start_step = 0
    for i, (end_step, start, end) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            q = (step - start_step) / (end_step - start_step)
            if how == "cos":
                return end + (start - end) / 2.0 * (math.cos(math.pi * q) + 1)
            return (end - start) * q + start
        start_step = end_step


def wsd(peak, w, s, d, init, end, how, t):
    if t < w:
        return init + (peak - init) * t / w
    if t < w + s:
        return peak
    if t >= w + s + d:
        return end
    q = (t - w - s) / d
    shape = {"linear": 1 - q, "cosine": 0.5 * (1 + math.cos(math.pi * q))}
    shape["sqrt"] = 1 - math.sqrt(q)
    return end + (peak - end) * shape[how]


def inverse_sqrt(peak, w, init, t):
    return init + (peak - init) * t / w if t < w else peak * math.sqrt(w / t)


# --------------------------------------------------------------------------
# Golden values.


@pytest.mark.parametrize("gamma", [0.1, 0.5, 1.0])
def test_step_decay_equals_torch_steplr(gamma):
    sched = lrjax.step_decay_schedule(0.3, 7, gamma)
    steps = np.arange(501)
    close(sched(steps), torch_steplr(0.3, 7, gamma, 501))
    check(
        sched,
        lambda t: torch_steplr_closed(0.3, 7, gamma, t),
        probe_steps([7, 14, 21], 21),
    )


def test_multistep_equals_torch_multisteplr():
    milestones = [0, 30, 80, 81, 200]
    sched = lrjax.multistep_decay_schedule(0.1, milestones, 0.5)
    close(sched(np.arange(501)), torch_multisteplr(0.1, milestones, 0.5, 501))
    check(
        sched,
        lambda t: 0.1 * 0.5 ** bisect.bisect_right(milestones, t),
        probe_steps(milestones, 200),
    )
    close(lrjax.multistep_decay_schedule(2.0, [])(np.arange(5)), [2.0] * 5)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_equals_keras(staircase):
    sched = lrjax.inverse_time_decay_schedule(0.2, 10, 0.5, staircase)
    ref = lambda t: keras_inverse_time(0.2, 10, 0.5, staircase, t)  # noqa: E731
    check(sched, ref, range(501))
    check(sched, ref, probe_steps([10, 20], 100))


@pytest.mark.parametrize(
    "t_mult",
    [
        pytest.param(1, marks=pytest.mark.slow),
        2,
        pytest.param(3, marks=pytest.mark.slow),
    ],
)
def test_cosine_restarts_equals_torch(t_mult):
    sched = lrjax.cosine_restarts_schedule(0.5, 7, t_mult, min_value=0.01)
    close(sched(np.arange(501)), torch_warm_restarts(0.5, 7, t_mult, 0.01, 501))
    if t_mult == 1:
        restarts = [7 * i for i in range(1, 6)] + [7 * (MAX // 7)]
    else:  # every restart below 2**31, up to the last one
        restarts = [7 * (t_mult**i - 1) // (t_mult - 1) for i in range(1, 32)]
    restarts = [r for r in restarts if r <= MAX]
    check(
        sched,
        lambda t: torch_warm_restarts_closed(0.5, 7, t_mult, 0.01, t),
        probe_steps(restarts, restarts[4]),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "t_mul, m_mul, first",
    [
        (1.0, 0.7, 9),
        (2.0, 0.5, 5),
        (1.5, 0.8, 4),
        (1.7, 1.0, 3),
        (3.0, 1.0, 1),
        (1.01, 0.99, 3),
    ],
)
def test_cosine_restarts_equals_keras(t_mul, m_mul, first):
    init, floor = 0.8, 0.05
    sched = lrjax.cosine_restarts_schedule(init, first, t_mul, m_mul, floor)
    ref = lambda t: keras_cosine_restarts(  # noqa: E731
        init, first, t_mul, m_mul, floor / init, t
    )
    check(sched, ref, range(501))
    # The first restarts and a far one, from exact cycle starts.
    starts = [exact_cycle(n, first, t_mul)[1] for n in (10**9, *range(1, 120))]
    bounds = sorted({math.ceil(s) for s in starts})
    check(sched, ref, probe_steps(bounds, bounds[-2]))  # -2: not the far one


def test_cosine_restarts_multiplier_near_one():
    # More than 4096 cycles start below 2**31: the float32 fallback path.
    init, first, t_mul = 0.5, 3, 1.0001
    sched = lrjax.cosine_restarts_schedule(init, first, t_mul, 0.9, 0.05)
    ref = lambda t: keras_cosine_restarts(init, first, t_mul, 0.9, 0.1, t)  # noqa: E731
    check(sched, ref, range(301))


def test_fractional_steps_interpolate():
    steps = [3.9, 4.0, 4.5, 9.5, 9.99, 10.0, 32.4, 32.5, 32.6]
    restarts = lrjax.cosine_restarts_schedule(1.0, 4, 1.5, 0.5, 0.1)
    expected = [keras_cosine_restarts(1.0, 4, 1.5, 0.5, 0.1, t) for t in steps]
    close(restarts(np.array(steps, np.float32)), expected, rtol=1e-4)
    one_cycle = lrjax.one_cycle_schedule(1.0, 50, 0.3, "linear")
    expected = [
        torch_onecycle(1.0, 50, 0.3, "linear", 25.0, 1e4, False, t) for t in steps
    ]
    close(one_cycle(np.array(steps, np.float32)), expected, rtol=1e-4)
    cyclic = lrjax.cyclic_schedule(0.0, 1.0, 4, 3)
    expected = [torch_cycliclr(0.0, 1.0, 4, 3, "triangular", 1.0, t) for t in steps]
    close(cyclic(np.array(steps, np.float32)), expected, rtol=1e-4, atol=1e-5)
    # Staircase schedules floor a fractional step.
    close(lrjax.step_decay_schedule(1.0, 4, 0.5)(np.float32(3.9)), 1.0)


def test_cosine_restarts_floor_is_absolute_with_peak_decay():
    # Keras semantics: cycle i starts at floor + (init - floor) * d**i and ends
    # at the floor itself, which does not decay.
    sched = lrjax.cosine_restarts_schedule(1.0, 10, 1.0, 0.5, 0.2)
    close(sched(np.array([0, 10, 20, 30])), [1.0, 0.6, 0.4, 0.3])
    close(
        sched(np.array([9, 19, 29, MAX])),
        [0.2 + 0.8 * 0.5**i * 0.5 * (1 + math.cos(0.9 * math.pi)) for i in range(3)]
        + [0.2],
    )


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("up, down", [(5, None), (4, 9)])
def test_cyclic_equals_torch_cycliclr(mode, up, down):
    gamma = 0.995
    sched = lrjax.cyclic_schedule(0.01, 0.1, up, down, mode, gamma)
    d = up if down is None else down
    ref = lambda t: torch_cycliclr(0.01, 0.1, up, d, mode, gamma, t)  # noqa: E731
    check(sched, ref, range(501))
    bounds = [k * (up + d) + off for k in (1, 2, 10) for off in (0, up)]
    check(sched, ref, probe_steps(bounds, 10 * (up + d)))


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("how", ["cos", "linear"])
@pytest.mark.parametrize("total, pct", [(100, 0.3), (37, 0.25), (1000, 0.45)])
def test_one_cycle_equals_torch(three_phase, how, total, pct):
    sched = lrjax.one_cycle_schedule(0.4, total, pct, how, 20.0, 1e3, three_phase)
    ref = lambda t: torch_onecycle(0.4, total, pct, how, 20.0, 1e3, three_phase, t)  # noqa: E731
    check(sched, ref, range(total + 50))
    ends = [math.floor(pct * total - 1), math.floor(2 * pct * total - 2), total - 1]
    check(sched, ref, probe_steps(ends, total))


@pytest.mark.parametrize("how", ["linear", "cosine", "sqrt"])
def test_warmup_stable_decay(how):
    w, s, d = 20, 50, 80
    sched = lrjax.warmup_stable_decay_schedule(1.0, w, s, d, 0.1, 0.01, how)
    ref = lambda t: wsd(1.0, w, s, d, 0.1, 0.01, how, t)  # noqa: E731
    check(sched, ref, range(501))
    check(sched, ref, probe_steps([w, w + s, w + s + d], w + s + d))
    no_warmup = lrjax.warmup_stable_decay_schedule(1.0, 0, 0, 10, decay_type=how)
    check(no_warmup, lambda t: wsd(1.0, 0, 0, 10, 0.0, 0.0, how, t), range(15))


def test_inverse_sqrt():
    sched = lrjax.inverse_sqrt_schedule(2e-3, 40, 1e-5)
    ref = lambda t: inverse_sqrt(2e-3, 40, 1e-5, t)  # noqa: E731
    check(sched, ref, range(501))
    check(sched, ref, probe_steps([40], 40))


@pytest.mark.parametrize("how", ["linear", "cosine"])
def test_warmup_schedule(how):
    inner = lambda s: 0.5 / (1.0 + jnp.asarray(s, jnp.float32))  # noqa: E731
    sched = lrjax.warmup_schedule(inner, 16, 0.05, how)

    def ref(t):
        if t >= 16:
            return 0.5 / (1 + t - 16)
        x = t / 16
        w = x if how == "linear" else 0.5 * (1 - math.cos(math.pi * x))
        return 0.05 + (0.5 - 0.05) * w

    check(sched, ref, range(300))
    check(sched, ref, probe_steps([16], 16))
    close(
        lrjax.warmup_schedule(inner, 0)(np.arange(5)), [0.5 / (1 + t) for t in range(5)]
    )
    close(
        lrjax.warmup_schedule(0.3, 4)(np.arange(6)), [0, 0.075, 0.15, 0.225, 0.3, 0.3]
    )


def test_clip_schedule_redwood():
    inner = lambda s: 0.1 * (1.0 - jnp.asarray(s, jnp.float32) / 1000.0)  # noqa: E731
    sched = lrjax.clip_schedule(inner, min_value=1e-3)
    check(
        sched, lambda t: max(1e-3, 0.1 * (1 - t / 1000)), [0, 500, 989, 990, 991, 2000]
    )
    both = lrjax.clip_schedule(inner, 0.02, 0.05)
    check(both, lambda t: min(max(0.1 * (1 - t / 1000), 0.02), 0.05), range(0, 1200, 7))
    close(lrjax.clip_schedule(inner)(np.array([3])), [0.1 * (1 - 3 / 1000)])


@pytest.mark.parametrize("staircase", [True, False])
def test_per_epoch_schedule(staircase):
    inner = lambda e: 0.1 * 0.5 ** jnp.asarray(e, jnp.float32)  # noqa: E731
    sched = lrjax.per_epoch_schedule(inner, 50, staircase)

    def ref(t):
        epoch = t // 50 if staircase else t / 50
        return 0.1 * 0.5**epoch

    check(sched, ref, list(range(301)) + [MAX])
    # Wrapping an lrjax epoch schedule: StepLR stepped once per epoch.
    per_epoch = lrjax.per_epoch_schedule(lrjax.step_decay_schedule(1.0, 3, 0.5), 10)
    check(per_epoch, lambda t: 0.5 ** ((t // 10) // 3), range(200))


# --------------------------------------------------------------------------
# random_schedule.


def test_random_reproducible_held_and_bounded():
    key = jax.random.key(3)
    sched = lrjax.random_schedule(key, 1e-4, 1e-1, hold_steps=7)
    steps = np.arange(700)
    values = np.asarray(sched(steps))
    assert values.dtype == np.float32
    again = np.asarray(lrjax.random_schedule(key, 1e-4, 1e-1, hold_steps=7)(steps))
    np.testing.assert_array_equal(values, again)
    windows = values.reshape(100, 7)
    np.testing.assert_array_equal(windows, np.repeat(windows[:, :1], 7, axis=1))
    assert len(np.unique(windows[:, 0])) == 100  # a fresh draw per window
    assert np.all((values >= 1e-4) & (values <= 1e-1))
    # Scalar calls agree with the array call, and the key matters.
    assert float(sched(123)) == values[123]
    other = np.asarray(lrjax.random_schedule(jax.random.key(4), 1e-4, 1e-1, 7)(steps))
    assert not np.array_equal(values, other)
    big = np.asarray(sched(np.array([MAX, MAX - 1, 10 * MAX // 11])))
    assert np.all(np.isfinite(big)) and np.all((big >= 1e-4) & (big <= 1e-1))


def test_random_log_uniform_spreads_over_decades():
    sched = lrjax.random_schedule(jax.random.key(0), 1e-5, 1e-1)
    logs = np.log10(np.asarray(sched(np.arange(4000))))
    counts = np.histogram(logs, bins=[-5, -4, -3, -2, -1])[0] / 4000
    np.testing.assert_allclose(counts, 0.25, atol=0.04)
    uniform = lrjax.random_schedule(jax.random.key(0), 1e-5, 1e-1, log_uniform=False)
    values = np.asarray(uniform(np.arange(4000)))
    # A uniform law puts ~90% of draws in the top decade.
    assert np.mean(values > 1e-2) > 0.85
    np.testing.assert_allclose(values.mean(), (1e-5 + 1e-1) / 2, rtol=0.05)


# --------------------------------------------------------------------------
# Properties.

SCHEDULES = {
    "step": (lambda: lrjax.step_decay_schedule(0.1, 30, 0.5), (0.0, 0.1)),
    "multistep": (
        lambda: lrjax.multistep_decay_schedule(0.1, [5, 50], 0.1),
        (1e-3, 0.1),
    ),
    "inverse_time": (
        lambda: lrjax.inverse_time_decay_schedule(0.1, 10, 1.0),
        (0.0, 0.1),
    ),
    "restarts": (
        lambda: lrjax.cosine_restarts_schedule(0.1, 10, 2, 0.9, 1e-3),
        (1e-3, 0.1),
    ),
    "restarts_real": (lambda: lrjax.cosine_restarts_schedule(0.1, 4, 1.5), (0.0, 0.1)),
    "cyclic": (
        lambda: lrjax.cyclic_schedule(1e-3, 0.1, 8, 5, "exp_range", 0.99),
        (1e-3, 0.1),
    ),
    "one_cycle": (
        lambda: lrjax.one_cycle_schedule(0.1, 100, three_phase=True),
        (4e-7, 0.1),
    ),
    "wsd": (
        lambda: lrjax.warmup_stable_decay_schedule(0.1, 10, 20, 30, 0.01),
        (0.0, 0.1),
    ),
    "inverse_sqrt": (lambda: lrjax.inverse_sqrt_schedule(0.1, 10), (0.0, 0.1)),
    "random": (
        lambda: lrjax.random_schedule(jax.random.key(1), 1e-3, 0.1, 3),
        (1e-3, 0.1),
    ),
    "clip": (
        lambda: lrjax.clip_schedule(lrjax.inverse_sqrt_schedule(0.1, 10), 0.01, 0.05),
        (0.01, 0.05),
    ),
    "warmup": (
        lambda: lrjax.warmup_schedule(
            lrjax.step_decay_schedule(0.1, 7), 9, 0.0, "cosine"
        ),
        (0.0, 0.1),
    ),
    "per_epoch": (
        lambda: lrjax.per_epoch_schedule(lrjax.cyclic_schedule(0.0, 0.1, 3), 11, False),
        (0.0, 0.1),
    ),
}

# A fixed length, so the jitted functions compile once.
step_lists = st.lists(st.integers(0, MAX), min_size=6, max_size=6).map(
    lambda s: np.array(s + [0, 1, MAX], np.int32)
)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_jit_vmap_python_ints_agree_and_bounded(name):
    make, (low, high) = SCHEDULES[name]
    sched = make()
    jitted, vmapped = jax.jit(sched), jax.jit(jax.vmap(sched))

    @FAST
    @given(step_lists)
    def run(steps):
        eager = np.asarray(sched(steps))
        assert eager.dtype == np.float32 and eager.shape == steps.shape
        assert np.all(np.isfinite(eager))
        assert np.all((eager >= low * (1 - 1e-6)) & (eager <= high * (1 + 1e-6)))
        # XLA may reorder float32 arithmetic under jit: a few ulps of slack.
        chex.assert_trees_all_close(np.asarray(jitted(steps)), eager, rtol=4e-6)
        chex.assert_trees_all_close(np.asarray(vmapped(steps)), eager, rtol=4e-6)
        scalars = [sched(int(t)) for t in steps]
        assert all(v.dtype == jnp.float32 and v.shape == () for v in scalars)
        chex.assert_trees_all_close(np.array(scalars), eager, rtol=4e-6)

    run()
    # Step types: negatives are step 0; NumPy/JAX ints and floats agree.
    base = np.asarray(sched(np.array([0, 13], np.int32)))
    assert float(sched(-5)) == base[0]
    assert float(sched(np.int64(13))) == base[1]
    assert float(sched(jnp.asarray(13, jnp.int32))) == base[1]
    chex.assert_trees_all_close(np.asarray(sched(np.float32(13.0))), base[1], rtol=1e-6)
    grid = np.asarray(sched(np.array([[0, 13], [0, 13]])))
    assert grid.shape == (2, 2)


def _nonincreasing(v, rtol=1e-6):
    v = np.asarray(v, np.float64)
    assert np.all(np.diff(v) <= rtol * np.abs(v[:-1]) + 1e-12)


def _unimodal(v, peak):
    v = np.asarray(v, np.float64)
    assert np.all(np.diff(v[: peak + 1]) >= -1e-6 * np.abs(v[1 : peak + 1]))
    _nonincreasing(v[peak:])


sorted_steps = st.lists(st.integers(0, MAX), min_size=2, max_size=8).map(
    lambda s: np.array(sorted(s + list(range(0, 300, 3))), np.int32)
)


@pytest.mark.slow
@FAST
@given(
    st.floats(0.0, 1.0),
    st.integers(1, 50),
    st.lists(st.integers(0, 400), max_size=4, unique=True).map(sorted),
    st.floats(0.0, 5.0),
    sorted_steps,
)
def test_decays_are_monotone(rate, period, milestones, inv_rate, steps):
    _nonincreasing(lrjax.step_decay_schedule(1.0, period, rate)(steps))
    _nonincreasing(lrjax.multistep_decay_schedule(1.0, milestones, rate)(steps))
    for staircase in (False, True):
        sched = lrjax.inverse_time_decay_schedule(1.0, period, inv_rate, staircase)
        _nonincreasing(sched(steps))


@FAST
@given(
    st.integers(1, 120),
    st.integers(0, 60),
    st.integers(1, 90),
    st.sampled_from(["linear", "cosine", "sqrt"]),
    st.floats(0.1, 0.9),
    st.sampled_from(["cos", "linear"]),
)
def test_warmup_then_decay_are_unimodal(w, s, d, how, pct, anneal):
    steps = np.arange(0, 400)
    wsd_values = lrjax.warmup_stable_decay_schedule(1.0, w, s, d, 0.1, 0.01, how)(steps)
    _unimodal(wsd_values, w)
    _unimodal(lrjax.inverse_sqrt_schedule(1.0, w, 0.01)(steps), w)
    total = 200
    one_cycle = np.asarray(lrjax.one_cycle_schedule(1.0, total, pct, anneal)(steps))
    # The peak is the last step of the rise or the first one after it (the
    # phase boundary pct * total - 1 is a real number).
    peak = int(np.argmax(one_cycle))
    assert peak - max(math.floor(pct * total - 1), 0) in (0, 1)
    _unimodal(one_cycle, peak)


def test_restart_cycles_decrease_between_restarts():
    sched = lrjax.cosine_restarts_schedule(1.0, 6, 2, 0.7, 0.1)
    values = np.asarray(sched(np.arange(6 + 12 + 24 + 1)))
    for a, b in [(0, 6), (6, 18), (18, 42)]:
        _nonincreasing(values[a:b])
        assert values[b] > values[b - 1]  # the restart


# --------------------------------------------------------------------------
# Validation.


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: lrjax.step_decay_schedule(0.1, 0), "step_size"),
        (lambda: lrjax.step_decay_schedule(-0.1, 3), "init_value"),
        (lambda: lrjax.step_decay_schedule(0.1, 3, -0.5), "decay_rate"),
        (lambda: lrjax.multistep_decay_schedule(0.1, [5, 2.5]), "milestones"),
        (lambda: lrjax.multistep_decay_schedule(0.1, [9, 4], -0.1), "decay_rate"),
        (lambda: lrjax.multistep_decay_schedule(0.1, [-1, 4]), "milestones"),
        (lambda: lrjax.inverse_time_decay_schedule(0.1, 0, 0.5), "decay_steps"),
        (lambda: lrjax.inverse_time_decay_schedule(0.1, 5, -0.5), "decay_rate"),
        (lambda: lrjax.cosine_restarts_schedule(0.1, 0), "first_period"),
        (lambda: lrjax.cosine_restarts_schedule(0.1, 5, 0.5), "period_mult"),
        (lambda: lrjax.cosine_restarts_schedule(0.1, 5, min_value=-0.2), "min_value"),
        (lambda: lrjax.cosine_restarts_schedule(0.1, 5, peak_decay=-1.0), "peak_decay"),
        (lambda: lrjax.cyclic_schedule(-0.2, 0.1, 5), "base_value"),
        (lambda: lrjax.cyclic_schedule(0.0, 0.1, 0), "step_size_up"),
        (lambda: lrjax.cyclic_schedule(0.0, 0.1, 5, 0), "step_size_down"),
        (lambda: lrjax.cyclic_schedule(0.0, 0.1, 5, mode="triangle"), "mode"),
        (lambda: lrjax.cyclic_schedule(0.0, 0.1, 5, gamma=0.0), "gamma"),
        (lambda: lrjax.one_cycle_schedule(0.1, 0), "total_steps"),
        (lambda: lrjax.one_cycle_schedule(0.1, 100, 0.0), "pct_start"),
        (lambda: lrjax.one_cycle_schedule(0.1, 100, 1.0), "pct_start"),
        (lambda: lrjax.one_cycle_schedule(0.1, 100, anneal_strategy="exp"), "anneal"),
        (lambda: lrjax.one_cycle_schedule(-0.1, 100), "max_value"),
        (lambda: lrjax.one_cycle_schedule(0.1, 100, div_factor=0.0), "div_factor"),
        (lambda: lrjax.warmup_stable_decay_schedule(1.0, 5, 5, 0), "decay_steps"),
        (lambda: lrjax.warmup_stable_decay_schedule(1.0, -5, 5, 5), "warmup_steps"),
        (
            lambda: lrjax.warmup_stable_decay_schedule(1.0, 5, 5, 5, decay_type="exp"),
            "decay_type",
        ),
        (
            lambda: lrjax.warmup_stable_decay_schedule(1.0, 5, 5, 5, end_value=-1.0),
            "end_value",
        ),
        (lambda: lrjax.inverse_sqrt_schedule(1.0, 0), "warmup_steps"),
        (lambda: lrjax.random_schedule(jax.random.key(0), 0.2, 0.1), "min_value"),
        (lambda: lrjax.random_schedule(jax.random.key(0), 0.0, 0.1), "min_value"),
        (lambda: lrjax.random_schedule(jax.random.key(0), 0.1, 0.2, 0), "hold_steps"),
        (lambda: lrjax.clip_schedule(lambda s: s, 0.2, 0.1), "min_value"),
        (lambda: lrjax.clip_schedule(lambda s: s, -0.1), "min_value"),
        (
            lambda: lrjax.warmup_schedule(lambda s: s, 5, warmup_type="exp"),
            "warmup_type",
        ),
        (lambda: lrjax.warmup_schedule(lambda s: s, -1), "warmup_steps"),
        (lambda: lrjax.per_epoch_schedule(lambda s: s, 0), "steps_per_epoch"),
    ],
)
def test_validation_names_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_constructors_accept_traced_values():
    @jax.jit
    def rates(peak):
        a = lrjax.cyclic_schedule(0.0, peak, 4)(6)
        b = lrjax.one_cycle_schedule(peak, 50)(10)
        c = lrjax.cosine_restarts_schedule(peak, 5, 2, min_value=peak / 10)(7)
        return a, b, c

    a, b, c = rates(jnp.float32(0.2))
    close(
        np.array([a, b, c]),
        [
            torch_cycliclr(0.0, 0.2, 4, 4, "triangular", 1.0, 6),
            torch_onecycle(0.2, 50, 0.3, "cos", 25.0, 1e4, False, 10),
            torch_warm_restarts(0.2, 5, 2, 0.02, 8)[7],
        ],
    )
