"""``wsd_schedule``: warmup-stable-decay with fractions and re-warmed cycles.

Expected values come from the formula written here in plain Python (float64):
the cycle of a step, then the warmup / stable / cooldown phase inside it.
"""

from __future__ import annotations

import bisect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax

MAX = 2**31 - 1
EPS32 = float(np.finfo(np.float32).eps)


def close(actual, expected, rtol=2e-5, atol=1e-7):
    actual = np.asarray(actual)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(
        actual.astype(np.float64), np.asarray(expected, np.float64), rtol, atol
    )


def rounded(value, length, last=False):
    """The documented rounding: an int is steps; a float puts the phase's
    boundary on the nearest step (ties up), the cooldown's counted from the end.
    """
    if isinstance(value, int):
        return value
    if last:
        return length - math.floor((1 - value) * length + 0.5)
    return math.floor(value * length + 0.5)


class Ref:
    """The schedule's formula, per cycle, in float64."""

    def __init__(self, lengths, warmup, decay, peaks, init, end, how, rewarm="init"):
        self.lengths = list(lengths)
        self.starts = [0, *np.cumsum(self.lengths[:-1]).tolist()]
        self.total = sum(self.lengths)
        self.w = [rounded(warmup, n) for n in self.lengths]
        self.d = [rounded(decay, n, last=True) for n in self.lengths]
        self.peaks, self.init, self.end = peaks, init, end
        self.how, self.rewarm = how, rewarm

    def boundaries(self):
        """Every phase and cycle boundary, as steps."""
        marks = []
        for start, n, w, d in zip(
            self.starts, self.lengths, self.w, self.d, strict=True
        ):
            marks += [start, start + w, start + n - d, start + n]
        return marks

    def probe(self):
        """0, each boundary -1/0/+1, the first steps of each cycle, and MAX."""
        steps = {0, 1, MAX - 1, MAX, 10 * self.total}
        for b in self.boundaries():
            steps.update({b - 1, b, b + 1, b + 2})
        return np.array(sorted(s for s in steps if 0 <= s <= MAX), np.int64)

    def __call__(self, t):
        if t >= self.total:
            return self.end
        k = bisect.bisect_right(self.starts, math.floor(t)) - 1
        c = t - self.starts[k]
        w, d = self.w[k], self.d[k]
        s = self.lengths[k] - w - d
        peak = self.peaks[k]
        start = self.init if k == 0 or self.rewarm == "init" else self.end
        if math.floor(c) < w:
            return start + (peak - start) * c / w
        if math.floor(c) < w + s:
            return peak
        q = (c - w - s) / d
        shape = {
            "linear": 1 - q,
            "cosine": 0.5 * (1 + math.cos(math.pi * q)),
            "sqrt": 1 - math.sqrt(q),
        }[self.how]
        return self.end + (peak - self.end) * shape


# (id, wsd_schedule keyword arguments, the cycle lengths, the per-cycle peaks)
# The cooldown shapes: linear in the default run; cosine and 1-sqrt share its
# cycle and phase arithmetic (their single-cycle weights are checked in
# test_pytorch_keras_schedules.py) and run with the slow checks.
HOWS = [
    "linear",
    pytest.param("cosine", marks=pytest.mark.slow),
    pytest.param("sqrt", marks=pytest.mark.slow),
]

