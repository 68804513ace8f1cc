"""Statistics for comparing swept strategies across seeds, in NumPy and ``math``.

Means with Student-t confidence intervals, Welch's unequal-variance t-test,
and :func:`summarise`, which ranks a sweep's strategies and says which are
statistically indistinguishable from the best. The Student-t distribution
function comes from the regularized incomplete beta function, evaluated here
by its continued fraction, so no SciPy is needed.

References:
  Welch, B. L. (1947). The generalization of "Student's" problem when several
  different population variances are involved. Biometrika 34(1/2), 28-35.
  Satterthwaite, F. E. (1946). An approximate distribution of estimates of
  variance components. Biometrics Bulletin 2(6), 110-114.
  Abramowitz, M. & Stegun, I. A. (1964). Handbook of Mathematical Functions,
  26.5.8 (the incomplete beta continued fraction) and 26.7.1 (Student's t).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
from jax.typing import ArrayLike

if TYPE_CHECKING:  # the sweep's dataclasses; only their fields are read here
    from lrjax.tune.result import StrategyRuns, SweepResult

__all__ = [
    "StrategySummary",
    "mean_std_ci",
    "regularized_incomplete_beta",
    "student_t_cdf",
    "student_t_quantile",
    "summarise",
    "summarised_values",
    "welch_t_test",
]

_EPS = 1e-16  # relative step at which the continued fraction has converged
_TINY = 1e-300  # stands in for zero in Lentz's method (avoids 0/0)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (A&S 26.5.8) by Lentz's method:

    1 / (1 + d1 / (1 + d2 / (1 + ...))), with
    d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
    d_{2m}   = m (b - m) x / ((a + 2m - 1)(a + 2m)).

    It converges fast for x < (a + 1) / (a + b + 2), in about sqrt(max(a, b))
    terms at worst.
    """
    f, c, d = 1.0, 1.0, 0.0
    terms = 1000 + 20 * int(math.sqrt(max(a, b)))
    for j in range(1, 2 * terms):
        m = j // 2
        if j % 2:
            dj = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            dj = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + dj * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + dj / c
        c = c if abs(c) > _TINY else _TINY
        f *= c * d
        if abs(c * d - 1.0) < _EPS:
            break
    return 1.0 / f


def _log_beta(a: float, b: float) -> float:
    """ln B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b).

    For a large argument A (with s the other) the difference
    lgamma(A) - lgamma(A + s) comes from Stirling's series instead,
    -(A - 1/2) log1p(s / A) - s ln(A + s) + s + w(A) - w(A + s) with
    w(x) = 1/(12x) - 1/(360x^3) + 1/(1260x^5), since the two lgammas (each
    about A ln A) would cancel to a relative error of about 1e-16 A ln A.
    """
    big, small = max(a, b), min(a, b)
    if big < 1e3:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def w(x: float) -> float:
        return (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * x * x)) / (x * x)) / x

    diff = (
        -(big - 0.5) * math.log1p(small / big)
        - small * math.log(big + small)
        + small
        + (w(big) - w(big + small))
    )
    return math.lgamma(small) + diff


def regularized_incomplete_beta(
    a: float, b: float, x: float, one_minus_x: float | None = None
) -> float:
    """I_x(a, b) = B(x; a, b) / B(a, b), for a, b > 0 and 0 <= x <= 1.

    I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * (continued fraction), using
    I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction would converge slowly.
    ``one_minus_x`` may pass 1 - x computed without cancellation (Student's t
    needs both nu / (nu + t^2) and t^2 / (nu + t^2) accurately).
    """
    y = 1.0 - x if one_minus_x is None else one_minus_x
    if not (a > 0 and b > 0) or math.isnan(x) or math.isnan(y):
        return math.nan
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log(y) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, y) / b


