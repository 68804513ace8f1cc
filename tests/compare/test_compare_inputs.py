"""compare()'s and ``lrjax compare``'s input checks (made before anything
trains), the seeds rows are reported on, and the table's and CSV's number
formats."""

import csv
import signal

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lrjax.cli import main
from lrjax.compare import (
    Curves,
    Strategy,
    StrategyResult,
    compare,
    format_table,
    select,
    write_csv,
)
from lrjax.compare.tuning import min_tuning_steps

X = jax.random.normal(jax.random.PRNGKey(0), (120, 4))
DATA = (X, jnp.sin(X @ jnp.arange(1.0, 5.0) / 4))


def _init(key):
    return {"w": jax.random.normal(key, (4, 8)) / 2, "v": jnp.zeros(8)}


def _mse(params, batch):
    return jnp.mean((jnp.tanh(batch[0] @ params["w"]) @ params["v"] - batch[1]) ** 2)


def _never(key):
    raise AssertionError("init_fn ran before the arguments were checked")


def _compare(init=_init, metric_fn=_mse, **kwargs):
    options = dict(strategies=["constant"], epochs=2, batch_size=20, seeds=2,
                   final_seeds=2, rate_points=3, method="grid", metric="mse",
                   higher_is_better=False, progress=False)  # fmt: skip
    return compare(init, _mse, DATA, DATA, DATA, metric_fn, **{**options, **kwargs})


SGD = Strategy("adam", "adaptive", 1e-2, lambda c, r: optax.sgd(r), "SGD named adam")


@pytest.mark.parametrize(
    "strategies",
    [[SGD, "adam"], ["adaptive", SGD], ["all", SGD], [SGD, SGD], ["cosine", SGD, SGD]],
)
def test_two_rows_of_one_name_are_an_error_before_anything_runs(strategies):
    with pytest.raises(ValueError, match="distinct names: 'adam' names two"):
        _compare(init=_never, strategies=strategies)


def test_plot_results_returns_for_two_rows_of_one_name(tmp_path):
    pytest.importorskip("matplotlib")
    from lrjax.compare import plot_results

    (adam,) = select(["adam"])
    mine = Strategy("adam", "adaptive", 1e-2, adam.tune, "same name")

    def result(row, accuracy):  # identical curves: the rows coincide
        curves = Curves(np.full((2, 3), 0.3), np.full((2, 3), 0.4),
                        np.full((2, 3), accuracy), np.full((2, 30), 0.01))  # fmt: skip
        return StrategyResult(row, curves, compile_seconds=1.0, run_seconds=0.5)

    def hung(*_):
        raise TimeoutError("plot_results did not return (a cycle in the figure)")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        path = plot_results([result(mine, 0.9), result(adam, 0.9)], str(tmp_path / "f.png"))  # fmt: skip
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG" and path.endswith(
        "f.png"
    )


@pytest.mark.parametrize(
    "method, epochs, batch_size, message",
    [
        # 1 x (120 // 120) = 1 step; PBT needs an exploit step before the end.
        ("pbt", 1, 120, r"= 1 step is too few .*method='pbt'.* at least 2 steps"),
        # 2 x (120 // 30) = 8 steps; 9 rates at eta 3: rungs at 1/9, 1/3, 1.
        ("halving", 2, 30, r"2 x \(120 // 30\) = 8 steps .*eta=3.* at least 9 steps"),
    ],
)
def test_a_budget_too_small_for_the_search_is_an_error(method, epochs, batch_size, message):  # fmt: skip
    with pytest.raises(ValueError, match=message):
        _compare(init=_never, method=method, epochs=epochs, batch_size=batch_size,
                 rate_points=9)  # fmt: skip


@pytest.mark.parametrize(
    "method, rates, eta, least",
    # halving: eta**K, K the smallest with eta**K >= rates, at most 2 rungs
    # before the last; pbt: 2; grid: 1.
    [("halving", 9, 3, 9), ("halving", 3, 3, 3), ("halving", 27, 3, 9),
     ("halving", 5, 2, 4), ("halving", 1, 3, 1), ("pbt", 9, 3, 2), ("grid", 9, 3, 1)],
)  # fmt: skip
def test_min_tuning_steps(method, rates, eta, least):
    assert min_tuning_steps(method, rates, eta) == least


@pytest.mark.parametrize(
    "options, error, message",
    [
        (dict(strategies=[]), ValueError, r"must name at least one row .*got \[\]"),
        (dict(seeds=2.0), TypeError, "seeds must be an integer >= 1, got 2.0"),
        (dict(epochs=-1), ValueError, "epochs must be an integer >= 1, got -1"),
        (dict(eta=1, method="halving"), ValueError, "eta must be an integer >= 2, got 1"),
        (dict(metric_fn=lambda p, d: d[1] ** 2), ValueError,
         r"metric_fn must return a scalar .*shape \(120,\)"),
    ],
)  # fmt: skip
def test_bad_arguments_name_what_the_user_passed(options, error, message):
    init = _init if "metric_fn" in options else _never
    with pytest.raises(error, match=message):
        _compare(init=init, **options)


