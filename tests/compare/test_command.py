"""``lrjax compare`` end to end: options, table, CSV files and figure."""

import csv
import math

import numpy as np
import pytest

pytest.importorskip("mnist1d")
pytest.importorskip("matplotlib")

from lrjax.cli import main  # noqa: E402
from lrjax.compare import STRATEGIES, Curves, format_table, rate_grid  # noqa: E402
from lrjax.compare.report import (  # noqa: E402
    CURVE_COLUMNS,
    SUMMARY_COLUMNS,
    SWEEP_COLUMNS,
    StrategyResult,
)
from lrjax.tune.catalogue import select  # noqa: E402


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    argv = ["compare", "--quick", "--strategies", "constant,adam"]
    return out, argv + ["--out", str(out), "--no-progress"]


def test_quick_run_writes_table_csvs_and_figure(quick_run, capsys):
    out, argv = quick_run
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 strategies, rates tuned (halving, 3 rates x 2 seeds" in printed
    assert "mnist1d (3500 train / 500 validation / 1000 test)" in printed
    assert "wall time" in printed
    table = printed[printed.index("  #  strategy") :].splitlines()
    ranked_names = [line.split()[1] for line in table[2:4]]
    assert sorted(ranked_names) == ["adam", "constant"]
    assert "best" in table[2]

    summary = _read(out / "strategies.csv")
    assert tuple(summary[0]) == SUMMARY_COLUMNS
    # The tuned rate is reported on fresh seeds 2 and 3 (0 and 1 tuned it).
    assert sorted((r["strategy"], r["seed"]) for r in summary) == [
        ("adam", "2"), ("adam", "3"), ("constant", "2"), ("constant", "3"),
    ]  # fmt: skip
    chosen = {}
    for row in summary:
        assert (row["task"], row["model"], row["tuned"]) == ("mnist1d", "mlp(100, 100)", "1")  # fmt: skip
        for column in ("train_loss", "test_loss", "learning_rate"):
            assert math.isfinite(float(row[column])), column
        assert 0.2 < float(row["test_accuracy"]) <= 1.0
        assert 1 <= int(row["best_epoch"]) <= 9
        chosen[row["strategy"]] = float(row["learning_rate"])
    for (name,) in (("constant",), ("adam",)):
        (row,) = select([name])
        assert any(math.isclose(chosen[name], r, rel_tol=1e-5) for r in rate_grid(row.rate, 3))  # fmt: skip
    # The two seeds are different runs (initialisation and data order).
    for name in ("adam", "constant"):
        losses = {r["train_loss"] for r in summary if r["strategy"] == name}
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
    assert len(curves) == 2 * 2 * 9  # strategies x seeds x epochs
    assert all(math.isfinite(float(r["train_loss"])) for r in curves)
    rates = {float(r["learning_rate"]) for r in curves if r["strategy"] == "constant"}
    assert len(rates) == 1 and math.isclose(
        rates.pop(), chosen["constant"], rel_tol=1e-6
    )

    sweep = _read(out / "sweep.csv")
    assert tuple(sweep[0]) == SWEEP_COLUMNS
    assert len(sweep) == 2 * 3 * 2  # strategies x rates x tuning seeds
    assert {r["seed"] for r in sweep} == {"0", "1"}
    assert all(math.isfinite(float(r["val_accuracy"])) for r in sweep)
    for name in ("adam", "constant"):
        picked = {float(r["learning_rate"]) for r in sweep if r["strategy"] == name and r["chosen"] == "1"}  # fmt: skip
        assert len(picked) == 1 and math.isclose(
            picked.pop(), chosen[name], rel_tol=1e-5
        )

    png = (out / "strategies.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_same_command_twice_gives_the_same_results(quick_run, tmp_path):
    out, argv = quick_run
    if not (out / "strategies.csv").exists():
        assert main(argv) == 0
    first = _read(out / "strategies.csv")
    argv = [*argv[:-3], "--out", str(tmp_path), "--no-progress", "--no-plot"]
    assert main(argv) == 0
    second = _read(tmp_path / "strategies.csv")
    timing = {"compile_seconds", "run_seconds", "steps_per_second"}

    def strip(rows):
        return [{k: v for k, v in r.items() if k not in timing} for r in rows]

    assert strip(first) == strip(second)
    for name in ("strategies_curves.csv", "sweep.csv"):
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes()


def test_no_tune_on_the_digits_runs_the_hand_set_rate(tmp_path, capsys):
    pytest.importorskip("sklearn")
    argv = ["compare", "--task", "digits", "--no-tune", "--quick", "--epochs", "2",
            "--strategies", "constant", "--out", str(tmp_path), "--no-progress",
            "--no-plot"]  # fmt: skip
    assert main(argv) == 0
    assert "digits (1047 train / 300 validation / 450 test)" in capsys.readouterr().out
    rows = _read(tmp_path / "strategies.csv")
    assert [(r["seed"], r["tuned"], r["learning_rate"]) for r in rows] == [
        ("0", "0", "0.05"), ("1", "0", "0.05"),
    ]  # fmt: skip
    assert not (tmp_path / "sweep.csv").exists()


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
        (["--final-seeds", "0"], "--final-seeds must be >= 1, got 0"),
        (["--eta", "1"], "--eta must be >= 2, got 1"),
        (["--seeds", "-1"], "--seeds must be >= 1, got -1"),
        (["--batch-size", "5000"], "--batch-size must be at most 3500, got 5000"),
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
    # mean and sample std of (0.95, 0.97) in percent, its 95% Student-t
    # interval (t = 12.706 at 1 degree of freedom); 2 seeds x 4 steps / 2 s.
    assert "96.00 ± 1.41" in table[2] and "[83.29, 108.71]" in table[2]
    assert "best" in table[2].split() and "≈best" in table[3].split()
    assert "?" in table[4].split()  # a NaN seed: untestable
    assert table[2].split()[-2:] == ["4", "3.0"]