CASES = [
    (
        "fractions_equal",
        dict(peak_value=1.0, total_steps=300, warmup=0.1, decay=0.3, cycles=3),
        [100, 100, 100],
        [1.0, 1.0, 1.0],
    ),
    (
        "steps_unequal",
        dict(peak_value=0.5, total_steps=250, warmup=7, decay=13, cycles=[60, 90, 100]),
        [60, 90, 100],
        [0.5, 0.5, 0.5],
    ),
    (
        "fractions_rounded_unequal",
        dict(
            peak_value=1.0,
            total_steps=200,
            warmup=0.05,
            decay=0.25,
            cycles=[33, 67, 100],
        ),
        [33, 67, 100],
        [1.0, 1.0, 1.0],
    ),
    (
        "remainder_peak_decay",
        dict(
            peak_value=2.0,
            total_steps=103,
            warmup=0.1,
            decay=0.2,
            cycles=4,
            peak_decay=0.5,
            init_value=0.1,
            end_value=0.01,
        ),
        [26, 26, 26, 25],
        [2.0, 1.0, 0.5, 0.25],
    ),
    (
        "peaks_rewarm_from_end",
        dict(
            peak_value=[1.0, 0.6, 0.3],
            total_steps=150,
            warmup=5,
            decay=0.4,
            cycles=3,
            init_value=0.2,
            end_value=0.05,
            rewarmup_from="end",
        ),
        [50, 50, 50],
        [1.0, 0.6, 0.3],
    ),
    (
        "no_warmup_whole_decay",
        dict(peak_value=1.0, total_steps=40, warmup=0, decay=1.0, cycles=[10, 30]),
        [10, 30],
        [1.0, 1.0],
    ),
]


