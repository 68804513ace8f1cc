"""Edge configurations PyTorch and Keras define, and the mapping page's claims.

The mapping page is docs/schedule_mapping.md (PyTorch/Keras scheduler -> lrjax
schedule); the forms it writes out are read from it and checked here.

References are float64 NumPy/Python evaluations of the documented PyTorch and
Keras formulas (closed or chainable forms), written out here, and optax.
"""

from __future__ import annotations

import math
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

MAX = 2**31 - 1
EPS32 = float(np.finfo(np.float32).eps)  # 2**-23, one ulp at 1

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
    assert re.search(why, str(err.value))


# --------------------------------------------------------------------------
# Claims of the mapping page (docs/schedule_mapping.md).

MAPPING = pathlib.Path(__file__).resolve().parents[2] / "docs" / "schedule_mapping.md"


def mapping_row(scheduler: str) -> str:
    """The mapping table's row for ``scheduler`` (a PyTorch or Keras class)."""
    (row,) = [
        line
        for line in MAPPING.read_text().splitlines()
        if line.startswith(f"| `{scheduler}(")
    ]
    return row


def test_the_page_writes_the_forms_tested_here():
    # The three forms the tests below evaluate, as the page writes them.
    periodic = "lambda t: m + (lr - m) * (1 + jnp.cos(jnp.pi * (t % (2 * T)) / T)) / 2"
    assert periodic in mapping_row("CosineAnnealingLR")
    assert "`T = 0`: `constant_schedule(lr * f)`" in mapping_row("ConstantLR")
    continued = "exponential_decay(init_value=r * g, transition_steps=1, decay_rate=g)"
    assert continued in mapping_row("SequentialLR")


def test_periodic_cosine_annealing_lambda_does_not_drift():
    # The page's periodic CosineAnnealingLR form: t reduced modulo 2 T
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
    # the rate is lr * f forever; the page maps it to a constant.
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
    # which the page writes as exponential_decay(r * g, 1, g) after m.
    lr, g, m = 0.1, 0.9, 5
    warm = [lr * (0.2 + 0.8 * t / m) for t in range(m)]  # LinearLR(0.2, 1, m)
    restart = warm + [lr * g**e for e in range(15)]
    first = lrjax.linear_schedule(0.2 * lr, lr, m)
    joined = lrjax.join_schedules([first, lrjax.exponential_decay(lr, 1, g)], [m])
    np.testing.assert_allclose(joined(np.arange(20)), restart, rtol=4 * EPS32)
    r = warm[-1]
    continued = warm + [r * g ** (e + 1) for e in range(15)]
    page = lrjax.join_schedules([first, lrjax.exponential_decay(r * g, 1, g)], [m])
    np.testing.assert_allclose(page(np.arange(20)), continued, rtol=4 * EPS32)
