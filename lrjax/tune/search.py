"""How a population spends its budget: a grid, successive halving, or PBT.

Each search trains one strategy's members (``R`` rates x ``S`` seeds, member
``r * S + s``) through an :class:`~lrjax.tune.population.Engine` and fills a
:class:`Outcome` of full-length arrays, NaN where a member did not train.

* :func:`run_grid`: every member trains the whole budget; one compilation.
* :func:`run_halving`: synchronous successive halving (SHA, as in Li et
  al., 2020, "A System for Massively Parallel Hyperparameter Tuning", whose
  ASHA is its asynchronous form; Jamieson and Talwalkar, 2016): rungs at ``steps // eta**(K - i)``; at each rung the rates whose mean
  metric over seeds ranks in the top ``ceil(n / eta)`` continue from their
  saved parameters and optimizer states. Each rung compiles once (its
  population size and length differ from the others').
* :func:`run_pbt`: population based training (Jaderberg et al., 2017) inside
  the compiled scan; one compilation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lrjax.tune.population import Engine, Member, Seeds, fresh_inputs, tree_take

__all__ = [
    "Outcome",
    "PBT_FACTORS",
    "PBT_FRACTION",
    "PBT_SEED",
    "eval_points",
    "pbt_exploit",
    "pbt_plan",
    "periods",
    "rung_steps",
    "run_grid",
    "run_halving",
    "run_pbt",
]

# PBT's draws (donors, perturbations) come from PRNGKey(PBT_SEED) folded with
# the step: the same on every run.
PBT_SEED = 0
# PBT's truncation selection: the worst 1/4 copies the best 1/4, and its
# rate is multiplied by one of these factors (Jaderberg et al.'s explore).
PBT_FRACTION = 4
PBT_FACTORS = (0.8, 1.25)


@dataclasses.dataclass
class Outcome:
    """Full-length records of ``P = R * S`` members (member ``r * S + s``)."""

    train_loss: np.ndarray  # (P, T)
    learning_rate: np.ndarray  # (P, T)
    eval_steps: np.ndarray  # (E,)
    metrics: dict[str, np.ndarray]  # name -> (P, E)
    steps_trained: np.ndarray  # (P,)
    lineage: np.ndarray | None = None  # (P,) PBT: whose initial rate each descends from

    @classmethod
    def empty(cls, members: int, steps: int, points: Sequence[int], names) -> Outcome:
        nan = lambda *shape: np.full(shape, np.nan, np.float32)
        return cls(
            nan(members, steps),
            nan(members, steps),
            np.asarray(points, np.int64),
            {k: nan(members, len(points)) for k in names},
            np.zeros(members, np.int64),
        )

    def write(self, rows, start: int, stop: int, records) -> None:
        """Stores ``records`` of members ``rows`` trained from ``start`` to ``stop``."""
        rows = np.asarray(rows)
        self.train_loss[rows, start:stop] = records.train_loss
        self.learning_rate[rows, start:stop] = records.learning_rate
        cols = np.flatnonzero((self.eval_steps > start) & (self.eval_steps <= stop))
        for k, v in records.metrics.items():
            self.metrics[k][rows[:, None], cols[None, :]] = v
        self.steps_trained[rows] = stop


def eval_points(steps: int, every: int, extra: Sequence[int] = ()) -> list[int]:
    """Evaluation steps: multiples of ``every``, ``steps`` and ``extra``."""
    points = set(range(every, steps + 1, every)) | {steps} | set(extra)
    return sorted(p for p in points if 0 < p <= steps)


def periods(points: Sequence[int], start: int, stop: int) -> list[int]:
    """Lengths of the periods that end at the points in ``(start, stop]``."""
    inside = [p for p in points if start < p <= stop]
    return list(np.diff([start, *inside]).tolist())


def rung_steps(
    steps: int, eta: int, num_rates: int, min_steps: int | None = None
) -> list[int]:
    """Successive halving's rungs: ``steps // eta**(K - i)``, ``i = 0..K``.

    ``K`` is the smallest integer with ``eta**K >= num_rates`` (the last rung
    trains a single rate), lowered until the first rung trains at least
    ``min_steps`` (default ``max(1, steps // eta**2)``); the final rung may
    then compare a few rates at the whole budget. The rungs are distinct:
    ``steps // eta**K >= 1`` makes each the next one's ``eta``-th part or less.
    """
    if min_steps is None:
        min_steps = max(1, steps // eta**2)
    k = 0
    while eta**k < num_rates:
        k += 1
    while k > 0 and steps // eta**k < min_steps:
        k -= 1
    return [steps // eta ** (k - i) for i in range(k + 1)]


def _scores(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Lower is better; NaN (diverged) last."""
    s = -values if higher_is_better else values
    return np.where(np.isnan(s), np.inf, s)


def run_grid(
    engine: Engine,
    rates: np.ndarray,
    seeds: Seeds,
    steps: int,
    points: Sequence[int],
) -> Outcome:
    """Every member trains the whole budget, in one compiled call (or chunks)."""
    r, s = len(rates), len(seeds.keys)
    inputs = _fresh(rates, seeds)
    _, records = engine.run(inputs, 0, periods(points, 0, steps), fresh=True)
    outcome = Outcome.empty(r * s, steps, points, records.metrics)
    outcome.write(np.arange(r * s), 0, steps, records)
    return outcome


def _fresh(rates: np.ndarray, seeds: Seeds):
    """Members ``r * S + s``: rate ``r``, seed ``s``."""
    r, s = len(rates), len(seeds.keys)
    return fresh_inputs(np.repeat(rates, s), seeds, np.tile(np.arange(s), r))


def run_halving(
    engine: Engine,
    rates: np.ndarray,
    seeds: Seeds,
    steps: int,
    points: Sequence[int],
    eta: int,
    *,
    higher_is_better: bool,
    metric: str,
    min_steps: int | None = None,
    on_rung: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Synchronous successive halving over the rates (all seeds of a rate
    continue or stop together), from saved state: no restarts.

    ``points`` must include every rung (see :func:`rung_steps`).
    """
    r, s = len(rates), len(seeds.keys)
    rungs = rung_steps(steps, eta, r, min_steps)
    active = np.arange(r)
    members: Member | tuple = _fresh(rates, seeds)
    outcome = None
    start = 0
    for k, rung in enumerate(rungs):
        if on_rung is not None:
            on_rung(k, len(active))
        rows = (active[:, None] * s + np.arange(s)).ravel()
        members, records = engine.run(
            members, start, periods(points, start, rung), fresh=k == 0
        )
        if outcome is None:
            outcome = Outcome.empty(r * s, steps, points, records.metrics)
        outcome.write(rows, start, rung, records)
        start = rung
        if k == len(rungs) - 1:
            break
        final = records.metrics[metric][:, -1].reshape(len(active), s)
        mean = _scores(np.mean(final, axis=1), higher_is_better)
        keep = max(1, math.ceil(len(active) / eta))
        best = np.sort(np.argsort(mean, kind="stable")[:keep])
        active = active[best]
        members = tree_take(members, (best[:, None] * s + np.arange(s)).ravel())
    return outcome


def pbt_plan(
    metric: jax.Array, step: jax.Array, *, higher_is_better: bool, num_real: int
) -> tuple[jax.Array, jax.Array]:
    """Population based training's exploit and explore decision.

    Ranks the first ``num_real`` members by ``metric`` (NaN worst); each of
    the worst ``q = max(1, num_real // 4)`` (none with fewer than 2 members)
    copies a member of the best ``q`` drawn uniformly, and its rate is
    multiplied by 0.8 or 1.25 with equal odds. The draws use
    ``fold_in(PRNGKey(PBT_SEED), step)``, split into the donors' key and the
    factors' key.

    Returns:
      ``(source, factor)``: member ``i`` becomes member ``source[i]`` with its
      rate times ``factor[i]`` (``source[i] = i``, ``factor[i] = 1`` for the
      others).
    """
    p = metric.shape[0]
    index = jnp.arange(p)
    q = 0 if num_real < 2 else max(1, num_real // PBT_FRACTION)
    if q == 0:
        return index, jnp.ones(p, jnp.float32)
    score = -metric if higher_is_better else metric
    score = jnp.where(jnp.isnan(score) | (index >= num_real), jnp.inf, score)
    order = jnp.argsort(score, stable=True)
    best, worst = order[:q], order[num_real - q : num_real]
    donor_key, factor_key = jax.random.split(
        jax.random.fold_in(jax.random.PRNGKey(PBT_SEED), step)
    )
    donors = best[jax.random.randint(donor_key, (q,), 0, q)]
    up = jax.random.bernoulli(factor_key, 0.5, (q,))
    factors = jnp.where(up, PBT_FACTORS[1], PBT_FACTORS[0]).astype(jnp.float32)
    source = index.at[worst].set(donors)
    factor = jnp.ones(p, jnp.float32).at[worst].set(factors)
    return source, factor


def pbt_exploit(
    members: Member,
    metric: jax.Array,
    step: jax.Array,
    *,
    higher_is_better: bool,
    num_real: int,
) -> Member:
    """Applies :func:`pbt_plan`: copied parameters, optimizer state and
    lineage, perturbed rate; each member keeps its own data key and order."""
    source, factor = pbt_plan(
        metric, step, higher_is_better=higher_is_better, num_real=num_real
    )
    copied = tree_take(members, source)
    return copied._replace(
        rate=copied.rate * factor, key=members.key, order=members.order
    )


def run_pbt(
    engine: Engine,
    rates: np.ndarray,
    seeds: Seeds,
    steps: int,
    points: Sequence[int],
    interval: int,
    *,
    higher_is_better: bool,
) -> Outcome:
    """PBT over all ``R * S`` members in one compiled call: exploit and
    explore after each evaluation at a multiple of ``interval`` before the end
    (``points`` must include them)."""
    r, s = len(rates), len(seeds.keys)
    lengths = periods(points, 0, steps)
    ends = np.cumsum(lengths)
    flags = [bool(e % interval == 0 and e < steps) for e in ends]

    def between(members: Member, metric: jax.Array, step: jax.Array) -> Member:
        return pbt_exploit(
            members, metric, step, higher_is_better=higher_is_better, num_real=r * s
        )

    members, records = engine.run(
        _fresh(rates, seeds),
        0,
        lengths,
        fresh=True,
        between=between,
        between_after=flags,
    )
    outcome = Outcome.empty(r * s, steps, points, records.metrics)
    outcome.write(np.arange(r * s), 0, steps, records)
    outcome.lineage = np.asarray(members.lineage, np.int64)
    return outcome
