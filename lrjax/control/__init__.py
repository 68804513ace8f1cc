"""Rates that react to training: the monitored loss drives the learning rate."""

from lrjax.control.loss_driven import LossAdaptiveScaleState, loss_adaptive_scale
from lrjax.control.plateau import ReduceOnPlateauState, reduce_on_plateau
from lrjax.control.range_test import RangeTestResult, find_learning_rate

__all__ = [
    "LossAdaptiveScaleState",
    "RangeTestResult",
    "ReduceOnPlateauState",
    "find_learning_rate",
    "loss_adaptive_scale",
    "reduce_on_plateau",
]
