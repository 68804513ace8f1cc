"""Rates that react to training: the monitored loss drives the learning rate,
or learning-rate-free methods choose it."""

from lrjax.control.coin_betting import COCOBState, cocob, scale_by_cocob
from lrjax.control.distance import (
    DoGState,
    DoWGState,
    dog,
    dowg,
    scale_by_dog,
    scale_by_dowg,
)
from lrjax.control.loss_driven import LossAdaptiveScaleState, loss_adaptive_scale
from lrjax.control.mechanic import MechanicState, mechanize
from lrjax.control.plateau import ReduceOnPlateauState, reduce_on_plateau
from lrjax.control.prodigy import (
    DAdaptAdamWState,
    ProdigyState,
    dadapt_adamw,
    prodigy,
)
from lrjax.control.schedule_free import (
    ScheduleFreeState,
    schedule_free,
    schedule_free_adamw,
    schedule_free_eval_params,
    schedule_free_sgd,
)

__all__ = [
    "COCOBState",
    "DAdaptAdamWState",
    "DoGState",
    "DoWGState",
    "MechanicState",
    "ProdigyState",
    "ScheduleFreeState",
    "cocob",
    "dadapt_adamw",
    "dog",
    "dowg",
    "mechanize",
    "prodigy",
    "scale_by_cocob",
    "scale_by_dog",
    "scale_by_dowg",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "LossAdaptiveScaleState",
    "ReduceOnPlateauState",
    "loss_adaptive_scale",
    "reduce_on_plateau",
]
