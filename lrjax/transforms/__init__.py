"""Building blocks: each a ``GradientTransformation`` that does one thing."""

from lrjax.transforms.adam import ScaleByAdamState, scale_by_adam
from lrjax.transforms.clipping import clip, clip_by_global_norm, global_norm
from lrjax.transforms.momentum import EmaState, TraceState, ema, trace
from lrjax.transforms.scaling import (
    ScaleByLearningRateState,
    ScaleByScheduleState,
    identity,
    scale,
    scale_by_learning_rate,
    scale_by_schedule,
    set_to_zero,
)
from lrjax.transforms.weight_decay import AddDecayedWeightsState, add_decayed_weights

# [family: adaptive]
# [family: adam-variants]
# [family: large-batch-sign-factored]