def _ref(kwargs, lengths, peaks, how):
    return Ref(
        lengths,
        kwargs["warmup"],
        kwargs["decay"],
        peaks,
        kwargs.get("init_value", 0.0),
        kwargs.get("end_value", 0.0),
        how,
        kwargs.get("rewarmup_from", "init"),
    )


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(
    "kwargs, lengths, peaks", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_step_and_every_boundary_match_the_formula(kwargs, lengths, peaks, how):
    sched = lrjax.wsd_schedule(**kwargs, decay_type=how)
    ref = _ref(kwargs, lengths, peaks, how)
    every = np.arange(ref.total + 20)
    for steps in (every, ref.probe()):
        want = [ref(int(t)) for t in steps]
        close(sched(steps.astype(np.int32)), want)
        close(jax.jit(sched)(steps.astype(np.int32)), want)
    # Python ints at the boundaries: t = 0, W - 1, W, W + S - 1, W + S, the
    # cycle end - 1 and end (the next cycle's first steps), after the last.
    for t in ref.probe():
        close(sched(int(t)), ref(int(t)))


@pytest.mark.parametrize("how", HOWS)
def test_float_steps_interpolate_inside_phases(how):
    kwargs, lengths, peaks = CASES[3][1:]
    sched = lrjax.wsd_schedule(**kwargs, decay_type=how)
    ref = _ref(kwargs, lengths, peaks, how)
    steps = np.arange(0, ref.total + 3, 0.25)
    want = [ref(float(t)) for t in steps]
    close(sched(steps.astype(np.float32)), want)
    close(jax.jit(sched)(steps.astype(np.float32)), want)
    # Integral float steps equal integer steps.
    whole = np.arange(ref.total + 3)
    np.testing.assert_array_equal(
        sched(whole.astype(np.float32)), sched(whole.astype(np.int32))
    )


def test_first_cycle_values_at_the_boundaries():
    # Cycles of 100: 10 warmup, 70 stable, 20 cooldown; peaks 1 and 0.5.
    sched = lrjax.wsd_schedule(
        1.0, 200, warmup=0.1, decay=0.2, cycles=2, peak_decay=0.5
    )
    steps = [0, 9, 10, 79, 80, 99, 100, 101, 110, 179, 180, 199, 200, 201, MAX]
    want = [0, 0.9, 1, 1, 1, 0.05, 0, 0.05, 0.5, 0.5, 0.5, 0.025, 0, 0, 0]
    close(sched(np.array(steps, np.int32)), want, atol=0)


# --------------------------------------------------------------------------
# int32 boundary: totals up to 2**31 - 1.


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(
    "cycles, warmup, decay",
    [(2, 0.01, 0.2), ([MAX - 1000, 1000], 100, 0.5), (3, 1000, 0.3)],
)
def test_int32_end(cycles, warmup, decay, how):
    sched = lrjax.wsd_schedule(
        1.0,
        MAX,
        warmup=warmup,
        decay=decay,
        cycles=cycles,
        decay_type=how,
        init_value=0.1,
        end_value=0.01,
    )
    lengths = (
        cycles
        if isinstance(cycles, list)
        else [MAX // cycles + (k < MAX % cycles) for k in range(cycles)]
    )
    ref = Ref(lengths, warmup, decay, [1.0] * len(lengths), 0.1, 0.01, how)
    steps = ref.probe()
    want = [ref(int(t)) for t in steps]
    eager = np.asarray(sched(steps.astype(np.int32)))
    close(eager, want, atol=2e-6)
    jitted = np.asarray(jax.jit(sched)(steps.astype(np.int32)))
    np.testing.assert_allclose(jitted, eager, rtol=8 * EPS32, atol=0)
    assert float(sched(MAX)) == np.float32(0.01)


# --------------------------------------------------------------------------
# Fractions.


@pytest.mark.parametrize(
    "total, warmup, decay",
    [
        (100, 0.29, 0.2),
        (10_000, 0.01, 0.2),
        (7, 0.5, 0.5),
        (1001, 0.0, 1.0),
        (33, 0.1, 0.1),
    ],
)
def test_fractions_round_to_the_nearest_step_and_add_up(total, warmup, decay):
    w, d = rounded(warmup, total), rounded(decay, total, last=True)
    assert w + (total - w - d) + d == total
    sched = lrjax.wsd_schedule(1.0, total, warmup=warmup, decay=decay)
    same = lrjax.warmup_stable_decay_schedule(1.0, w, total - w - d, d)
    steps = np.array(sorted({0, w - 1, w, total - d - 1, total - d, total - 1, total}))
    steps = steps[steps >= 0].astype(np.int32)
    np.testing.assert_array_equal(sched(steps), same(steps))


def test_rounding_is_nearest_with_ties_up():
    # 0.29 * 100 is 28.999999999999996: 29 steps, not int()'s 28.
    sched = lrjax.wsd_schedule(1.0, 100, warmup=0.29, decay=0.1)
    assert float(sched(28)) < 1.0 and float(sched(29)) == 1.0
    # 0.71 of 100: the cooldown starts at 29 (1 - 0.71 is 0.29000000000000004).
    sched = lrjax.wsd_schedule(1.0, 100, warmup=0, decay=0.71)
    assert float(sched(29)) == 1.0 and float(sched(30)) < 1.0
    # 0.5 and 0.5 of 7 steps: both boundaries at 3.5 -> 4: warmup 4, cooldown 3.
    sched = lrjax.wsd_schedule(1.0, 7, warmup=0.5, decay=0.5)
    assert float(sched(3)) < 1.0 and float(sched(4)) == 1.0
    assert float(sched(5)) == np.float32(2 / 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(total_steps=100, warmup=60, decay=0.5), r"warmup=60 \(60 steps\)"),
        (dict(total_steps=100, warmup=60, decay=41), r"decay=41 \(41 steps\)"),
        (dict(total_steps=100, warmup=0.1, decay=0.004), r"decay=0\.004 \(0 steps\)"),
        (dict(total_steps=100, warmup=0.1, decay=0), "decay"),
        (dict(total_steps=100, warmup=8, decay=0.3, cycles=[90, 10]), "cycle 1 of 10"),
        (dict(total_steps=100, warmup=1.5), r"warmup must be in \[0\.0, 1\.0\]"),
        (dict(total_steps=100, decay=-0.1), r"decay must be in \[0\.0, 1\.0\]"),
        (dict(total_steps=100, warmup=-3), "warmup"),
        (dict(total_steps=100, warmup=math.nan), "warmup"),
    ],
)
def test_phases_that_do_not_fit_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lrjax.wsd_schedule(1.0, **kwargs)


