"""Successive halving and PBT against references built from what they record.

Halving: the rates kept at each rung are the top ``ceil(n / eta)`` by the
recorded mean metric over seeds, and a survivor's curve is the uninterrupted
run's (it continues from its saved state). PBT: after each exploit step the
rates and losses show who copied whom with which factor, as drawn from
``fold_in(PRNGKey(0), step)``.
"""

import math

import jax
import numpy as np
import optax
import pytest
from sweep_problem import BATCH, DATA, ONE, init, loss_fn

import lrjax
from lrjax.tune.stats import summarised_values

RATES = list(np.logspace(-3, -0.5, 9))


def test_halving_keeps_the_top_third_and_continues_from_saved_state():
    kwargs = dict(
        batch_size=BATCH, steps=27, eval_every=3, strategies={"adam": lrjax.adam},
        rates=RATES, seeds=2, devices=ONE, progress=False,
    )  # fmt: skip
    halving = lrjax.sweep(init, loss_fn, DATA, method="halving", eta=3, **kwargs)
    runs = halving.strategies["adam"]
    # 9 rates, eta 3: K = 2, rungs at 27 // 9, 27 // 3 and 27.
    assert runs.compilations == 3  # one per rung
    steps = runs.eval_steps.tolist()
    active = np.arange(9)
    for rung, stop in ((3, 9), (9, 27)):
        mean = runs.eval_metrics["loss"][active, :, steps.index(rung)].mean(axis=1)
        keep = active[np.argsort(mean, kind="stable")[: math.ceil(len(active) / 3)]]
        assert np.all(runs.steps_trained[keep] >= stop)
        dropped = np.setdiff1d(active, keep)
        np.testing.assert_array_equal(runs.steps_trained[dropped], rung)
        active = np.sort(keep)
    assert len(active) == 1 and runs.chosen == active[0]
    assert runs.member_steps == 2 * (9 * 3 + 3 * 6 + 1 * 18)

    grid = lrjax.sweep(init, loss_fn, DATA, **kwargs).strategies["adam"]
    for r in range(9):
        stop = runs.steps_trained[r, 0]
        assert np.all(runs.steps_trained[r] == stop)  # seeds move together
        np.testing.assert_allclose(
            runs.train_loss[r, :, :stop], grid.train_loss[r, :, :stop], rtol=2e-5
        )
        np.testing.assert_allclose(
            runs.learning_rate[r, :, :stop], grid.learning_rate[r, :, :stop]
        )
        assert np.all(np.isnan(runs.train_loss[r, :, stop:]))
        seen = runs.eval_steps <= stop
        np.testing.assert_allclose(
            runs.eval_metrics["loss"][r][:, seen],
            grid.eval_metrics["loss"][r][:, seen],
            rtol=2e-5,
        )
        assert np.all(np.isnan(runs.eval_metrics["loss"][r][:, ~seen]))
    np.testing.assert_allclose(
        runs.final_metric[active[0]], grid.final_metric[active[0]], rtol=2e-5
    )


