"""Building blocks: each a ``GradientTransformation`` that does one thing."""

from lrjax.transforms.adabelief import ScaleByBeliefState, scale_by_belief
from lrjax.transforms.adadelta import ScaleByAdaDeltaState, scale_by_adadelta
from lrjax.transforms.adafactor import (
    FactoredState,
    clip_by_block_rms,
    scale_by_factored_rms,
    scale_by_param_block_rms,
)
from lrjax.transforms.adagrad import ScaleByRssState, scale_by_rss
from lrjax.transforms.adahessian import ScaleByAdaHessianState, scale_by_adahessian
from lrjax.transforms.adam import ScaleByAdamState, scale_by_adam, scale_by_adamax
from lrjax.transforms.adan import ScaleByAdanState, scale_by_adan
from lrjax.transforms.ademamix import (
    ScaleByAdemamixState,
    ScaleBySimplifiedAdEMAMixState,
    scale_by_ademamix,
    scale_by_simplified_ademamix,
)
from lrjax.transforms.adopt import ScaleByAdoptState, scale_by_adopt
from lrjax.transforms.amsgrad import ScaleByAmsgradState, scale_by_amsgrad
from lrjax.transforms.clipping import (
    adaptive_grad_clip,
    clip,
    clip_by_global_norm,
    global_norm,
)
from lrjax.transforms.hessian import HutchinsonDiagonalState, hutchinson_diagonal
from lrjax.transforms.layer_decay import layerwise_rate_decay
from lrjax.transforms.layerwise import (
    FromageRetractionState,
    fromage_retraction,
    scale_by_trust_ratio,
)
from lrjax.transforms.lbfgs import ScaleByLBFGSState, scale_by_lbfgs
from lrjax.transforms.linesearch import (
    ScaleByZoomLinesearchState,
    ZoomLinesearchInfo,
    scale_by_zoom_linesearch,
    value_and_grad_from_state,
)
from lrjax.transforms.madgrad import ScaleByMadgradState, scale_by_madgrad
from lrjax.transforms.momentum import EmaState, TraceState, ema, trace
from lrjax.transforms.muon import (
    MuonDimensionNumbers,
    MuonState,
    orthogonalize_via_newton_schulz,
    scale_by_muon,
    scale_by_shape,
)
from lrjax.transforms.noise import AddNoiseState, add_noise
from lrjax.transforms.normalize import (
    NormalizeState,
    centralize,
    normalize,
    normalize_by_update_norm,
)
from lrjax.transforms.novograd import ScaleByNovogradState, scale_by_novograd
from lrjax.transforms.optimistic import (
    ScaleByOptimisticAdamState,
    ScaleByOptimisticGradientState,
    scale_by_optimistic_adam,
    scale_by_optimistic_gradient,
)
from lrjax.transforms.packed_optimizer import PackedState, packed
from lrjax.transforms.packed_params import (
    PackedParams,
    PackingLayout,
    pack_params,
    unpack_params,
)
from lrjax.transforms.param_groups import (
    ParamGroup,
    RateMultiplierState,
    param_group_labels,
    param_groups,
)
from lrjax.transforms.per_example import (
    per_example_global_norm_clip,
    per_example_layer_norm_clip,
)
from lrjax.transforms.polyak import ScaleByPolyakState, scale_by_polyak
from lrjax.transforms.radam import scale_by_radam
from lrjax.transforms.rmsprop import (
    ScaleByRmsState,
    ScaleByRStdDevState,
    scale_by_rms,
    scale_by_stddev,
)
from lrjax.transforms.rprop import ScaleByRpropState, scale_by_rprop
from lrjax.transforms.scaling import (
    ScaleByLearningRateState,
    ScaleByScheduleState,
    identity,
    scale,
    scale_by_learning_rate,
    scale_by_schedule,
    set_to_zero,
)
from lrjax.transforms.sign import ScaleByLionState, scale_by_lion, scale_by_sign
from lrjax.transforms.sm3 import ScaleBySM3State, scale_by_sm3
from lrjax.transforms.sophia import SophiaState, scale_by_sophia
from lrjax.transforms.weight_decay import AddDecayedWeightsState, add_decayed_weights
from lrjax.transforms.yogi import scale_by_yogi

__all__ = [
    "AddDecayedWeightsState",
    "AddNoiseState",
    "EmaState",
    "FactoredState",
    "FromageRetractionState",
    "HutchinsonDiagonalState",
    "MuonDimensionNumbers",
    "MuonState",
    "NormalizeState",
    "PackedParams",
    "PackedState",
    "PackingLayout",
    "ParamGroup",
    "RateMultiplierState",
    "ScaleByAdaDeltaState",
    "ScaleByAdaHessianState",
    "ScaleByAdamState",
    "ScaleByAdanState",
    "ScaleByAdemamixState",
    "ScaleByAdoptState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "ScaleByLBFGSState",
    "ScaleByLearningRateState",
    "ScaleByLionState",
    "ScaleByMadgradState",
    "ScaleByNovogradState",
    "ScaleByOptimisticAdamState",
    "ScaleByOptimisticGradientState",
    "ScaleByPolyakState",
    "ScaleByRStdDevState",
    "ScaleByRmsState",
    "ScaleByRpropState",
    "ScaleByRssState",
    "ScaleBySM3State",
    "ScaleByScheduleState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScaleByZoomLinesearchState",
    "SophiaState",
    "TraceState",
    "ZoomLinesearchInfo",
    "adaptive_grad_clip",
    "add_decayed_weights",
    "add_noise",
    "centralize",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "ema",
    "fromage_retraction",
    "global_norm",
    "hutchinson_diagonal",
    "identity",
    "layerwise_rate_decay",
    "normalize",
    "normalize_by_update_norm",
    "orthogonalize_via_newton_schulz",
    "pack_params",
    "packed",
    "param_group_labels",
    "param_groups",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
    "scale",
    "scale_by_adadelta",
    "scale_by_adahessian",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_adan",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_amsgrad",
    "scale_by_belief",
    "scale_by_factored_rms",
    "scale_by_lbfgs",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_madgrad",
    "scale_by_muon",
    "scale_by_novograd",
    "scale_by_optimistic_adam",
    "scale_by_optimistic_gradient",
    "scale_by_param_block_rms",
    "scale_by_polyak",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_shape",
    "scale_by_sign",
    "scale_by_simplified_ademamix",
    "scale_by_sm3",
    "scale_by_sophia",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "scale_by_zoom_linesearch",
    "set_to_zero",
    "trace",
    "unpack_params",
    "value_and_grad_from_state",
]
