"""The comparison's figure and timing columns, on synthetic results.

Colours are checked in CIELAB, converted here from sRGB with the standard
formulas (IEC 61966-2-1 and CIE 1976, D65 white), independently of the palette's
construction.
"""

import csv
import dataclasses
import itertools
import types

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from lrjax.compare import (  # noqa: E402
    STRATEGIES,
    Curves,
    format_table,
    load_digits,
    mlp,
    run_comparison,
    training,
    write_csv,
)
from lrjax.compare.figure import (  # noqa: E402
    PALETTE,
    coinciding,
    draw_results,
    drawing_order,
    strategy_styles,
)
from lrjax.compare.report import (
    TABLE_NOTE,  # noqa: E402
    StrategyResult,  # noqa: E402
)
from lrjax.tune.catalogue import select  # noqa: E402

EPOCHS, STEPS, SEEDS = 5, 4, 2


def _lab(colour):
    """sRGB (0..1) to CIELAB under D65."""
    rgb = np.asarray(to_rgb(colour))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = (
        np.array([
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ])
        @ linear
    )  # fmt: skip
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    delta = 6 / 29
    f = np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _delta_e(c1, c2):
    """CIE76 colour difference: Euclidean distance in CIELAB."""
    return float(np.linalg.norm(_lab(c1) - _lab(c2)))


def _result(name, offset=0.0):
    """Synthetic curves of one strategy: falling loss, constant rate, rising
    accuracy, the seeds apart; ``offset`` moves all three."""
    epochs = np.arange(1, EPOCHS + 1)
    seeds = np.arange(SEEDS)[:, None]
    curves = Curves(
        train_loss=(1.0 + offset) / epochs + 0.01 * seeds,
        test_loss=np.ones((SEEDS, EPOCHS)),
        test_accuracy=0.9 - 0.5 / epochs - 0.01 * seeds - 0.01 * offset,
        learning_rate=np.full((SEEDS, EPOCHS * STEPS), 0.1 + offset),
    )
    (strategy,) = [s for s in STRATEGIES if s.name == name]
    return StrategyResult(strategy, curves, compile_seconds=1.0, run_seconds=2.0)


def _with(result, **curves):
    """``result`` with some of its curves replaced."""
    return dataclasses.replace(result, curves=result.curves._replace(**curves))


def _legend_texts(figure):
    (legend,) = figure.legends
    return [t.get_text() for t in legend.get_texts()]


def test_every_strategy_has_its_own_colour():
    assert len(PALETTE) >= len(STRATEGIES)
    styles = strategy_styles(STRATEGIES)
    assert len(styles) == len(STRATEGIES) == 31
    for (a, sa), (b, sb) in itertools.combinations(styles.items(), 2):
        # 2.3 is a just-noticeable difference; 15 tells thin lines apart.
        assert _delta_e(sa.color, sb.color) > 15, (a, b)
    # The families stay visible: one dash pattern per family, shared by its
    # members and by no other family.
    by_family = {}
    for s in STRATEGIES:
        by_family.setdefault(s.family, set()).add(repr(styles[s.name].dashes))
    assert all(len(d) == 1 for d in by_family.values())
    assert len({d for ds in by_family.values() for d in ds}) == len(by_family)


def test_the_figure_draws_each_strategy_in_its_colour():
    results = [_result(s.name, offset=0.05 * i) for i, s in enumerate(STRATEGIES)]
    figure = draw_results(results)
    (legend,) = figure.legends
    colours = {
        text.get_text(): handle.get_color()
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
        if handle.get_linestyle() != "None"
    }
    assert sorted(colours) == sorted(s.name for s in STRATEGIES)
    for a, b in itertools.combinations(colours, 2):
        assert _delta_e(colours[a], colours[b]) > 15, (a, b)
    for ax in figure.axes:
        drawn = {line.get_color() for line in ax.lines}
        assert drawn == set(colours.values())


def _pixels_near(figure, ax, colour, tolerance=0.08):
    """How many rendered pixels inside ``ax`` show ``colour``."""
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3] / 255
    x0, y0, x1, y1 = ax.get_window_extent().extents.astype(int)
    height = image.shape[0]
    crop = image[height - y1 : height - y0, x0:x1]
    return int(np.sum(np.all(np.abs(crop - to_rgb(colour)) < tolerance, axis=-1)))


