"""Choosing each strategy's rate from its population, and reporting it.

:func:`choose` picks the best mean over seeds (grid, halving);
:func:`choose_pbt` follows the best final member's lineage back to its initial
rate (PBT). Either may find no rate: every candidate's metric is NaN or
infinite, and the choice is then ``None`` (undefined), not a guess.
:func:`strategy_runs` reshapes a search's :class:`~lrjax.tune.search.Outcome`
to ``[rate, seed, ...]``, chooses, re-runs the choice on fresh seeds and
returns the :class:`~lrjax.tune.result.StrategyRuns`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from lrjax.tune.population import Engine, Seeds
from lrjax.tune.result import StrategyRuns
from lrjax.tune.search import Outcome, run_grid

__all__ = ["choose", "choose_pbt", "last_metric", "strategy_runs"]


def last_metric(outcome: Outcome, metric: str) -> np.ndarray:
    """Each member's metric at its last evaluation."""
    cols = np.searchsorted(outcome.eval_steps, outcome.steps_trained, side="right") - 1
    values = outcome.metrics[metric]
    return values[np.arange(len(values)), cols].astype(np.float64)


def choose(final: np.ndarray, full: np.ndarray, higher_is_better: bool) -> int | None:
    """Best mean over seeds (``final`` is ``(R, S)``) among the rates whose
    members trained the budget (``full``) and whose mean is finite; ``None``
    when there is none."""
    mean = np.mean(-final if higher_is_better else final, axis=1)
    ok = np.asarray(full, bool) & np.isfinite(mean)
    if not ok.any():
        return None
    return int(np.argmin(np.where(ok, mean, np.inf)))


def choose_pbt(
    final: np.ndarray, lineage: np.ndarray, higher_is_better: bool
) -> int | None:
    """PBT: the initial rate (row) of the lineage of the best final member,
    among the members with a finite metric; ``None`` when there is none.

    ``final`` and ``lineage`` are ``(R, S)``; ``lineage`` holds the initial
    member ``r * S + s`` each member descends from.
    """
    scores = np.ravel(-final if higher_is_better else final)
    ok = np.isfinite(scores)
    if not ok.any():
        return None
    best = int(np.argmin(np.where(ok, scores, np.inf)))
    return int(np.ravel(lineage)[best]) // final.shape[1]


def strategy_runs(
    name: str,
    engine: Engine,
    outcome: Outcome,
    rates: np.ndarray,
    seeds: np.ndarray,
    final_seeds: np.ndarray | None,
    fresh_seeds: Seeds | None,
    steps: int,
    points: Sequence[int],
    metric_names: Sequence[str],
    metric: str,
    higher_is_better: bool,
    *,
    rungs: Sequence[int] | None = None,
    records_rate: bool = True,
) -> StrategyRuns:
    """Reshapes an outcome to ``[rate, seed, ...]``, chooses, and re-runs.

    With no rate to choose (every candidate's metric is not finite) it warns,
    naming the strategy, and skips the re-run on ``final_seeds``.
    """
    r, s = len(rates), len(seeds)
    shape = lambda x: x.reshape(r, s, *x.shape[1:])
    final = shape(last_metric(outcome, metric))
    trained = shape(outcome.steps_trained)
    lineage = None
    if outcome.lineage is None:
        chosen = choose(final, np.all(trained == steps, axis=1), higher_is_better)
    else:
        lineage = shape(np.asarray(outcome.lineage, np.int64))
        chosen = choose_pbt(final, lineage, higher_is_better)
    final_metrics = None
    if chosen is None:
        warnings.warn(
            f"sweep: strategy {name!r}: every rate's {metric} is NaN or infinite "
            f"at the end of the budget (rates {np.asarray(rates).tolist()}), so no "
            "rate is chosen (chosen=None, chosen_rate=nan) and final_seeds are "
            "not run: lower the rates, or check the model and data.",
            RuntimeWarning,
            stacklevel=3,
        )
        final_seeds = None
    elif final_seeds is not None:
        again = run_grid(engine, rates[chosen : chosen + 1], fresh_seeds, steps, points)
        final_metrics = {k: again.metrics[k][:, -1].copy() for k in metric_names}
    return StrategyRuns(
        name=name,
        rates=np.asarray(rates, np.float64),
        seeds=np.asarray(seeds, np.int64),
        train_loss=shape(outcome.train_loss),
        learning_rate=shape(outcome.learning_rate),
        eval_steps=outcome.eval_steps,
        eval_metrics={k: shape(outcome.metrics[k]) for k in metric_names},
        final_metric=final,
        steps_trained=trained,
        chosen=chosen,
        final_seeds=final_seeds,
        final_metrics=final_metrics,
        compilations=engine.counter[0],
        compile_seconds=engine.compile_seconds,
        run_seconds=engine.run_seconds,
        member_steps=int(outcome.steps_trained.sum()),
        lineage=lineage,
        rungs=None if rungs is None else np.asarray(rungs, np.int64),
        records_rate=records_rate,
    )
