"""lrjax.tune.stats against textbook tables, closed forms and hand-worked
examples (and scipy.stats, where installed, as an independent reference)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrjax.tune import stats
from lrjax.tune.result import StrategyRuns, SweepResult
from lrjax.tune.stats import (
    mean_std_ci,
    regularized_incomplete_beta,
    student_t_cdf,
    student_t_quantile,
    summarise,
    welch_t_test,
)


def _t_density(t, df):
    log_c = (
        math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    )
    return np.exp(log_c - (df + 1) / 2 * np.log1p(t * t / df))


_GAUSS_LEGENDRE = np.polynomial.legendre.leggauss(400)


def _two_sided_by_quadrature(t, df):
    """2 * integral of the t density beyond |t|, by Gauss-Legendre in v with
    x = |t| / v^8 over v in (0, 1] (dx = 8 |t| / v^9 dv; the power smooths
    the integrand's v^(8 df - 1) behaviour at 0): independent of the
    incomplete beta function."""
    nodes, weights = _GAUSS_LEGENDRE
    v = 0.5 * (nodes + 1)
    x = abs(t) / v**8
    return float(np.sum(weights * _t_density(x, df) * 8 * abs(t) / v**9))


# ---------------------------------------------------------------- Student's t


@pytest.mark.parametrize(
    "q, df, table",
    [
        # Two-sided 95% (q = 0.975) from standard t tables.
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 5, 2.571),
        (0.975, 7, 2.365),
        (0.975, 10, 2.228),
        (0.975, 30, 2.042),
        (0.975, math.inf, 1.960),
        (0.95, 4, 2.132),
        (0.995, 10, 3.169),
        (0.9995, 3, 12.924),
    ],
)
def test_t_quantiles_match_textbook_tables(q, df, table):
    assert student_t_quantile(q, df) == pytest.approx(table, abs=6e-4)
    assert student_t_quantile(1 - q, df) == pytest.approx(-table, abs=6e-4)


@given(t=st.floats(-1e3, 1e3))
def test_t_cdf_matches_closed_forms_for_df_1_2_and_inf(t):
    # Lower tails P(T <= -|t|), in forms without cancellation: df = 1 is
    # Cauchy, atan(1 / |t|) / pi; df = 2 is 1/2 - |t| / (2 sqrt(2 + t^2)) =
    # 1 / ((sqrt(2 + t^2) + |t|) sqrt(2 + t^2)); df = inf the normal.
    u, r = abs(t), math.sqrt(2 + t * t)
    tails = {
        1: math.atan2(1, u) / math.pi,
        2: 1 / ((r + u) * r),
        math.inf: 0.5 * math.erfc(u / math.sqrt(2)),
    }
    for df, tail in tails.items():
        assert student_t_cdf(-u, df) == pytest.approx(tail, rel=1e-12)
        assert student_t_cdf(u, df) == pytest.approx(1 - tail, rel=1e-15)


@given(
    t=st.floats(0.05, 30),
    df=st.floats(1, 60),
)
def test_t_tail_matches_quadrature_of_the_density(t, df):
    tail = 2 * (1 - student_t_cdf(t, df))
    assert tail == pytest.approx(_two_sided_by_quadrature(t, df), rel=1e-7, abs=1e-14)


@given(
    a=st.floats(0.05, 50),
    b=st.floats(0.05, 50),
    x=st.floats(0, 1),
)
def test_incomplete_beta_closed_forms(a, b, x):
    assert regularized_incomplete_beta(1, 1, x) == pytest.approx(x, abs=1e-14)
    assert regularized_incomplete_beta(a, 1, x) == pytest.approx(x**a, abs=1e-13)
    expected = 1 - (1 - x) ** b
    assert regularized_incomplete_beta(1, b, x) == pytest.approx(expected, abs=1e-13)
    expected = 3 * x**2 - 2 * x**3
    assert regularized_incomplete_beta(2, 2, x) == pytest.approx(expected, abs=1e-14)
    # Symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
    total = regularized_incomplete_beta(a, b, x) + regularized_incomplete_beta(
        b, a, 1 - x, one_minus_x=x
    )
    assert total == pytest.approx(1, abs=1e-12)


@given(
    q=st.floats(1e-9, 1 - 1e-9),
    df=st.one_of(st.floats(0.5, 1e4), st.just(math.inf)),
)
def test_quantile_inverts_the_cdf(q, df):
    t = student_t_quantile(q, df)
    assert student_t_cdf(t, df) == pytest.approx(q, rel=1e-10, abs=1e-15)


def test_quantile_edges():
    assert student_t_quantile(0.5, 3) == 0
    for q, df in [(0, 3), (1, 3), (0.9, 0), (0.9, -1), (math.nan, 3)]:
        assert math.isnan(student_t_quantile(q, df))
    assert math.isnan(student_t_cdf(1.0, 0))


def test_against_scipy_special_and_stats():
    scipy_stats = pytest.importorskip("scipy.stats")
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(0)
    for _ in range(300):
        a, b = 10 ** rng.uniform(-1.5, 2.5, 2)
        x = rng.uniform()
        assert regularized_incomplete_beta(a, b, x) == pytest.approx(
            special.betainc(a, b, x), rel=1e-10, abs=1e-300
        )
    for df in [0.7, 1, 1.5, 2.3, 4, 9.6, 31, 250, 1e4, 1e6]:
        for q in [1e-8, 0.01, 0.3, 0.6, 0.9, 0.975, 0.995, 1 - 1e-8]:
            expected = scipy_stats.t.ppf(q, df)
            assert student_t_quantile(q, df) == pytest.approx(expected, rel=1e-9)
        for t in [-40.0, -2.5, 0.3, 1.7, 8.0]:
            expected = scipy_stats.t.cdf(t, df)
            assert student_t_cdf(t, df) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- mean_std_ci


def test_mean_std_ci_by_hand():
    values = [2, 4, 4, 4, 5, 5, 7, 9]
    # Mean 5, squares of deviations 9+1+1+1+0+0+4+16 = 32, s^2 = 32 / 7;
    # t_{0.975, 7} = 2.365 (tables).
    mean, std, low, high = mean_std_ci(values)
    assert mean == 5
    assert std == pytest.approx(math.sqrt(32 / 7), rel=1e-14)
    half = 2.365 * math.sqrt(32 / 7) / math.sqrt(8)
    assert low == pytest.approx(5 - half, abs=1e-3)
    assert high == pytest.approx(5 + half, abs=1e-3)
    # 99% with t_{0.995, 7} = 3.499.
    _, _, low, high = mean_std_ci(values, confidence=0.99)
    assert high - 5 == pytest.approx(3.499 * math.sqrt(32 / 7 / 8), abs=1e-3)


def test_mean_std_ci_against_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(1).normal(3, 2, size=6)
    mean, std, low, high = mean_std_ci(x, 0.9)
    sem = scipy_stats.sem(x)
    expected = scipy_stats.t.interval(0.9, len(x) - 1, loc=np.mean(x), scale=sem)
    assert (low, high) == pytest.approx(expected, rel=1e-12)
    assert std == pytest.approx(np.std(x, ddof=1), rel=1e-14)


def test_mean_std_ci_edges():
    assert mean_std_ci([3.5])[0] == 3.5
    assert all(math.isnan(v) for v in mean_std_ci([3.5])[1:])
    assert all(math.isnan(v) for v in mean_std_ci([]))
    assert mean_std_ci([2.0, 2.0, 2.0]) == (2.0, 0.0, 2.0, 2.0)
    assert math.isnan(mean_std_ci([1.0, math.nan, 2.0])[0])
    # n = 2 has df = 1: the interval is m -+ 12.706 s / sqrt(2).
    mean, std, low, high = mean_std_ci([0.0, 2.0])
    assert high - mean == pytest.approx(12.706 * std / math.sqrt(2), abs=1e-3)
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="confidence"):
            mean_std_ci([1.0, 2.0], bad)


@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=20),
    confidence=st.floats(0.5, 0.999),
)
def test_interval_contains_the_mean_and_widens_with_confidence(values, confidence):
    mean, std, low, high = mean_std_ci(values, confidence)
    assert low <= mean <= high
    assert high - mean == pytest.approx(mean - low, rel=1e-9, abs=1e-9)
    _, _, low_wider, high_wider = mean_std_ci(values, (1 + confidence) / 2)
    assert low_wider <= low and high <= high_wider


# --------------------------------------------------------------- welch_t_test


def test_welch_worked_example_with_non_integer_df():
    a = [1, 2, 3, 4, 5]  # mean 3, s^2 = 10 / 4 = 2.5, s^2 / n = 0.5
    b = [4, 6, 8, 10, 12]  # mean 8, s^2 = 40 / 4 = 10, s^2 / n = 2
    t, df, p = welch_t_test(a, b)
    assert t == pytest.approx(-5 / math.sqrt(2.5), rel=1e-14)  # -sqrt(10)
    # (0.5 + 2)^2 / (0.5^2 / 4 + 2^2 / 4) = 6.25 / 1.0625 = 100 / 17
    assert df == pytest.approx(100 / 17, rel=1e-14)
    # Tables: at df 5, t_{0.975} = 2.571 < |t| = 3.162 < t_{0.995} = 4.032,
    # and at df 6, t_{0.995} = 3.707 > |t|; p falls with df, so between df 5
    # and 6 the two-sided p lies in (0.01, 0.05).
    assert 0.01 < p < 0.05
    assert p == pytest.approx(_two_sided_by_quadrature(t, df), rel=1e-9)


def test_welch_closed_forms_at_df_2_and_df_1():
    # Equal sizes and variances: df = 2 (n - 1) = 2, p = 1 - |t| / sqrt(2 + t^2).
    t, df, p = welch_t_test([0, 2], [3, 5])
    assert t == pytest.approx(-3 / math.sqrt(2), rel=1e-14)
    assert df == pytest.approx(2, rel=1e-14)
    assert p == pytest.approx(1 - 3 / math.sqrt(13), rel=1e-12)  # 0.16795
    # One sample without spread: df = n_b - 1 = 1 (Cauchy),
    # p = 1 - (2 / pi) atan |t|.
    t, df, p = welch_t_test([1, 1], [0, 4])
    assert (t, df) == pytest.approx((-0.5, 1.0), rel=1e-14)
    assert p == pytest.approx(1 - 2 / math.pi * math.atan(0.5), rel=1e-12)  # 0.70483


def test_welch_against_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    for n_a, n_b in [(2, 2), (2, 9), (3, 5), (5, 5), (10, 4), (30, 40)]:
        a = rng.normal(0, rng.uniform(0.1, 3), n_a)
        b = rng.normal(rng.uniform(-2, 2), rng.uniform(0.1, 3), n_b)
        t, df, p = welch_t_test(a, b)
        expected = scipy_stats.ttest_ind(a, b, equal_var=False)
        assert t == pytest.approx(expected.statistic, rel=1e-12)
        assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_welch_edges():
    t, df, p = welch_t_test([1, 1, 1], [1, 1])
    assert (t, p) == (0.0, 1.0) and math.isnan(df)
    t, df, p = welch_t_test([2, 2, 2], [1, 1])
    assert (t, p) == (math.inf, 0.0) and math.isnan(df)
    t, df, p = welch_t_test([1, 1], [2, 2, 2])
    assert (t, p) == (-math.inf, 0.0)
    for a, b in [([1.0], [1.0, 2.0]), ([1.0, 2.0], []), ([1, math.nan], [1, 2])]:
        assert all(math.isnan(v) for v in welch_t_test(a, b))
    # One sample without spread: df = n - 1 of the other.
    assert welch_t_test([5, 5, 5, 5], [1, 2, 4])[1] == pytest.approx(2, rel=1e-14)
    # Tiny and huge scales give the same t, df, p (no under- or overflow).
    a, b = np.array([1.0, 2.0, 4.0]), np.array([3.0, 5.0, 6.0, 9.0])
    reference = welch_t_test(a, b)
    for scale in (1e-200, 1e200):
        assert welch_t_test(a * scale, b * scale) == pytest.approx(reference, rel=1e-12)
        mean, std, low, high = mean_std_ci(a * scale)
        assert (mean, std) == pytest.approx((7 / 3 * scale, math.sqrt(7 / 3) * scale))


samples = st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12)


@given(a=samples, b=samples)
def test_welch_p_in_unit_interval_and_symmetric(a, b):
    t, df, p = welch_t_test(a, b)
    assert 0 <= p <= 1
    t_ba, df_ba, p_ba = welch_t_test(b, a)
    assert t_ba == -t
    assert p_ba == p
    assert df_ba == pytest.approx(df, rel=1e-12, nan_ok=True)


# On a grid, so a sample's spread is either none or not lost to rounding.
grid_samples = st.lists(
    st.integers(-1000, 1000).map(lambda i: i / 10), min_size=2, max_size=12
)


@given(
    a=grid_samples,
    b=grid_samples,
    scale=st.floats(0.01, 100),
    shift=st.floats(-100, 100),
)
def test_welch_invariant_under_a_common_affine_map(a, b, scale, shift):
    t, df, p = welch_t_test(a, b)
    if math.isnan(df):  # neither sample has spread: t is 0 or infinite
        return
    a2 = np.asarray(a) * scale + shift
    b2 = np.asarray(b) * scale + shift
    t2, df2, p2 = welch_t_test(a2, b2)
    assert t2 == pytest.approx(t, rel=1e-6, abs=1e-6)
    assert df2 == pytest.approx(df, rel=1e-6)
    assert p2 == pytest.approx(p, rel=1e-5, abs=1e-12)


# ------------------------------------------------------------------ summarise


def _runs(name, chosen_values, *, fresh=None, rates=(1e-3, 1e-2, 1e-1), chosen=1):
    """A strategy whose chosen rate scored ``chosen_values`` over its seeds
    (other rates worse by 1) and, if given, ``fresh`` on fresh seeds."""
    seeds = len(chosen_values)
    final = np.full((len(rates), seeds), np.nan)
    for r in range(len(rates)):
        final[r] = np.asarray(chosen_values) + (0 if r == chosen else 1)
    steps = np.zeros((len(rates), seeds, 2), np.float32)
    evals = final.astype(np.float32)[..., None]
    return StrategyRuns(
        name=name, rates=np.asarray(rates, np.float64),
        seeds=np.arange(seeds, dtype=np.int64), train_loss=steps,
        learning_rate=steps, eval_steps=np.array([2], np.int64),
        eval_metrics={"loss": evals}, final_metric=final,
        steps_trained=np.full((len(rates), seeds), 2, np.int64), chosen=chosen,
        final_seeds=None if fresh is None else np.arange(100, 100 + len(fresh)),
        final_metrics=None if fresh is None else {"loss": np.asarray(fresh)},
        compilations=1, compile_seconds=0.5, run_seconds=1.0, member_steps=6,
    )  # fmt: skip


def _result(*runs, higher_is_better=False):
    return SweepResult(
        strategies={r.name: r for r in runs},
        metric="loss",
        higher_is_better=higher_is_better,
        method="grid",
        budget=100,
    )


def test_summarise_ranks_marks_and_sources():
    result = _result(
        _runs("c", [0.50, 0.51, 0.52]),
        _runs("a", [9.0, 9.0, 9.0], fresh=[0.30, 0.31, 0.32, 0.33]),
        _runs("b", [0.305, 0.315, 0.335]),
    )
    out = summarise(result)
    assert list(out) == ["a", "b", "c"]  # lowest mean first
    a, b, c = out.values()
    assert a.fresh_seeds and not b.fresh_seeds and not c.fresh_seeds
    assert a.n == 4 and b.n == 3
    assert a.mean == pytest.approx(0.315) and b.mean == pytest.approx(0.955 / 3)
    assert a.chosen_rate == 1e-2
    assert (a.best, b.best, c.best) == (True, False, False)
    assert a.p_value_vs_best == 1.0 and a.indistinguishable_from_best
    assert b.p_value_vs_best == pytest.approx(
        welch_t_test([0.305, 0.315, 0.335], [0.30, 0.31, 0.32, 0.33])[2]
    )
    assert b.p_value_vs_best > 0.5 and b.indistinguishable_from_best
    assert c.p_value_vs_best < 1e-3 and not c.indistinguishable_from_best
    assert (a.ci_low, a.ci_high) == pytest.approx(
        mean_std_ci([0.30, 0.31, 0.32, 0.33])[2:]
    )
    # Higher is better reverses the ranking.
    assert list(summarise(dataclasses.replace(result, higher_is_better=True))) == [
        "c", "b", "a",
    ]  # fmt: skip
    # A stricter alpha makes nothing more distinguishable.
    assert summarise(result, alpha=0.9)["b"].indistinguishable_from_best is False


def test_summarise_non_finite_means_rank_last_and_single_seeds_are_untestable():
    result = _result(
        _runs("diverged", [0.1, math.nan, 0.1]),
        _runs("one", [0.4]),
        _runs("good", [0.3, 0.35]),
    )
    out = summarise(result)
    assert list(out) == ["good", "one", "diverged"]
    assert out["good"].best and not out["diverged"].best
    assert math.isnan(out["one"].p_value_vs_best)
    assert not out["one"].indistinguishable_from_best
    assert math.isnan(out["diverged"].p_value_vs_best)
    # Nothing finite: no best, nothing tested.
    out = summarise(_result(_runs("x", [math.nan, 1.0])))
    assert not out["x"].best and math.isnan(out["x"].p_value_vs_best)
    with pytest.raises(ValueError, match="alpha"):
        summarise(result, alpha=0)


def test_summarise_ties_keep_the_sweep_order():
    result = _result(_runs("z", [1.0, 2.0]), _runs("y", [1.0, 2.0]))
    out = summarise(result)
    assert list(out) == ["z", "y"]
    assert out["y"].p_value_vs_best == 1.0 and out["y"].indistinguishable_from_best


def test_summarised_values_fall_back_when_the_metric_is_not_re_run():
    runs = dataclasses.replace(
        _runs("a", [1.0, 2.0], fresh=[3.0]), final_metrics={"other": np.ones(1)}
    )
    values, fresh = stats.summarised_values(runs, "loss")
    assert not fresh and values.tolist() == [1.0, 2.0]
