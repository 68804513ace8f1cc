"""Tuning learning rates: populations of rates x seeds x strategies.

:func:`sweep` trains every strategy's members (rates x seeds) as one
compiled, ``jax.vmap``-batched ``lax.scan``, spent as a grid, by successive
halving or by population based training, and returns a :class:`SweepResult`.
"""

from lrjax.tune.result import StrategyRuns, SweepResult
from lrjax.tune.sweep import sweep

__all__ = ["StrategyRuns", "SweepResult", "sweep"]