def test_pbt_exploit_and_explore_equal_a_reference_with_the_same_key():
    """Full-batch data, so a copy's next loss equals its donor's."""
    rates, seeds = [0.01, 0.05, 0.2, 0.6], [0, 1]
    result = lrjax.sweep(
        init, loss_fn, batch_fn=lambda key, step: DATA, eval_data=DATA, steps=15,
        eval_every=5, method="pbt", pbt_interval=5, strategies={"sgd": lrjax.sgd},
        rates=rates, seeds=seeds, devices=ONE, progress=False,
    )  # fmt: skip
    runs = result.strategies["sgd"]
    assert runs.compilations == 1
    np.testing.assert_array_equal(runs.eval_steps, [5, 10, 15])
    # member r * S + s, as the population is laid out
    lr = runs.learning_rate.reshape(8, 15)
    loss = runs.train_loss.reshape(8, 15)
    metric = runs.eval_metrics["loss"].reshape(8, 3)
    np.testing.assert_allclose(lr[:, 0], np.repeat(rates, 2), rtol=1e-6)
    lineage = np.arange(8)
    copies = 0
    for col, t in ((0, 5), (1, 10)):
        order = np.argsort(metric[:, col], kind="stable")
        best, worst = order[:2], order[-2:]  # a quarter of 8
        donor_key, factor_key = jax.random.split(
            jax.random.fold_in(jax.random.PRNGKey(0), t)
        )
        donors = best[np.asarray(jax.random.randint(donor_key, (2,), 0, 2))]
        up = np.asarray(jax.random.bernoulli(factor_key, 0.5, (2,)))
        expected = lr[:, t - 1].copy()
        expected[worst] = lr[donors, t - 1] * np.where(up, 1.25, 0.8)
        np.testing.assert_allclose(lr[:, t], expected, rtol=1e-6)
        # parameters (and momentum-free state) copied: the same next loss
        np.testing.assert_allclose(loss[worst, t], loss[donors, t], rtol=1e-6)
        lineage[worst] = lineage[donors]
        copies += len(worst)
    assert copies == 4
    best_final = int(np.argmin(metric[:, -1]))
    assert runs.chosen == lineage[best_final] // 2
    assert runs.member_steps == 8 * 15
    np.testing.assert_array_equal(runs.lineage, lineage.reshape(4, 2))
    # The values reported: the final metric of every member descended from
    # the chosen initial rate, the best final member among them.
    mine = lineage // 2 == runs.chosen
    assert mine[best_final]
    expected = metric[mine, -1].astype(np.float64)
    values, fresh = summarised_values(runs, "loss")
    assert not fresh
    np.testing.assert_allclose(np.sort(values), np.sort(expected), rtol=1e-6)
    table = result.table()
    row = table.splitlines()[2]
    assert f"{expected.mean():.4g} ± " in row and f"  {mine.sum()}  " in row
    assert "members descended from the chosen initial rate" in table


def test_halving_strategy_results_do_not_depend_on_the_other_strategies():
    """A plateau strategy's controller decides at its own evaluations only:
    3 rates (rungs 9, 27) give the same run alone and beside 9 Adam rates
    (rungs 3, 9, 27)."""

    def plateau(lr):
        return optax.chain(
            lrjax.sgd(lr, momentum=0.9), lrjax.reduce_on_plateau(0.5, patience=0)
        )

    kwargs = dict(
        batch_size=BATCH, steps=27, eval_every=9, seeds=2, method="halving",
        devices=ONE, progress=False,
    )  # fmt: skip
    plateau_rates = [0.03, 0.3, 1.0]
    alone = lrjax.sweep(
        init, loss_fn, DATA, strategies={"plateau": plateau},
        rates={"plateau": plateau_rates}, **kwargs,
    ).strategies["plateau"]  # fmt: skip
    both = lrjax.sweep(
        init, loss_fn, DATA, strategies={"adam": lrjax.adam, "plateau": plateau},
        rates={"plateau": plateau_rates, "adam": RATES}, **kwargs,
    )  # fmt: skip
    together = both.strategies["plateau"]
    # multiples of eval_every, and each strategy's own rungs
    assert alone.eval_steps.tolist() == [9, 18, 27]
    assert together.eval_steps.tolist() == [9, 18, 27]
    assert both.strategies["adam"].eval_steps.tolist() == [3, 9, 18, 27]
    assert alone.rungs.tolist() == together.rungs.tolist() == [9, 27]
    for field in ("train_loss", "learning_rate", "final_metric", "steps_trained"):
        np.testing.assert_array_equal(getattr(alone, field), getattr(together, field))
    np.testing.assert_array_equal(
        alone.eval_metrics["loss"], together.eval_metrics["loss"]
    )
    assert alone.chosen == together.chosen
    assert alone.member_steps == together.member_steps == 2 * (3 * 9 + 1 * 18)


