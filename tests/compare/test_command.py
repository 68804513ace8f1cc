"""``lrjax compare`` end to end: options, table, CSV files and figure."""

import csv
import math

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from lrjax.cli import main  # noqa: E402
from lrjax.compare import STRATEGIES, Curves, format_table  # noqa: E402
from lrjax.compare.report import (  # noqa: E402
    CURVE_COLUMNS,
    SUMMARY_COLUMNS,
    StrategyResult,
)
from lrjax.compare.strategies import select  # noqa: E402


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    argv = ["compare", "--quick", "--strategies", "constant,adam", "--seeds", "2"]
    return out, argv + ["--out", str(out), "--no-progress"]


def test_quick_run_writes_table_csvs_and_figure(quick_run, capsys):
    out, argv = quick_run
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 strategies x 2 seeds" in printed and "wall time" in printed
    table = printed[printed.index("  #  strategy") :].splitlines()
    ranked_names = [line.split()[1] for line in table[2:4]]
    assert sorted(ranked_names) == ["adam", "constant"]

    summary = _read(out / "strategies.csv")
    assert tuple(summary[0]) == SUMMARY_COLUMNS
    assert sorted((r["strategy"], r["seed"]) for r in summary) == [
        ("adam", "0"), ("adam", "1"), ("constant", "0"), ("constant", "1"),
    ]  # fmt: skip
    for row in summary:
        assert math.isfinite(float(row["final_train_loss"]))
        assert 0.5 < float(row["test_accuracy"]) <= 1.0
        assert 1 <= int(row["best_epoch"]) <= 3
    # The two seeds are different runs (initialisation and data order).
    for name in ("adam", "constant"):
        losses = {r["final_train_loss"] for r in summary if r["strategy"] == name}
        assert len(losses) == 2
    # The table ranks by mean test accuracy.
    means = {
        name: np.mean(
            [float(r["test_accuracy"]) for r in summary if r["strategy"] == name]
        )
        for name in ("adam", "constant")
    }
    assert ranked_names == sorted(means, key=lambda n: -means[n])

    curves = _read(out / "strategies_curves.csv")
    assert tuple(curves[0]) == CURVE_COLUMNS
    assert len(curves) == 2 * 2 * 3  # strategies x seeds x epochs
    assert all(math.isfinite(float(r["train_loss"])) for r in curves)
    assert {
        float(r["learning_rate"]) for r in curves if r["strategy"] == "constant"
    } == {0.05}

    png = (out / "strategies.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_same_command_twice_gives_the_same_results(quick_run, tmp_path):
    out, argv = quick_run
    first = _read(out / "strategies.csv") if (out / "strategies.csv").exists() else None
    if first is None:
        assert main(argv) == 0
        first = _read(out / "strategies.csv")
    argv = [*argv[:-3], "--out", str(tmp_path), "--no-progress", "--no-plot"]
    assert main(argv) == 0
    second = _read(tmp_path / "strategies.csv")
    timing = {"compile_seconds", "run_seconds", "steps_per_second"}

    def strip(rows):
        return [{k: v for k, v in r.items() if k not in timing} for r in rows]

    assert strip(first) == strip(second)
    assert (out / "strategies_curves.csv").read_bytes() == (
        tmp_path / "strategies_curves.csv"
    ).read_bytes()


def test_list_names_every_strategy_by_family(capsys):
    assert main(["compare", "--list"]) == 0
    printed = capsys.readouterr().out
    for strategy in STRATEGIES:
        assert f"  {strategy.name} " in printed
    assert "feedback:" in printed and "lr-free:" in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--strategies", "adam,nope"], "unknown strategy or family 'nope'"),
        (["--epochs", "0"], "--epochs must be >= 1, got 0"),
        (["--seeds", "-1"], "--seeds must be >= 1, got -1"),
        (["--batch-size", "5000"], "--batch-size must be at most 1347, got 5000"),
        (["--model", "resnet"], "invalid choice: 'resnet'"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv, message, capsys):
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err


def _result(name, accuracies):
    accuracies = np.asarray(accuracies, np.float32)[:, None]
    seeds = accuracies.shape[0]
    curves = Curves(
        train_loss=np.ones((seeds, 1)),
        test_loss=np.ones((seeds, 1)),
        test_accuracy=accuracies,
        learning_rate=np.full((seeds, 4), 0.1),
    )
    (strategy,) = select([name])
    return StrategyResult(strategy, curves, compile_seconds=1.0, run_seconds=2.0)


def test_table_ranks_by_mean_accuracy_and_shows_the_spread():
    table = format_table(
        [
            _result("adam", [0.9, 0.8]),
            _result("cosine", [0.95, 0.97]),
            _result("step", [np.nan, 0.99]),
        ]
    ).splitlines()
    assert [line.split()[1] for line in table[2:]] == ["cosine", "adam", "step"]
    # mean and population std of (0.95, 0.97) in percent; 2 seeds x 4 steps / 2 s.
    assert "96.00 ± 1.00" in table[2] and table[2].split()[-2:] == ["4", "3.0"]
