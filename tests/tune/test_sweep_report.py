"""The sweep's table, CSV files and figure, on synthetic results: three
strategies of 4 rates x 3 seeds, one of them stopped early on two rates as
successive halving does and diverged on one member."""

import csv
import dataclasses
import math
import os
import warnings

import numpy as np
import pytest

from lrjax.tune import report
from lrjax.tune.result import StrategyRuns, SweepResult
from lrjax.tune.stats import mean_std_ci, summarise, welch_t_test

RATES = np.array([1e-3, 1e-2, 1e-1, 1.0])
SEEDS = np.array([0, 1, 2], np.int64)
STEPS = 12
EVAL_STEPS = np.array([3, 6, 9, 12], np.int64)


def _runs(name, chosen, values, *, stopped=(), diverged=(), fresh=None, seed=0):
    """A strategy whose chosen rate ends with ``values`` (one per seed) of
    val_loss; ``stopped`` rates train 6 of 12 steps, ``diverged`` members turn
    NaN at step 5, ``fresh`` are the re-run's val_loss on 4 fresh seeds."""
    rng = np.random.default_rng(seed)
    r_n, s_n, e_n = len(RATES), len(SEEDS), len(EVAL_STEPS)
    trained = np.full((r_n, s_n), STEPS, np.int64)
    trained[list(stopped)] = 6
    t = np.arange(STEPS)
    loss = (1 + rng.uniform(0, 0.2, (r_n, s_n, 1))) * np.exp(-0.2 * t)
    rate = RATES[:, None, None] * (0.5 + 0.5 * np.cos(np.pi * t / STEPS))
    rate = np.broadcast_to(rate, (r_n, s_n, STEPS)).copy()
    val = np.exp(-0.1 * EVAL_STEPS) * rng.uniform(0.5, 1.5, (r_n, s_n, e_n))
    val[chosen, :, -1] = values
    acc = 1 - val / 2
    after_stop = t >= trained[..., None]
    loss[after_stop], rate[after_stop] = np.nan, np.nan
    not_evaluated = EVAL_STEPS > trained[..., None]
    val[not_evaluated], acc[not_evaluated] = np.nan, np.nan
    for r, s in diverged:
        loss[r, s, 4:] = np.nan
        val[r, s, EVAL_STEPS > 4], acc[r, s, EVAL_STEPS > 4] = np.nan, np.nan
    val, acc = val.astype(np.float32), acc.astype(np.float32)
    last = np.where(trained == STEPS, e_n - 1, 1)  # eval step 6 for stopped rates
    final = np.take_along_axis(val, last[..., None], -1)[..., 0].astype(np.float64)
    return StrategyRuns(
        name=name, rates=RATES.copy(), seeds=SEEDS.copy(),
        train_loss=loss.astype(np.float32), learning_rate=rate.astype(np.float32),
        eval_steps=EVAL_STEPS.copy(),
        eval_metrics={"val_loss": val, "val_accuracy": acc},
        final_metric=final, steps_trained=trained, chosen=chosen,
        final_seeds=None if fresh is None else np.arange(100, 104, dtype=np.int64),
        final_metrics=None if fresh is None else {
            "val_loss": np.asarray(fresh, np.float32),
            "val_accuracy": 1 - np.asarray(fresh, np.float32) / 2,
        },
        compilations=2, compile_seconds=1.25 + seed, run_seconds=3.5 + seed,
        member_steps=int(trained.sum()),
    )  # fmt: skip


def _result(method="halving"):
    return SweepResult(
        strategies={
            "lion": _runs("lion", 0, [0.60, 0.61, 0.62], seed=1),
            "adam": _runs("adam", 1, [0.9, 0.8, 0.7], fresh=[0.30, 0.31, 0.32, 0.33]),
            "sgd": _runs(
                "sgd",
                2,
                [0.305, 0.315, 0.335],
                stopped=(0, 3),
                diverged=[(3, 0)],
                seed=2,
            ),
        },  # fmt: skip
        metric="val_loss",
        higher_is_better=False,
        method=method,
        budget=STEPS,
    )


def _summarised(runs):
    if runs.final_metrics is not None:
        return np.asarray(runs.final_metrics["val_loss"], np.float64)
    return runs.final_metric[runs.chosen]


