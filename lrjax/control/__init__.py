"""Rates that react to training: the monitored loss drives the learning rate,
learning-rate-free methods choose it, averaging smooths the parameters."""

from lrjax.control.averaging import (
    EmaParamsState,
    PolyakAveragingState,
    averaged_params,
    ema_params,
    polyak_averaging,
)
from lrjax.control.coin_betting import (
    COCOBState,
    cocob,
    scale_by_cocob,
)
from lrjax.control.dadaptation import DAdaptAdamWState, dadapt_adamw
from lrjax.control.dog import (
    DoGState,
    DoWGState,
    dog,
    dowg,
    scale_by_dog,
    scale_by_dowg,
)
from lrjax.control.hypergradient import (
    HypergradientState,
    adam_hd,
    hypergradient_descent,
    sgd_hd,
)
from lrjax.control.inject import (
    InjectHyperparamsState,
    InjectStatefulHyperparamsState,
    inject_hyperparams,
)
from lrjax.control.layerwise_dog import (
    ScaleByDistanceOverGradientsState,
    scale_by_distance_over_gradients,
)
from lrjax.control.loss_driven import (
    LossAdaptiveScaleState,
    loss_adaptive_scale,
)
from lrjax.control.mechanic import (
    MechanicState,
    mechanize,
)
from lrjax.control.metric import report_metric
from lrjax.control.metrics_reader import get_metrics
from lrjax.control.plateau import (
    ReduceOnPlateauState,
    reduce_on_plateau,
)
from lrjax.control.prodigy import ProdigyState, prodigy
from lrjax.control.range_test import (
    RangeTestResult,
    find_learning_rate,
)
from lrjax.control.schedule_free import (
    ScheduleFreeState,
    schedule_free,
    schedule_free_adamw,
    schedule_free_eval_params,
    schedule_free_sgd,
)
from lrjax.control.signals import TrackSignalsState, track_signals
from lrjax.control.spikes import SkipSpikesState, skip_spikes
from lrjax.control.stale import (
    StaleGradientsState,
    StalenessAwareState,
    stale_gradients,
    staleness_aware,
)

__all__ = [
    "COCOBState",
    "DAdaptAdamWState",
    "DoGState",
    "DoWGState",
    "EmaParamsState",
    "HypergradientState",
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "LossAdaptiveScaleState",
    "MechanicState",
    "PolyakAveragingState",
    "ProdigyState",
    "RangeTestResult",
    "ReduceOnPlateauState",
    "ScaleByDistanceOverGradientsState",
    "ScheduleFreeState",
    "SkipSpikesState",
    "StaleGradientsState",
    "StalenessAwareState",
    "TrackSignalsState",
    "adam_hd",
    "averaged_params",
    "cocob",
    "dadapt_adamw",
    "dog",
    "dowg",
    "ema_params",
    "find_learning_rate",
    "get_metrics",
    "hypergradient_descent",
    "inject_hyperparams",
    "loss_adaptive_scale",
    "mechanize",
    "polyak_averaging",
    "prodigy",
    "reduce_on_plateau",
    "report_metric",
    "scale_by_cocob",
    "scale_by_distance_over_gradients",
    "scale_by_dog",
    "scale_by_dowg",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "sgd_hd",
    "skip_spikes",
    "stale_gradients",
    "staleness_aware",
    "track_signals",
]
