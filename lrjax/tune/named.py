"""Strategies named after the rows of :data:`lrjax.compare.STRATEGIES`.

A row's tunable form ``tune(context, rate)`` becomes the factory
``rate -> tune(context, rate)``; its default rates span ``rate * 10**k`` for
ten ``k`` evenly spaced in ``[-2, 1]`` around the row's hand-set ``rate``.
The context describes the sweep's budget: ``c.total_steps`` is ``steps``,
an epoch is ``len(data) // batch_size`` steps (with ``batch_fn``, one
evaluation period), and the controllers' rows decide at every evaluation
(``reports_per_epoch=1``: the sweep reports its metric once per evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lrjax.tune.catalogue import STRATEGIES, Context, Plan
from lrjax.tune.population import Tuned

__all__ = ["NAMED_RATE_SPAN", "named_strategies"]

# Decades below and above the row's hand-set rate, and the number of points.
NAMED_RATE_SPAN = (-2.0, 1.0, 10)


def _refuse_range_test(make_optimizer: Any) -> float:
    raise ValueError("lrjax.sweep does not run range tests.")


def named_strategies(
    names: Sequence[str], *, steps: int, steps_per_epoch: int, batch_size: int
) -> tuple[dict[str, Tuned], dict[str, np.ndarray]]:
    """The factories and default rates of the rows ``names``.

    Raises:
      ValueError: for a name that is no row, or a row that is not tunable
        (``range-test`` picks its own rate).
    """
    rows = {s.name: s for s in STRATEGIES}
    epochs = max(1, -(-steps // steps_per_epoch))
    context = Context(
        Plan(epochs, batch_size, steps_per_epoch),
        _refuse_range_test,
        budget=steps,
        reports_per_epoch=1,
    )
    tuned, rates = {}, {}
    low, high, num = NAMED_RATE_SPAN
    for name in names:
        row = rows.get(name) if isinstance(name, str) else None
        if row is None:
            raise ValueError(
                f"strategies: {name!r} is not in lrjax.compare.STRATEGIES; "
                f"valid names: {', '.join(rows)}."
            )
        if row.tune is None or row.rate is None:
            raise ValueError(
                f"strategies: {name!r} is not tunable (it picks its own rate); "
                "choose another row or pass a factory."
            )
        tune = row.tune
        tuned[name] = Tuned(
            lambda rate, tune=tune: tune(context, rate), row.eval_params
        )
        rates[name] = row.rate * 10.0 ** np.linspace(low, high, num)
    return tuned, rates