def test_identical_runs_are_named_in_the_legend_and_both_drawn():
    constant = _result("constant")
    # Every plotted series equal to constant's, up to float rounding (0.1%).
    twin = _with(_result("ema-momentum"), train_loss=constant.curves.train_loss * 1.001)
    # Only the rate equal to constant's.
    nesterov = _with(
        _result("nesterov", offset=0.5), learning_rate=constant.curves.learning_rate
    )
    adam = _result("adam", offset=0.2)
    assert coinciding([constant, twin, nesterov, adam]) == {
        "constant": {},
        "ema-momentum": {"loss": "constant", "rate": "constant", "accuracy": "constant"},
        "nesterov": {"rate": "constant"},
        "adam": {},
    }  # fmt: skip

    # Given in any order, drawn and labelled in the table's.
    results = [adam, nesterov, twin, constant]
    figure = draw_results(results)
    assert _legend_texts(figure) == [
        "FIXED", "constant", "ema-momentum (= constant)", "nesterov (rate = constant)",
        "ADAPTIVE", "adam",
    ]  # fmt: skip

    # Both lines of a pair show: the later one in dashes, above the first.
    styles = strategy_styles([r.strategy for r in drawing_order(results)])
    colour = {name: style.color for name, style in styles.items()}
    for ax in figure.axes:
        lines = {line.get_color(): line for line in ax.lines}
        base, over = lines[colour["constant"]], lines[colour["ema-momentum"]]
        assert base.get_linestyle() == "-"
        assert over.get_linestyle() == "--" and over.get_zorder() > base.get_zorder()
    # Three rates coincide: each of the three colours shows on screen.
    FigureCanvasAgg(figure)
    rate_ax = figure.axes[1]
    for name in ("constant", "ema-momentum", "nesterov"):
        assert _pixels_near(figure, rate_ax, colour[name]) > 50, name


@pytest.mark.parametrize(
    "field, factor, shift, same",
    [
        ("train_loss", 1.001, 0.0, True),  # float rounding: one line
        ("train_loss", 1.05, 0.0, False),  # 5% apart: two lines
        ("learning_rate", 1.0, 1e-3, False),  # 0.101 against 0.1
        ("test_accuracy", 1.0, 1 / 450, False),  # one more test image right
    ],
)
def test_curves_coincide_only_up_to_float_rounding(field, factor, shift, same):
    first, second = _result("constant"), _result("ema-momentum")
    second = _with(second, **{field: getattr(second.curves, field) * factor + shift})
    found = coinciding([first, second])["ema-momentum"]
    panel = {"train_loss": "loss", "learning_rate": "rate", "test_accuracy": "accuracy"}  # fmt: skip
    others = {"loss", "rate", "accuracy"} - {panel[field]}
    assert set(found) == (others | {panel[field]} if same else others)


def test_accuracy_axis_holds_the_whole_curves():
    low_start = np.array([[0.08, 0.6, 0.9, 0.95, 0.97], [0.2, 0.7, 0.92, 0.96, 0.99]])
    figure = draw_results(
        [_result("constant"), _with(_result("adam", 0.1), test_accuracy=low_start)]
    )
    acc_ax = figure.axes[2]
    bottom, top = acc_ax.get_ylim()
    plotted = [line.get_ydata() for line in acc_ax.lines]
    plotted += [path.vertices[:, 1] for c in acc_ax.collections for path in c.get_paths()]  # fmt: skip
    values = np.concatenate(plotted)
    assert values.min() == pytest.approx(0.08)  # the lowest seed's first epoch
    assert bottom <= values.min() and values.max() <= top
    assert 0.0 <= bottom and top <= 1.0


def test_steps_per_second_counts_the_timed_call_only():
    curves = Curves(
        np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)), np.full((2, 4), 0.1)
    )
    (strategy,) = [s for s in STRATEGIES if s.name == "adam"]
    result = StrategyResult(
        strategy, curves, compile_seconds=5.0, run_seconds=2.0, warmup_seconds=1.0
    )
    assert result.steps_per_second == 2 * 4 / 2.0
    assert result.wall_seconds == 5.0 + 1.0 + 2.0
    row = format_table([result]).splitlines()[2]
    assert row.split()[-2:] == ["4", "8.0"]


class _Clock:
    """A stand-in for the ``time`` module whose clock reads given times."""

    def __init__(self, *readings):
        self.readings = list(readings)

    def perf_counter(self):
        return self.readings.pop(0)


def _train(monkeypatch, *readings):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(training, "time", _Clock(*readings))
    (strategy,) = select(["constant"])
    plan = training.Plan(epochs=1, batch_size=64, steps_per_epoch=4)
    return training.train_seeds(
        mlp((8,)), strategy.build(None), plan, load_digits(), seeds=2
    )


def test_a_short_run_is_timed_on_a_second_call_after_the_warm_up(monkeypatch):
    # start, compiled, first call done, second call starts, second call done
    trained = _train(monkeypatch, 100.0, 103.0, 103.5, 104.0, 104.25)
    assert trained.compile_seconds == 3.0
    assert trained.warmup_seconds == 0.5
    assert trained.run_seconds == 0.25
    assert trained.curves.train_loss.shape == (2, 1)