def _finite_mean_min_max(x, axis):
    x = np.where(np.isfinite(x), x, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        return np.nanmean(x, axis), np.nanmin(x, axis), np.nanmax(x, axis)


# ---------------------------------------------------------------------- table


def test_table_ranks_marks_and_numbers():
    result = _result()
    lines = report.table(result).splitlines()
    assert "val_loss mean ± std" in lines[0] and "95% CI" in lines[0]
    assert set(lines[1]) == {"-"}
    rows = lines[2:5]
    # adam's fresh seeds (mean 0.315) beat sgd's selection seeds (0.3183),
    # which beat lion's (0.61).
    assert [row.split()[:2] for row in rows] == [
        ["1", "adam"],
        ["2", "sgd"],
        ["3", "lion"],
    ]
    p_sgd = welch_t_test(
        _summarised(result.strategies["sgd"]), [0.30, 0.31, 0.32, 0.33]
    )[2]
    p_lion = welch_t_test(
        _summarised(result.strategies["lion"]), [0.30, 0.31, 0.32, 0.33]
    )[2]
    assert p_sgd > 0.05 > p_lion
    for row, name, mark in zip(
        rows, ["adam", "sgd", "lion"], ["best", "≈best", None], strict=True
    ):
        runs = result.strategies[name]
        values = _summarised(runs)
        mean, std = np.mean(values), np.std(values, ddof=1)
        _, _, low, high = mean_std_ci(values)
        assert f"{runs.rates[runs.chosen]:.3g}" in row
        assert f"{mean:.4g} ± {std:.2g}" in row
        assert f"[{low:.4g}, {high:.4g}]" in row
        assert f"  {len(values)}  " in row
        assert row.split()[-3:] == [
            f"{runs.compile_seconds:.1f}",
            f"{runs.run_seconds:.1f}",
            str(runs.member_steps),
        ]
        if mark is None:
            assert "best" not in row and f"{p_lion:.3g}" in row
        else:
            assert mark in row
    assert f"{p_sgd:.3g}" in rows[1]
    footer = "\n".join(lines[5:])
    assert "Welch's t-test" in footer and "5% level" in footer
    assert "fresh seeds (a re-run after selection) for adam" in footer
    assert "selected on" in footer and "sgd, lion" in footer
    assert "method: halving" in footer and "lower is better" in footer
    assert result.table() == report.table(result)


def test_table_untestable_and_single_source():
    result = _result("grid")
    one_seed = {
        name: dataclasses.replace(
            runs, final_metric=runs.final_metric[:, :1], final_metrics=None
        )
        for name, runs in result.strategies.items()
    }
    lines = report.table(dataclasses.replace(result, strategies=one_seed))
    rows = lines.splitlines()[2:5]
    assert "best" in rows[0] and all(" ? " in row for row in rows[1:])
    assert (
        "values: the chosen rate's val_loss on the seeds the rate was selected on"
        in lines
    )
    assert "fresh" not in lines and "method: grid" in lines


def test_table_flags_a_chosen_rate_at_the_edge_of_the_range():
    """lion chose the lowest of its 4 rates: marked, with a footer saying why;
    adam (2nd) and sgd (3rd of 4) are inside the range."""
    result = _result()
    lines = report.table(result).splitlines()
    rows = {row.split()[1]: row for row in lines[2:5]}
    assert "0.001↓" in rows["lion"]
    assert (
        "↑" not in rows["adam"] + rows["sgd"] and "↓" not in rows["adam"] + rows["sgd"]
    )
    assert "the highest/lowest tried" in lines[-1] and "widen the rates" in lines[-1]
    highest = dataclasses.replace(result.strategies["adam"], chosen=3)
    one_rate = dataclasses.replace(
        result.strategies["adam"], rates=np.full(4, 0.1), chosen=3
    )
    edges = summarise(
        dataclasses.replace(result, strategies={"a": highest, "b": one_rate})
    )
    assert (edges["a"].at_edge, edges["b"].at_edge) == ("highest", "")
    inside = {k: dataclasses.replace(v, chosen=1) for k, v in result.strategies.items()}
    text = report.table(dataclasses.replace(result, strategies=inside))
    assert "↑" not in text and "↓" not in text and "widen" not in text


# ------------------------------------------------------------------------ CSV


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _same(text, value):
    """The CSV text reads back to exactly ``value`` (NaN to NaN)."""
    number = float(text)
    return (math.isnan(number) and math.isnan(value)) or number == value


def test_csv_round_trips(tmp_path):
    result = _result()
    directory = tmp_path / "new" / "dir"
    paths = result.to_csv(str(directory))
    assert paths == [
        str(directory / f"sweep_{p}.csv") for p in ("members", "curves", "summary")
    ]
    assert all(os.path.isfile(p) for p in paths)
    members, curves, summary = map(_read, paths)

    sweep_rows = [m for m in members if m["phase"] == "sweep"]
    assert len(sweep_rows) == 3 * len(RATES) * len(SEEDS)
    for row in sweep_rows:
        runs = result.strategies[row["strategy"]]
        r = int(np.flatnonzero(runs.rates == float(row["rate"]))[0])
        s = int(row["seed"])
        assert int(row["chosen"]) == (r == runs.chosen)
        assert _same(row["final_metric"], runs.final_metric[r, s])
        assert int(row["steps_trained"]) == runs.steps_trained[r, s]
        e = 3 if runs.steps_trained[r, s] == STEPS else 1
        assert int(row["last_eval_step"]) == EVAL_STEPS[e]
        for m in ("val_loss", "val_accuracy"):
            assert _same(row[m], np.float32(runs.eval_metrics[m][r, s, e]))
        # The final metric is the selection metric at the last evaluation.
        assert _same(row["val_loss"], np.float32(runs.final_metric[r, s]))
    final_rows = [m for m in members if m["phase"] == "final"]
    adam = result.strategies["adam"]
    assert [int(m["seed"]) for m in final_rows] == adam.final_seeds.tolist()
    for f, row in enumerate(final_rows):
        assert row["strategy"] == "adam" and float(row["rate"]) == adam.chosen_rate
        assert _same(row["final_metric"], adam.final_metrics["val_loss"][f])
        assert _same(row["val_accuracy"], adam.final_metrics["val_accuracy"][f])

    for name, runs in result.strategies.items():
        mine = [c for c in curves if c["strategy"] == name]
        train = [c for c in mine if c["kind"] == "train"]
        # Every step trained, nothing after a stop.
        assert len(train) == runs.steps_trained.sum()
        for c in train:
            r = int(np.flatnonzero(runs.rates == float(c["rate"]))[0])
            s, t = int(c["seed"]), int(c["step"]) - 1
            assert t < runs.steps_trained[r, s]
            assert _same(c["train_loss"], runs.train_loss[r, s, t])
            assert _same(c["learning_rate"], runs.learning_rate[r, s, t])
            assert c["val_loss"] == ""
        evals = [c for c in mine if c["kind"] == "eval"]
        reached = (EVAL_STEPS[None, None] <= runs.steps_trained[..., None]).sum()
        assert len(evals) == reached
        for c in evals:
            r = int(np.flatnonzero(runs.rates == float(c["rate"]))[0])
            s = int(c["seed"])
            e = int(np.flatnonzero(EVAL_STEPS == int(c["step"]))[0])
            assert _same(c["val_loss"], runs.eval_metrics["val_loss"][r, s, e])
            assert c["train_loss"] == ""
    # The NaNs of a diverged member are written, not dropped.
    diverged = [
        c
        for c in curves
        if c["strategy"] == "sgd" and float(c["rate"]) == 1.0 and c["seed"] == "0"
    ]
    assert any(c["train_loss"] == "nan" for c in diverged)

    assert [s["strategy"] for s in summary] == ["adam", "sgd", "lion"]
    assert [s["rank"] for s in summary] == ["1", "2", "3"]
    for s in summary:
        runs = result.strategies[s["strategy"]]
        values = _summarised(runs)
        mean, std, low, high = mean_std_ci(values)
        assert (float(s["mean"]), float(s["std"])) == (mean, std)
        assert (float(s["ci_low"]), float(s["ci_high"])) == (low, high)
        assert int(s["n"]) == len(values)
        assert s["values"] == (
            "fresh seeds" if s["strategy"] == "adam" else "selection seeds"
        )
        assert float(s["chosen_rate"]) == runs.chosen_rate
        assert int(s["member_steps"]) == runs.member_steps
        assert float(s["compile_seconds"]) == runs.compile_seconds
    assert [(s["best"], s["indistinguishable_from_best"]) for s in summary] == [
        ("1", "1"), ("0", "1"), ("0", "0"),
    ]  # fmt: skip
    assert [s["rate_at_edge"] for s in summary] == ["", "", "lowest"]


# ----------------------------------------------------------------------- plot


def _matplotlib():
    """matplotlib (an optional extra) on the Agg backend, or skip."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    return mpl


def _within_limits(ax, x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    return np.all((x0 <= x[keep]) & (x[keep] <= x1) & (y0 <= y[keep]) & (y[keep] <= y1))


def test_plot_panels_show_the_data(tmp_path):
    mpl = _matplotlib()
    result = _result("pbt")
    path = tmp_path / "figures" / "sweep.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NaN members must not raise warnings
        figure = result.plot(str(path))
    assert path.is_file() and path.stat().st_size > 10_000
    sens, loss_ax, rate_ax, eval_ax = figure.axes[:4]
    names = list(result.strategies)
    assert (sens.get_xscale(), sens.get_yscale()) == ("log", "log")
    assert loss_ax.get_yscale() == "log" and rate_ax.get_yscale() == "log"

    means = [
        ln for ln in sens.lines if ln.get_marker() == "o" and ln.get_linestyle() == "-"
    ]
    assert len(means) == len(names)
    colours = [mpl.colors.to_hex(ln.get_color()) for ln in means]
    assert len(set(colours)) == len(names)
    for line, name, colour in zip(means, names, colours, strict=True):
        runs = result.strategies[name]
        mean, low, high = _finite_mean_min_max(runs.final_metric, axis=1)
        np.testing.assert_array_equal(line.get_xdata(), runs.rates)
        np.testing.assert_allclose(line.get_ydata(), mean, rtol=1e-12)
        # The chosen rate starred on the line.
        stars = [
            ln for ln in sens.lines
            if ln.get_marker() == "*" and mpl.colors.to_hex(ln.get_color()) == colour
        ]  # fmt: skip
        assert len(stars) == 1
        assert stars[0].get_xdata()[0] == runs.chosen_rate
        assert stars[0].get_ydata()[0] == pytest.approx(mean[runs.chosen])
        # The band spans the seeds' lowest to highest value at each rate.
        (band,) = [
            c for c in sens.collections
            if mpl.colors.to_hex(c.get_facecolor()[0]) == colour
        ]  # fmt: skip
        vertices = np.concatenate([p.vertices for p in band.get_paths()])
        for r, rate in enumerate(runs.rates):
            ys = vertices[np.isclose(vertices[:, 0], rate), 1]
            assert ys.min() == pytest.approx(low[r]) and ys.max() == pytest.approx(
                high[r]
            )
        assert _within_limits(sens, vertices[:, 0], vertices[:, 1])
        # The other panels: the chosen rate's curves in the same colour.
        c = runs.chosen
        (loss_line,) = [
            ln for ln in loss_ax.lines if mpl.colors.to_hex(ln.get_color()) == colour
        ]
        np.testing.assert_allclose(
            loss_line.get_ydata(),
            _finite_mean_min_max(runs.train_loss[c], 0)[0],
            rtol=1e-6,
        )
        np.testing.assert_array_equal(loss_line.get_xdata(), np.arange(1, STEPS + 1))
        rate_lines = [
            ln for ln in rate_ax.lines if mpl.colors.to_hex(ln.get_color()) == colour
        ]
        assert len(rate_lines) == len(SEEDS)
        for line_s, rates_s in zip(rate_lines, runs.learning_rate[c], strict=True):
            np.testing.assert_allclose(line_s.get_ydata(), rates_s, rtol=1e-6)
        (eval_line,) = [
            ln for ln in eval_ax.lines if mpl.colors.to_hex(ln.get_color()) == colour
        ]
        np.testing.assert_array_equal(eval_line.get_xdata(), EVAL_STEPS)
        np.testing.assert_allclose(
            eval_line.get_ydata(),
            _finite_mean_min_max(runs.eval_metrics["val_loss"][c], 0)[0],
            rtol=1e-6,
        )
    # sgd's rates 1e-3 and 1.0 stopped early: hollow markers there, and its
    # line's markers only at the other two.
    (hollow,) = [
        ln
        for ln in sens.lines
        if ln.get_marker() == "o" and ln.get_linestyle() == "None"
    ]
    assert hollow.get_xdata().tolist() == [1e-3, 1.0]
    assert mpl.colors.to_hex(hollow.get_markerfacecolor()) == "#ffffff"
    assert means[names.index("sgd")].get_markevery() == [1, 2]
    assert means[names.index("adam")].get_markevery() == [0, 1, 2, 3]
    # sgd's rate 1.0 diverged on seed 0: crossed at the top of the panel; its
    # mean is that of the other two seeds.
    crosses = [ln for ln in sens.lines if ln.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_xdata().tolist() == [1.0]
    assert mpl.colors.to_hex(crosses[0].get_color()) == colours[names.index("sgd")]
    for ax in (sens, loss_ax, rate_ax, eval_ax):
        for line in ax.lines:
            if line not in crosses:
                assert _within_limits(ax, line.get_xdata(), line.get_ydata())
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    for name in names:
        assert any(text.startswith(name) for text in legend)


def test_plot_without_path_and_linear_metric_axes():
    result = _result()
    _matplotlib()
    strategies = {
        name: dataclasses.replace(
            runs,
            final_metric=-runs.final_metric,
            eval_metrics={"val_loss": -runs.eval_metrics["val_loss"]},
        )
        for name, runs in result.strategies.items()
    }
    # Negative values cannot go on a log axis; higher is better goes linear too.
    for higher in (False, True):
        negative = dataclasses.replace(
            result, strategies=strategies, higher_is_better=higher
        )
        figure = report.plot(negative)
        assert figure.axes[0].get_yscale() == "linear"
        assert figure.axes[3].get_yscale() == "linear"


def test_colours_stay_distinct_for_many_strategies():
    mpl = _matplotlib()
    for n in (3, 10, 20):
        colours = report.strategy_colours([f"s{i}" for i in range(n)])
        assert len({mpl.colors.to_hex(c) for c in colours.values()}) == n