def _two_sided_tail(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom:
    I_{df / (df + t^2)}(df / 2, 1 / 2) (A&S 26.7.1); the normal's at df = inf."""
    if math.isnan(t) or math.isnan(df) or not df > 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    if math.isinf(df):
        return math.erfc(abs(t) / math.sqrt(2.0))
    t2 = t * t
    return regularized_incomplete_beta(
        df / 2.0, 0.5, df / (df + t2), one_minus_x=t2 / (df + t2)
    )


def _central_mass(t: float, df: float) -> float:
    """P(|T| < |t|) = I_{t^2 / (df + t^2)}(1 / 2, df / 2): accurate near t = 0,
    where 1 - (the two-sided tail) would cancel."""
    if math.isinf(df):
        return math.erf(abs(t) / math.sqrt(2.0))
    t2 = t * t
    return regularized_incomplete_beta(
        0.5, df / 2.0, t2 / (df + t2), one_minus_x=df / (df + t2)
    )


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` > 0 degrees of freedom (any real
    df, ``math.inf`` for the normal); NaN for df <= 0."""
    tail = 0.5 * _two_sided_tail(t, df)
    return tail if t < 0 else 1.0 - tail


def student_t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q, for 0 < q < 1 and df > 0 (``math.inf``: the
    normal), by bisection on :func:`student_t_cdf` to float precision.

    Far from the median the two-sided tail is solved for, near it the
    central mass, so t keeps its relative accuracy at both ends (within 1e-10
    of SciPy's ``t.ppf`` for 0.5 <= df <= 1e6, 1e-8 <= q <= 1 - 1e-8).
    NaN outside 0 < q < 1 or df <= 0.
    """
    if not (0.0 < q < 1.0) or not df > 0:
        return math.nan
    if q == 0.5:
        return 0.0
    # The two-sided tail beyond |t| and the central mass within it, both
    # exact in floating point (Sterbenz; no 1 - q for q < 1/2); whichever is
    # under 1/2 is solved for (the tail far out, the central mass near 0), so
    # t keeps its relative accuracy at both ends.
    sign = -1.0 if q < 0.5 else 1.0
    tail = 2.0 * q if q < 0.5 else 2.0 * (1.0 - q)
    central = 1.0 - 2.0 * q if q < 0.5 else 2.0 * q - 1.0

    def beyond(t: float) -> bool:  # whether the quantile lies beyond t
        if tail < 0.5:
            return _two_sided_tail(t, df) > tail
        return _central_mass(t, df) < central

    # Bracket by doubling (or halving) so that lo < t <= hi = 2 lo.
    hi = 1.0
    if beyond(hi):
        while beyond(hi):
            hi *= 2.0
    else:
        while not beyond(hi / 2.0) and hi > 1e-300:
            hi /= 2.0
    lo = hi / 2.0
    while hi - lo > 4e-16 * hi:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if beyond(mid):
            lo = mid
        else:
            hi = mid
    return sign * 0.5 * (lo + hi)


def _as_sample(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).ravel()


def _power_of_two_scale(*samples: np.ndarray) -> float:
    """A power of two near the samples' largest magnitude: dividing by it is
    exact and keeps squares of tiny (1e-200) or huge (1e200) values from
    under- or overflowing."""
    finite = [np.abs(x[np.isfinite(x)]) for x in samples]
    largest = max((float(f.max()) for f in finite if f.size), default=0.0)
    return math.ldexp(1.0, math.frexp(largest)[1] - 1) if largest > 0 else 1.0


def mean_std_ci(
    values: ArrayLike, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """Mean, sample standard deviation and a Student-t confidence interval.

    For n values with mean m and sample standard deviation
    s = sqrt(sum (x_i - m)^2 / (n - 1)), the interval is
    m -+ t_{(1 + confidence) / 2, n - 1} * s / sqrt(n), with t the Student-t
    quantile at n - 1 degrees of freedom (exact for normal samples).

    Args:
      values: the sample (flattened).
      confidence: the interval's coverage, in (0, 1).

    Returns:
      ``(mean, std, low, high)`` as floats. With one value std, low and high
      are NaN (no spread can be estimated); with none, all four are NaN.
      NaN or infinite values propagate.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = _as_sample(values)
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    scale = _power_of_two_scale(x)
    mean = scale * float(np.mean(x / scale))
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = scale * float(np.std(x / scale, ddof=1))
    half = student_t_quantile((1.0 + confidence) / 2.0, n - 1) * std / math.sqrt(n)
    if std == 0.0:  # an infinite quantile times zero spread is no spread
        half = 0.0
    return mean, std, mean - half, mean + half


def welch_t_test(a: ArrayLike, b: ArrayLike) -> tuple[float, float, float]:
    """Welch's unequal-variance t-test of equal means (Welch 1947).

    With sample means m_a, m_b, sample variances s_a^2, s_b^2 (ddof = 1) and
    sizes n_a, n_b, and v_a = s_a^2 / n_a, v_b = s_b^2 / n_b:

      t  = (m_a - m_b) / sqrt(v_a + v_b)
      df = (v_a + v_b)^2 / (v_a^2 / (n_a - 1) + v_b^2 / (n_b - 1))

    (the Welch-Satterthwaite degrees of freedom, generally not an integer),
    and p = P(|T_df| >= |t|) for Student's t with df degrees of freedom.

    Args:
      a: the first sample (flattened).
      b: the second sample (flattened).

    Returns:
      ``(t, df, p)`` as floats, p two-sided. Edge cases: fewer than two
      values in either sample gives NaN for all three (no variance to
      estimate); zero variance in both gives p = 1 with t = 0 when the means
      are equal, p = 0 with t = +-inf when they differ, and df = NaN (the
      Welch-Satterthwaite formula is 0/0 there). NaN values propagate.
    """
    x, y = _as_sample(a), _as_sample(b)
    n_a, n_b = x.size, y.size
    if n_a < 2 or n_b < 2:
        return math.nan, math.nan, math.nan
    # t and df are unchanged by a common scale, which keeps squares in range.
    scale = _power_of_two_scale(x, y)
    x, y = x / scale, y / scale
    diff = float(np.mean(x) - np.mean(y))
    v_a = float(np.var(x, ddof=1)) / n_a
    v_b = float(np.var(y, ddof=1)) / n_b
    if math.isnan(diff) or math.isnan(v_a) or math.isnan(v_b):
        return math.nan, math.nan, math.nan
    if v_a == 0.0 and v_b == 0.0:
        if diff == 0.0:
            return 0.0, math.nan, 1.0
        return math.copysign(math.inf, diff), math.nan, 0.0
    t = diff / math.sqrt(v_a + v_b)
    # In units of the larger variance, so the squares stay in range when one
    # sample is far more spread than the other.
    larger = max(v_a, v_b)
    r_a, r_b = v_a / larger, v_b / larger
    df = (r_a + r_b) ** 2 / (r_a**2 / (n_a - 1) + r_b**2 / (n_b - 1))
    return t, df, _two_sided_tail(t, df)


@dataclasses.dataclass(frozen=True)
class StrategySummary:
    """One strategy's selection-metric values, summarised (:func:`summarise`).

    Attributes:
      name: the strategy.
      chosen_rate: the rate the sweep chose.
      n: how many values (seeds) are summarised.
      mean, std, ci_low, ci_high: :func:`mean_std_ci` of them (95%).
      best: whether its mean is the best (highest or lowest, as the metric
        says) of the finite means.
      indistinguishable_from_best: whether Welch's test against the best's
        values has p >= alpha (True for the best itself; False when p is NaN).
      p_value_vs_best: that test's two-sided p (1 for the best itself; NaN
        with fewer than two values on either side or no best).
      fresh_seeds: True when the values are the chosen rate's re-run on fresh
        seeds, False when they are the selection seeds' (biased optimistically,
        since the rate was chosen for doing well on exactly those seeds).
      at_edge: ``"highest"`` or ``"lowest"`` when the chosen rate is the
        highest or lowest of several rates tried (the best rate may lie
        beyond the range: widen it), else ``""``.
    """

    name: str
    chosen_rate: float
    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    best: bool
    indistinguishable_from_best: bool
    p_value_vs_best: float
    fresh_seeds: bool
    at_edge: str = ""


def rate_at_edge(runs: StrategyRuns) -> str:
    """``"highest"``/``"lowest"`` when ``runs.chosen`` is the highest/lowest of
    two or more distinct rates tried, else ``""``."""
    rates = np.asarray(runs.rates, np.float64)
    if runs.chosen is None or np.unique(rates).size < 2:
        return ""
    chosen = rates[runs.chosen]
    if chosen >= rates.max():
        return "highest"
    return "lowest" if chosen <= rates.min() else ""


def summarised_values(runs: StrategyRuns, metric: str) -> tuple[np.ndarray, bool]:
    """The values :func:`summarise` uses for one strategy, and whether they
    come from fresh seeds: the chosen rate's ``final_metrics[metric]`` on the
    re-run's fresh seeds when present; else, under PBT (``runs.lineage``), the
    final metrics of the members descended from the chosen initial rate (the
    best final member among them); else ``final_metric[chosen, :]``. None
    when no rate was chosen (``chosen is None``)."""
    if runs.chosen is None:
        return np.zeros(0, np.float64), False
    if runs.final_metrics is not None and metric in runs.final_metrics:
        return np.asarray(runs.final_metrics[metric], np.float64).ravel(), True
    final = np.asarray(runs.final_metric, np.float64)
    lineage = getattr(runs, "lineage", None)
    if lineage is not None:
        return final[np.asarray(lineage) // final.shape[1] == runs.chosen], False
    return final[runs.chosen].ravel(), False


def summarise(result: SweepResult, alpha: float = 0.05) -> dict[str, StrategySummary]:
    """Per strategy: the chosen rate's metric over seeds, with a 95% interval,
    and whether it is statistically indistinguishable from the best.

    The best strategy has the highest mean metric when
    ``result.higher_is_better``, else the lowest, among strategies whose mean
    is finite (a chosen rate that diverged on some seed has a non-finite
    mean and is never best). Every other strategy is compared with it by
    :func:`welch_t_test`; ``indistinguishable_from_best`` means p >= alpha.
    The values are those of :func:`summarised_values`.

    Returns:
      ``{name: StrategySummary}`` ranked best first (non-finite means last,
      ties in the sweep's order).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    sign = -1.0 if result.higher_is_better else 1.0
    values, parts = {}, {}
    for name, runs in result.strategies.items():
        values[name], fresh = summarised_values(runs, result.metric)
        rate = math.nan if runs.chosen is None else runs.rates[runs.chosen]
        parts[name] = (float(rate), fresh)
    stats = {name: mean_std_ci(v) for name, v in values.items()}

    def key(name: str) -> tuple[bool, float]:
        mean = stats[name][0]
        return (not math.isfinite(mean), sign * mean if math.isfinite(mean) else 0.0)

    order = sorted(values, key=key)  # stable: ties keep the sweep's order
    best = order[0] if order and math.isfinite(stats[order[0]][0]) else None
    summaries = {}
    for name in order:
        if best is None:
            p = math.nan
        elif name == best:
            p = 1.0
        else:
            p = welch_t_test(values[name], values[best])[2]
        rate, fresh = parts[name]
        summaries[name] = StrategySummary(
            name, rate, int(values[name].size), *stats[name],
            best=name == best, indistinguishable_from_best=bool(p >= alpha),
            p_value_vs_best=p, fresh_seeds=fresh,
            at_edge=rate_at_edge(result.strategies[name]),
        )  # fmt: skip
    return summaries
