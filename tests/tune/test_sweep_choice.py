"""What the sweep chooses when nothing is finite, and how it shows a rate it
cannot read (a plain optax optimizer's schedule)."""

import csv

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sweep_problem import BATCH, DATA, ONE, init, loss_fn

import lrjax
from lrjax.tune.selection import choose, choose_pbt

NAN = float("nan")


@pytest.mark.parametrize(
    "final, full, higher, expected",
    [
        ([[NAN, 1.0], [2.0, 2.0], [3.0, 3.0]], [True, True, True], False, 1),
        ([[1.0, 1.0], [0.5, 0.5]], [True, False], False, 0),  # row 1 stopped
        ([[0.2, 0.4], [0.9, 0.8]], [True, True], True, 1),  # maximised
        ([[np.inf, 1.0], [2.0, 2.0]], [True, True], False, 1),
        ([[NAN, NAN], [NAN, 1.0]], [True, True], False, None),
        ([[1.0, 1.0], [NAN, NAN]], [False, True], False, None),
    ],
)
def test_choose_takes_the_best_finite_mean_of_the_full_rates(
    final, full, higher, expected
):
    assert choose(np.array(final), np.array(full), higher) == expected


def test_choose_pbt_follows_the_best_finite_member_to_its_initial_rate():
    final = np.array([[NAN, 0.3], [0.1, 0.5]])  # members 0..3 = r * 2 + s
    lineage = np.array([[0, 1], [1, 3]])  # member 2 (the best) descends from 1
    assert choose_pbt(final, lineage, False) == 0  # member 1 is rate row 0
    assert choose_pbt(final, lineage, True) == 1  # 0.5: member 3, itself
    assert choose_pbt(np.full((2, 2), NAN), lineage, False) is None


def test_every_member_nan_warns_and_chooses_no_rate(tmp_path):
    with pytest.warns(
        RuntimeWarning, match=r"strategy 'sgd': every rate's loss is NaN"
    ):
        result = lrjax.sweep(
            init, lambda p, b: loss_fn(p, b) * jnp.nan, DATA, batch_size=BATCH,
            steps=4, strategies={"sgd": lrjax.sgd}, rates=[0.01, 0.1], seeds=2,
            final_seeds=1, devices=ONE, progress=False,
        )  # fmt: skip
    runs = result.strategies["sgd"]
    assert runs.chosen is None and np.isnan(runs.chosen_rate)
    assert runs.final_seeds is None and runs.final_metrics is None
    assert runs.compilations == 1  # no re-run on the final seeds
    table = result.table()
    row = table.splitlines()[2].split()
    assert row[:3] == ["1", "sgd", "none"]
    assert "none: no rate chosen for sgd" in table and "↓" not in table
    members, _, summary = result.to_csv(str(tmp_path))
    with open(members) as f:
        rows = list(csv.DictReader(f))
    assert [r["phase"] for r in rows] == ["sweep"] * 4
    assert all(r["chosen"] == "0" for r in rows)
    with open(summary) as f:
        (line,) = list(csv.DictReader(f))
    assert line["values"] == "none (no rate chosen)" and line["chosen_rate"] == "nan"
    assert line["n"] == "0"
    figure = result.plot()
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "sgd (no rate chosen)" in labels


def test_a_state_without_a_rate_is_marked_in_the_plot_and_csv(tmp_path):
    """optax.sgd with a schedule keeps its schedule in a step count: the sweep
    records the base rate, and says so."""
    result = lrjax.sweep(
        init, loss_fn, DATA, batch_size=BATCH, steps=6, eval_every=3,
        strategies={
            "optax-cosine": lambda lr: optax.sgd(optax.cosine_decay_schedule(lr, 6)),
            "lrjax-cosine": lambda lr: lrjax.sgd(lrjax.cosine_decay_schedule(lr, 6)),
        },
        rates=[0.1], seeds=1, devices=ONE, progress=False,
    )  # fmt: skip
    plain, own = result.strategies["optax-cosine"], result.strategies["lrjax-cosine"]
    assert not plain.records_rate and own.records_rate
    np.testing.assert_allclose(plain.learning_rate[0, 0], 0.1)  # flat: the base
    # lrjax's records the cosine: 0.1 * (1 + cos(pi * t / 6)) / 2 at step t
    t = np.arange(6)
    np.testing.assert_allclose(
        own.learning_rate[0, 0], 0.05 * (1 + np.cos(np.pi * t / 6)), rtol=1e-5
    )
    figure = result.plot()
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert (
        "optax-cosine (rate 0.1); (c): base rate, the state records no schedule"
        in labels
    )
    assert "lrjax-cosine (rate 0.1)" in labels
    rate_ax = figure.axes[2]
    styles = sorted(line.get_linestyle() for line in rate_ax.get_lines())
    assert styles == ["-", ":"]
    summary = result.to_csv(str(tmp_path))[2]
    with open(summary) as f:
        recorded = {
            r["strategy"]: r["learning_rate_recorded"] for r in csv.DictReader(f)
        }
    assert recorded == {"optax-cosine": "0", "lrjax-cosine": "1"}