def test_a_long_run_is_timed_on_its_only_call(monkeypatch):
    long = training.RETIME_BELOW_SECONDS + 1.0
    trained = _train(monkeypatch, 100.0, 103.0, 103.0 + long)
    assert (trained.compile_seconds, trained.warmup_seconds) == (3.0, 0.0)
    assert trained.run_seconds == long


def test_run_comparison_reports_training_time_apart_from_compilation():
    pytest.importorskip("sklearn")
    (result,) = run_comparison(
        select(["constant"]), mlp((8,)), epochs=1, seeds=2, batch_size=128,
        progress=False,
    )  # fmt: skip
    steps = result.curves.learning_rate.shape[1]
    assert result.warmup_seconds > 0  # a run this short is timed on a repeat
    assert result.compile_seconds > result.run_seconds > 0
    assert result.steps_per_second == pytest.approx(2 * steps / result.run_seconds)
    assert result.wall_seconds == pytest.approx(
        result.compile_seconds + result.warmup_seconds + result.run_seconds
    )


def _tuned(name, chosen=1):
    """A synthetic tuned result: 3 rates x 2 seeds, the first rate stopped
    by halving after the first of two evaluations."""
    runs = types.SimpleNamespace(
        rates=np.array([0.01, 0.1, 1.0]),
        seeds=np.array([0, 1]),
        chosen=chosen,
        final_metric=np.array([[0.5, 0.6], [0.8, 0.9], [0.7, np.nan]]),
        steps_trained=np.array([[10, 10], [20, 20], [20, 20]]),
        eval_steps=np.array([10, 20]),
        eval_metrics={
            "val_loss": np.array([
                [[1.5, np.nan], [1.4, np.nan]],
                [[1.0, 0.6], [1.0, 0.5]],
                [[1.2, 0.9], [1.1, np.nan]],
            ])
        },
    )  # fmt: skip
    return dataclasses.replace(
        _result(name), sweep=runs, rate=float(runs.rates[chosen]), tuned=True,
        seed_ids=(2, 3),
    )  # fmt: skip


def test_tuned_results_add_the_rate_sensitivity_panel_and_sweep_csv(tmp_path):
    results = [_tuned("constant"), _tuned("adam", chosen=2)]
    figure = draw_results(results)
    assert len(figure.axes) == 4
    sens = figure.axes[3]
    assert sens.get_xscale() == "log" and "rate sensitivity" in sens.get_title()
    stars = [line for line in sens.lines if line.get_marker() == "*"]
    assert sorted(float(s.get_xdata()[0]) for s in stars) == [0.1, 1.0]
    # The star sits at the mean over seeds of the chosen rate's final metric
    # (over the finite values: adam's second seed diverged).
    heights = sorted(float(s.get_ydata()[0]) for s in stars)
    assert heights == pytest.approx([0.7, 0.85])

    paths = write_csv(results, str(tmp_path), "task", "model")
    assert [p.rsplit("/", 1)[-1] for p in paths] == [
        "strategies.csv", "strategies_curves.csv", "sweep.csv",
    ]  # fmt: skip
    rows = list(csv.DictReader(open(paths[2], newline="")))
    assert len(rows) == 2 * 3 * 2
    stopped = [r for r in rows if r["strategy"] == "constant" and r["learning_rate"] == "0.01"]  # fmt: skip
    assert [(r["steps_trained"], r["val_loss"]) for r in stopped] == [
        ("10", "1.5"), ("10", "1.4"),
    ]  # fmt: skip
    chosen = {r["strategy"]: r["learning_rate"] for r in rows if r["chosen"] == "1"}
    assert chosen == {"constant": "0.1", "adam": "1"}
    summary = list(csv.DictReader(open(paths[0], newline="")))
    assert {r["seed"] for r in summary} == {"2", "3"}
    assert {r["tuned"] for r in summary} == {"1"}


def test_table_flags_a_tuned_rate_at_the_edge_of_its_grid():
    """adam's tuned rate is the highest of its three, constant's the middle."""
    table = format_table([_tuned("constant"), _tuned("adam", chosen=2)])
    rows = {line.split()[1]: line for line in table.splitlines()[2:]}
    assert " 1*↑ " in rows["adam"] + " "
    assert "0.1* " in rows["constant"] + " " and "↑" not in rows["constant"]
    low = format_table([_tuned("constant", chosen=0)])
    assert "0.01*↓" in low
    assert "↑/↓: the highest/lowest rate tuned" in TABLE_NOTE