# --------------------------------------------------------------------------
# One cycle is warmup_stable_decay_schedule.


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("warmup, decay", [(20, 30), (0.2, 0.3), (0, 100), (0.0, 0.01)])
def test_one_cycle_is_warmup_stable_decay_bit_for_bit(warmup, decay, how):
    total = 100
    w, d = rounded(warmup, total), rounded(decay, total, last=True)
    args = (0.7, w, total - w - d, d, 0.05, 1e-3, how)
    want = lrjax.warmup_stable_decay_schedule(*args)
    for cycles in (1, [total]):
        got = lrjax.wsd_schedule(
            0.7,
            total,
            warmup=warmup,
            decay=decay,
            init_value=0.05,
            end_value=1e-3,
            decay_type=how,
            cycles=cycles,
            peak_decay=0.5,
        )
        for steps in (np.arange(total + 5, dtype=np.int32), np.arange(0, 105, 0.5)):
            np.testing.assert_array_equal(got(steps), want(steps))
            np.testing.assert_array_equal(jax.jit(got)(steps), jax.jit(want)(steps))


# --------------------------------------------------------------------------
# Validation and transformations.


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(cycles=0), ValueError, "cycles"),
        (dict(cycles=101), ValueError, "cycles"),
        (dict(cycles=[50, 40]), ValueError, r"cycles must add up to total_steps=100"),
        (dict(cycles=[50, 0, 50]), ValueError, r"cycles\[1\]"),
        (dict(cycles=2.5), ValueError, "cycles"),
        (dict(cycles=None), TypeError, "cycles"),
        (dict(peak_value=[1.0, 0.5]), ValueError, "peak_value"),
        (dict(peak_value=[1.0, -0.5], cycles=2), ValueError, r"peak_value\[1\]"),
        (dict(peak_value=-1.0), ValueError, "peak_value"),
        (dict(total_steps=0), ValueError, "total_steps"),
        (dict(total_steps=2**31), ValueError, "total_steps"),
        (dict(init_value=-1.0), ValueError, "init_value"),
        (dict(end_value=math.inf), ValueError, "end_value"),
        (dict(decay_type="exp"), ValueError, "decay_type"),
        (dict(rewarmup_from="peak"), ValueError, "rewarmup_from"),
        (dict(peak_decay=-0.5), ValueError, "peak_decay"),
        (dict(warmup=None), TypeError, "warmup"),
        (dict(decay=True), TypeError, "decay"),
        (dict(warmup=lambda s: s), TypeError, "warmup"),
    ],
)
def test_validation_names_the_argument(kwargs, error, match):
    kwargs = {"peak_value": 1.0, "total_steps": 100, **kwargs}
    with pytest.raises(error, match=match):
        lrjax.wsd_schedule(**kwargs)


def test_traced_values_vmap_and_shapes():
    @jax.jit
    def rates(peak, decay_factor, step):
        sched = lrjax.wsd_schedule(
            [peak, peak],
            40,
            warmup=4,
            decay=0.5,
            cycles=2,
            peak_decay=decay_factor,
            end_value=peak / 10,
        )
        return sched(step)

    # Cycle 1 (from step 20) peaks at 2 * 0.5 = 1 after 4 warmup steps.
    np.testing.assert_allclose(rates(2.0, 0.5, 24), 1.0, rtol=1e-6)
    np.testing.assert_allclose(rates(2.0, 0.5, 2), 1.0, rtol=1e-6)
    np.testing.assert_allclose(rates(2.0, 0.5, 40), 0.2, rtol=1e-6)
    sched = lrjax.wsd_schedule(1.0, 40, warmup=4, cycles=2)
    steps = jnp.arange(12, dtype=jnp.int32).reshape(3, 4)
    out = jax.vmap(sched)(steps)
    assert out.shape == (3, 4) and out.dtype == jnp.float32
    np.testing.assert_array_equal(out, sched(steps))
    assert sched(-5) == sched(0) == 0.0