def test_numpy_integers_are_counts_and_one_final_seed_warns():
    with pytest.warns(UserWarning, match="final_seeds=1 .* no spread"):
        (result,) = _compare(seeds=np.int64(2), final_seeds=np.int64(1),
                             epochs=np.int32(2), batch_size=np.int64(20), rate_points=1)  # fmt: skip
    assert result.seed_list == (2,)  # the fresh seed after tuning seeds 0, 1
    assert result.curves.test_accuracy.shape == (1, 2)  # (seeds, epochs)
    assert result.curves.learning_rate.shape == (1, 12)  # 2 epochs of 6 steps


def test_range_test_row_runs_on_the_fresh_seeds_whatever_else_is_selected():
    alone = _compare(strategies=["range-test"])
    (_, beside) = _compare(strategies=["constant", "range-test"])
    (alone,) = alone
    assert beside.strategy.name == "range-test"
    assert alone.seed_list == beside.seed_list == (2, 3)  # after tuning seeds 0, 1
    assert not alone.tuned and alone.rate == beside.rate
    for got, want in zip(alone.curves, beside.curves, strict=True):
        np.testing.assert_array_equal(got, want)


def _result(row, values, metric="mse"):
    values = np.asarray(values, np.float64)[:, None]
    curves = Curves(np.full_like(values, 0.01), np.full_like(values, 0.01), values,
                    np.full((values.shape[0], 10), row.rate))  # fmt: skip
    return StrategyResult(row, curves, 1.0, 0.5, rate=row.rate, metric=metric,
                          higher_is_better=False)  # fmt: skip


def test_table_gives_small_metrics_three_significant_digits():
    cosine, adam = select(["cosine", "adam"])
    table = format_table([
        _result(cosine, [0.0049, 0.0051, 0.0050]),
        _result(adam, [0.0121, 0.0125, 0.0123]),
    ]).splitlines()  # fmt: skip
    # Means 0.005 and 0.0123, sample stds 0.0001 and 0.0002; intervals
    # mean ± t(0.975, 2) std / sqrt(3), t = 4.3027: ± 0.000248 and ± 0.000497.
    # Five decimals for the whole column: 3 significant digits of 0.005.
    assert "0.00500 ± 0.00010" in table[2] and "[0.00475, 0.00525]" in table[2]
    assert "0.01230 ± 0.00020" in table[3] and "[0.01180, 0.01280]" in table[3]
    assert table[0].index("test mse") + len("test mse") <= len(table[0])


def test_csv_writes_rates_at_full_precision(tmp_path):
    (cosine,) = select(["cosine"])
    rate = 0.1 * 10**-1.5  # 0.0031622776601683794: 6 digits would lose it
    row = Strategy("cosine", "decay", rate, cosine.tune, "a rate of many digits")
    write_csv([_result(row, [0.01, 0.02])], str(tmp_path))
    with open(tmp_path / "strategies.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["learning_rate"]) for r in rows] == [rate, rate]
    assert "tuned" in rows[0]


def _cli(capsys, *argv):
    pytest.importorskip("sklearn")
    code = main(["compare", "--task", "digits", "--strategies", "constant",
                 "--no-progress", "--no-plot", *argv])  # fmt: skip
    return code, capsys.readouterr()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--method", "pbt"], "= 1 step, too few for --method pbt with --rates 9: "
         "it needs at least 2 steps"),
        (["--rates", "9"], "= 1 step, too few for --method halving with --rates 9 at "
         "--eta 3: it needs at least 9 steps"),
    ],
)  # fmt: skip
def test_cli_budget_too_small_exits_2_naming_the_options(argv, message, capsys):
    code, out = _cli(capsys, "--epochs", "1", "--batch-size", "1047", *argv)
    assert code == 2
    assert "lrjax: error: --epochs 1 x (1047 training examples // --batch-size 1047)" in out.err  # fmt: skip
    assert message in out.err and "Traceback" not in out.err


def test_cli_final_seeds_with_no_tune_is_an_error(capsys):
    code, out = _cli(capsys, "--no-tune", "--final-seeds", "2")
    assert code == 2 and "--final-seeds 2 has no effect with --no-tune" in out.err


def test_cli_header_says_nothing_is_tuned_for_range_test_alone(tmp_path, capsys):
    code, out = _cli(capsys, "--strategies", "range-test", "--epochs", "1",
                     "--seeds", "2", "--final-seeds", "2", "--out", str(tmp_path))  # fmt: skip
    assert code == 0
    assert "no rate tuned (each row picks its own), 2 seeds from seed 2" in out.out
    assert "rates tuned" not in out.out
    with open(tmp_path / "strategies.csv", newline="") as f:
        assert [(r["seed"], r["tuned"]) for r in csv.DictReader(f)] == [("2", "0"), ("3", "0")]  # fmt: skip
