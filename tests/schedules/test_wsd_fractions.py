"""``wsd_schedule``'s warmup and decay fractions, and where the warmup starts.

Two fractions adding up to more than 1 raise at construction, whatever
``total_steps``; ``init_value`` is the rate the warmup starts from. Expected
values are the formula written here.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import lrjax


@pytest.mark.parametrize("cycles", [1, 2])
@pytest.mark.parametrize("total", [7, 10, 100, 1000])
@pytest.mark.parametrize(
    "warmup, decay",
    [(0.6, 0.45), (0.52, 0.5), (0.5004, 0.5), (0.6, 0.6), (1.0, 0.01)],
)
def test_fractions_adding_up_to_more_than_one_raise_whatever_the_total(
    warmup, decay, total, cycles
):
    # Rounded to steps, 0.6 + 0.45 of 7 or 10 steps would fit (W_k + D_k <=
    # L_k): the fractions themselves are checked, before any rounding.
    message = (
        r"warmup \+ decay must be in \[0, 1\] .*got "
        rf"warmup={re.escape(repr(warmup))} \+ decay={re.escape(repr(decay))} = "
        rf"{re.escape(f'{warmup + decay:.6g}')}"
    )
    with pytest.raises(ValueError, match=message):
        lrjax.wsd_schedule(1.0, total, warmup=warmup, decay=decay, cycles=cycles)


@pytest.mark.parametrize(
    "total, warmup, decay",
    [
        (10, 0.3, 0.7),  # 0.3 + 0.7 is 1 (0.9999999999999999 in floats)
        (10, 0.1, 0.9),
        (7, 0.5, 0.5),
        (100, 0.35, 0.65),
        (10, np.float32(0.1), 0.9),  # 1 + 1.5e-9: float32's rounding of 0.1
        (100, np.float32(0.7), np.float32(0.3)),
        (100, 5, 0.95),  # a step count with a fraction: checked in steps
    ],
)
def test_fractions_adding_up_to_one_are_accepted(total, warmup, decay):
    sched = lrjax.wsd_schedule(1.0, total, warmup=warmup, decay=decay)
    # The documented rounding: an int is steps; a fraction puts its phase
    # boundary on the nearest step, ties up (the cooldown's from the end).
    if isinstance(warmup, int):
        w = warmup
    else:
        w = math.floor(float(warmup) * total + 0.5)
    d = total - math.floor((1 - float(decay)) * total + 0.5)
    assert d >= 1 and w + d <= total

    def want(t):  # peak 1, from 0 and to 0, linear cooldown
        if t < w:
            return t / w
        return min(1.0, (total - t) / d) if t < total else 0.0

    steps = np.arange(total + 2)
    got = np.asarray(sched(steps.astype(np.int32)))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [want(int(t)) for t in steps], rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("warmup", [0, 4])
@pytest.mark.parametrize("rewarm", ["init", "end"])
def test_init_value_is_where_the_warmup_starts(warmup, rewarm):
    # init_value is the rate the warmup starts from: with no warmup no step
    # takes it, and step 0 (and cycle 1's first step, 10) is at the peak, 2.
    kw = dict(init_value=0.5, end_value=0.1)
    cycles = lrjax.wsd_schedule(
        2.0, 20, warmup=warmup, decay=0.5, cycles=2, rewarmup_from=rewarm, **kw
    )
    one = lrjax.warmup_stable_decay_schedule(2.0, warmup, 5, 5, **kw)
    restart = 0.5 if rewarm == "init" else 0.1
    for sched, first in ((cycles, 10), (one, None)):
        if warmup == 0:
            assert float(sched(0)) == 2.0
            if first:
                assert float(sched(first)) == 2.0
        else:  # halfway up: start + (peak - start) / 2
            assert float(sched(0)) == 0.5
            assert float(sched(2)) == pytest.approx(0.5 + (2.0 - 0.5) / 2)
            if first:
                assert float(sched(first)) == np.float32(restart)
                assert float(sched(first + 2)) == pytest.approx(
                    restart + (2.0 - restart) / 2
                )
