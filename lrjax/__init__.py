"""lrjax: learning-rate strategies and optimizers for JAX, optax-compatible.

The public namespace is flat: ``lrjax.adam``, ``lrjax.scale_by_adam``,
``lrjax.get_learning_rate``, ``lrjax.cosine_decay_schedule``, ...
"""

from lrjax._base import (
    EmptyState,
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    ScalarOrSchedule,
    Schedule,
    Updates,
    apply_updates,
    chain,
    get_learning_rate,
)
from lrjax.optimizers import adam, adamw, sgd

# [family: adaptive]
# [family: adam-variants]
# [family: large-batch-sign-factored]
# [schedules: optax-named]
# [schedules: new]
from lrjax.plotting import plot_schedule
from lrjax.transforms import (
    AddDecayedWeightsState,
    EmaState,
    ScaleByAdamState,
    ScaleByLearningRateState,
    ScaleByScheduleState,
    TraceState,
    add_decayed_weights,
    clip,
    clip_by_global_norm,
    ema,
    global_norm,
    identity,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_schedule,
    set_to_zero,
    trace,
)

# [schedules: tools]

__version__ = "0.1.0"
