"""Rates that react to training: the monitored loss drives the learning rate."""

from lrjax.control.loss_driven import LossAdaptiveScaleState, loss_adaptive_scale
from lrjax.control.plateau import ReduceOnPlateauState, reduce_on_plateau

__all__ = [
    "LossAdaptiveScaleState",
    "ReduceOnPlateauState",
    "loss_adaptive_scale",
    "reduce_on_plateau",
]