def test_halving_with_a_single_rung_warns_and_says_so_in_the_table():
    """3 rates, eta 3, 27 steps: the first rung would be 27 // 3 = 9 steps,
    under min_steps=10, so the only rung is the budget: a grid."""
    with pytest.warns(
        UserWarning,
        match=r"single rung \[27\] for 'adam'.*min_steps to at most steps // eta = 9",
    ):
        result = lrjax.sweep(
            init, loss_fn, DATA, batch_size=BATCH, steps=27, eval_every=9,
            method="halving", min_steps=10, strategies={"adam": lrjax.adam},
            rates=[0.01, 0.03, 0.1], seeds=1, devices=ONE, progress=False,
        )  # fmt: skip
    runs = result.strategies["adam"]
    assert runs.rungs.tolist() == [27]
    np.testing.assert_array_equal(runs.steps_trained, 27)
    assert "halving had a single rung (the whole budget) for adam" in result.table()


@pytest.mark.slow
def test_halving_with_final_seeds_and_higher_is_better():
    """Ranked by a maximised metric; the winner re-run on fresh seeds."""
    runs = lrjax.sweep(
        init, loss_fn, DATA, batch_size=BATCH, steps=8, eval_every=4,
        eval_fn=lambda p, d: {"score": -loss_fn(p, d)}, higher_is_better=True,
        method="halving", eta=2, strategies={"sgd": lrjax.sgd},
        rates=[0.01, 0.1, 0.5], seeds=2, final_seeds=[10], devices=ONE,
        progress=False,
    ).strategies["sgd"]  # fmt: skip
    # 3 rates, eta 2: K = 2, rungs at 2, 4 and 8.
    assert runs.eval_steps.tolist() == [2, 4, 8]
    first = runs.eval_metrics["score"][:, :, 0].mean(axis=1)
    kept = np.sort(np.argsort(-first, kind="stable")[:2])
    assert np.all(runs.steps_trained[kept] >= 4)
    assert runs.final_metrics["score"].shape == (1,)
    assert runs.compilations == 4  # three rungs, one re-run


@pytest.mark.parametrize(
    "steps, eta, num_rates, min_steps, expected",
    [
        (1000, 3, 16, None, [111, 333, 1000]),  # default first rung steps // 9
        (1000, 3, 16, 1, [37, 111, 333, 1000]),  # K = 3: 27 >= 16, one left
        (1000, 3, 16, 112, [333, 1000]),
        (1000, 3, 16, 1000, [1000]),  # no stop before the end: the grid
        (8, 3, 9, None, [2, 8]),  # 8 // 9 = 0 steps: one rung fewer
        (27, 3, 9, None, [3, 9, 27]),
        (1000, 2, 16, None, [250, 500, 1000]),
    ],
)
def test_rung_steps(steps, eta, num_rates, min_steps, expected):
    from lrjax.tune.search import rung_steps

    assert rung_steps(steps, eta, num_rates, min_steps) == expected


def test_halving_with_a_short_budget_compares_the_survivors_at_the_end():
    """8 steps, 9 rates, eta 3: rungs at 2 and 8; the 3 survivors train the
    whole budget and the best of them at the end is chosen."""
    runs = lrjax.sweep(
        init, loss_fn, DATA, batch_size=BATCH, steps=8, eval_every=2,
        method="halving", strategies={"adam": lrjax.adam}, rates=RATES,
        seeds=2, devices=ONE, progress=False,
    ).strategies["adam"]  # fmt: skip
    assert runs.compilations == 2
    first = runs.eval_metrics["loss"][:, :, 0].mean(axis=1)
    kept = np.sort(np.argsort(first, kind="stable")[:3])
    np.testing.assert_array_equal(np.flatnonzero(runs.steps_trained[:, 0] == 8), kept)
    final = runs.final_metric[kept].mean(axis=1)
    assert runs.chosen == kept[np.argmin(final)]
    assert runs.member_steps == 2 * (9 * 2 + 3 * 6)
