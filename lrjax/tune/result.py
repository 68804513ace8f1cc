"""What :func:`lrjax.sweep` returns: every member's curves, per strategy.

Arrays are NumPy, indexed ``[rate, seed, ...]``; a member is one (rate,
seed) pair. Entries a member never reached (a rate stopped by successive
halving) are NaN, so means over seeds and plots skip them with ``nanmean``.
The table, CSV and plot live in :mod:`lrjax.tune.report`, imported when first
used.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["StrategyRuns", "SweepResult"]


@dataclasses.dataclass(frozen=True)
class StrategyRuns:
    """One strategy's population: ``R`` rates x ``S`` seeds, ``T`` steps.

    Attributes:
      name: the strategy's name.
      rates: ``(R,)`` float64, the initial (peak) rates tried. Under PBT the
        members' rates change: ``learning_rate`` shows the schedules found.
      seeds: ``(S,)`` int64; seed ``s`` draws the initial weights and the
        order of the batches (``jax.random.PRNGKey(s)``), the same for every
        rate and strategy.
      train_loss: ``(R, S, T)`` float32 minibatch loss at each step, NaN
        after a member stopped.
      learning_rate: ``(R, S, T)`` float32 rate each step applied
        (:func:`lrjax.get_learning_rate` of the state after the step), NaN
        after a stop. When the state records no rate (``records_rate`` is
        False: a plain optax optimizer, whose schedule lives in a step count)
        it is the member's base rate, flat: not the rate applied.
      eval_steps: ``(E,)`` int64 steps trained when each evaluation ran.
      eval_metrics: name -> ``(R, S, E)`` float32, NaN where the member was
        not evaluated.
      final_metric: ``(R, S)`` float64 selection metric at each member's last
        evaluation.
      steps_trained: ``(R, S)`` int64.
      chosen: index into ``rates`` of the chosen rate: the best finite mean
        over seeds of ``final_metric`` among rates whose members trained the
        whole budget (under PBT: the initial rate of the lineage of the member
        that ended best, the lineage passing to a member with every copy), or
        ``None`` when no rate has a finite metric (every member diverged): no
        rate is chosen and ``final_seeds`` are not run.
      final_seeds: ``(F,)`` fresh seeds the chosen rate was re-run on, or
        ``None``.
      final_metrics: name -> ``(F,)`` the re-runs' metrics at the end of the
        budget (not the numbers the rate was selected on), or ``None``.
      compilations: functions traced and compiled for this strategy (the
        re-run included).
      compile_seconds: time spent tracing and compiling.
      run_seconds: time spent running the compiled functions.
      member_steps: sum of ``steps_trained`` (re-runs excluded).
      lineage: PBT only (else ``None``): ``(R, S)`` int64, the initial member
        ``r * S + s`` whose rate each member descends from at the end (a
        member copied into another passes its lineage on). The chosen rate's
        values (the table's, :func:`lrjax.tune.stats.summarised_values`) are
        the final metrics of the members with ``lineage // S == chosen``: the
        best final member and every other descendant of its initial rate.
      rungs: halving only (else ``None``): ``(K,)`` int64, the steps at which
        the rates were ranked and cut (the last is the budget; a single rung
        means every rate trained the whole budget, as a grid).
      records_rate: whether the optimizer state records the applied rate
        (see ``learning_rate``); False for plain optax optimizers.

    Examples:
        The population of :func:`lrjax.sweep`'s example: SGD fitting ``w`` in
        ``y = 3 x`` at two rates, two seeds each, 20 steps:

        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> x = jnp.linspace(-1.0, 1.0, 16)
        >>> loss = lambda w, batch: jnp.mean((w * batch[0] - batch[1]) ** 2)
        >>> result = lrjax.sweep(
        ...     lambda key: jnp.zeros(()), loss, (x, 3.0 * x), steps=20,
        ...     strategies={"sgd": lrjax.sgd}, batch_size=4, rates=[0.01, 0.5],
        ...     seeds=2, progress=False)
        >>> runs = result.strategies["sgd"]
        >>> runs.rates, runs.seeds
        (array([0.01, 0.5 ]), array([0, 1]))
        >>> runs.train_loss.shape  # (rates, seeds, steps)
        (2, 2, 20)
        >>> runs.eval_steps  # every max(1, steps // 10) = 2 steps
        array([ 2,  4,  6,  8, 10, 12, 14, 16, 18, 20])
        >>> runs.final_metric.round(2)  # the loss on all the data, per member
        array([[2.51, 2.51],
               [0.  , 0.  ]])
        >>> runs.chosen, runs.chosen_rate  # the best mean over the seeds
        (1, 0.5)
    """

    name: str
    rates: np.ndarray
    seeds: np.ndarray
    train_loss: np.ndarray
    learning_rate: np.ndarray
    eval_steps: np.ndarray
    eval_metrics: dict[str, np.ndarray]
    final_metric: np.ndarray
    steps_trained: np.ndarray
    chosen: int | None
    final_seeds: np.ndarray | None
    final_metrics: dict[str, np.ndarray] | None
    compilations: int
    compile_seconds: float
    run_seconds: float
    member_steps: int
    lineage: np.ndarray | None = None
    rungs: np.ndarray | None = None
    records_rate: bool = True

    @property
    def chosen_rate(self) -> float:
        """The chosen (initial) rate, ``rates[chosen]``; NaN when none is chosen."""
        if self.chosen is None:
            return float("nan")
        return float(self.rates[self.chosen])


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Every strategy's :class:`StrategyRuns`, in the order given.

    Attributes:
      strategies: name -> :class:`StrategyRuns`.
      metric: the name of the selection metric.
      higher_is_better: whether the metric is maximised.
      method: ``"grid"``, ``"halving"`` or ``"pbt"``.
      budget: steps per member (the whole budget).

    Examples:
        The result of :func:`lrjax.sweep`'s example (SGD fitting ``w`` in
        ``y = 3 x`` at two rates, two seeds each), and its table:

        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> x = jnp.linspace(-1.0, 1.0, 16)
        >>> loss = lambda w, batch: jnp.mean((w * batch[0] - batch[1]) ** 2)
        >>> result = lrjax.sweep(
        ...     lambda key: jnp.zeros(()), loss, (x, 3.0 * x), steps=20,
        ...     strategies={"sgd": lrjax.sgd}, batch_size=4, rates=[0.01, 0.5],
        ...     seeds=2, progress=False)
        >>> list(result.strategies), result.metric, result.method, result.budget
        (['sgd'], 'loss', 'grid', 20)
        >>> result.strategies["sgd"].chosen_rate
        0.5
        >>> print(result.table())  # values, timings and notes elided
        #  strategy  rate  loss mean ± std ...
        ----...
        1  sgd ...
        method: grid; budget: 20 steps per member; loss: lower is better...
    """

    strategies: dict[str, StrategyRuns]
    metric: str
    higher_is_better: bool
    method: str
    budget: int

    def table(self) -> str:
        """A text table of the strategies and their chosen rates."""
        from lrjax.tune.report import table

        return table(self)

    def to_csv(self, directory: str) -> list[str]:
        """Writes the result as CSV files in ``directory``; returns their paths."""
        from lrjax.tune.report import to_csv

        return to_csv(self, directory)

    def plot(self, path: str | None = None) -> Any:
        """Plots the sweep (and saves it to ``path`` when given)."""
        from lrjax.tune.report import plot

        return plot(self, path)
