"""Rates that react to training: the monitored loss drives the learning rate."""

from lrjax.control.averaging import (
    EmaParamsState,
    PolyakAveragingState,
    averaged_params,
    ema_params,
    polyak_averaging,
)
from lrjax.control.hypergradient import (
    HypergradientState,
    adam_hd,
    hypergradient_descent,
    sgd_hd,
)
from lrjax.control.inject import InjectHyperparamsState, inject_hyperparams
from lrjax.control.loss_driven import LossAdaptiveScaleState, loss_adaptive_scale
from lrjax.control.plateau import ReduceOnPlateauState, reduce_on_plateau
from lrjax.control.range_test import RangeTestResult, find_learning_rate

__all__ = [
    "EmaParamsState",
    "HypergradientState",
    "InjectHyperparamsState",
    "LossAdaptiveScaleState",
    "PolyakAveragingState",
    "RangeTestResult",
    "ReduceOnPlateauState",
    "adam_hd",
    "averaged_params",
    "ema_params",
    "find_learning_rate",
    "hypergradient_descent",
    "inject_hyperparams",
    "loss_adaptive_scale",
    "polyak_averaging",
    "reduce_on_plateau",
    "sgd_hd",
]
