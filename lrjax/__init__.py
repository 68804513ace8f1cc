"""lrjax: learning-rate strategies and optimizers for JAX, optax-compatible.

A flat public namespace: ``lrjax.adam``, ``lrjax.scale_by_adam``,
``lrjax.get_learning_rate``, ``lrjax.cosine_decay_schedule``, ...
"""

# Base types (optax's own objects) and the learning-rate protocol.
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

# Rates that react to training.
from lrjax.control import (
    EmaParamsState,
    HypergradientState,
    InjectHyperparamsState,
    LossAdaptiveScaleState,
    PolyakAveragingState,
    RangeTestResult,
    ReduceOnPlateauState,
    adam_hd,
    averaged_params,
    ema_params,
    find_learning_rate,
    hypergradient_descent,
    inject_hyperparams,
    loss_adaptive_scale,
    polyak_averaging,
    reduce_on_plateau,
    sgd_hd,
)

# Learning-rate-free and schedule-free methods.
from lrjax.control.coin_betting import COCOBState, cocob, scale_by_cocob
from lrjax.control.distance import (
    DoGState,
    DoWGState,
    dog,
    dowg,
    scale_by_dog,
    scale_by_dowg,
)
from lrjax.control.mechanic import MechanicState, mechanize
from lrjax.control.prodigy import DAdaptAdamWState, ProdigyState, dadapt_adamw, prodigy
from lrjax.control.schedule_free import (
    ScheduleFreeState,
    schedule_free,
    schedule_free_adamw,
    schedule_free_eval_params,
    schedule_free_sgd,
)

# Optimizers.
from lrjax.optimizers import (
    adabelief,
    adadelta,
    adafactor,
    adafactor_relative_step,
    adagrad,
    adam,
    adamax,
    adamaxw,
    adamw,
    amsgrad,
    lamb,
    lars,
    lion,
    nadam,
    nadamw,
    radam,
    rmsprop,
    sgd,
)

# Plotting (matplotlib is imported only when a plot is drawn).
from lrjax.plotting import plot_schedule

# Schedules.
from lrjax.schedules import (
    clip_schedule,
    constant_schedule,
    cosine_decay_schedule,
    cosine_onecycle_schedule,
    cosine_restarts_schedule,
    cyclic_schedule,
    exponential_decay,
    inverse_sqrt_schedule,
    inverse_time_decay_schedule,
    join_schedules,
    linear_onecycle_schedule,
    linear_schedule,
    multistep_decay_schedule,
    one_cycle_schedule,
    per_epoch_schedule,
    piecewise_constant_schedule,
    piecewise_interpolate_schedule,
    polynomial_schedule,
    random_schedule,
    sgdr_schedule,
    step_decay_schedule,
    warmup_constant_schedule,
    warmup_cosine_decay_schedule,
    warmup_exponential_decay_schedule,
    warmup_schedule,
    warmup_stable_decay_schedule,
)

# Building blocks and their states.
from lrjax.transforms import (
    AddDecayedWeightsState,
    EmaState,
    FactoredState,
    ScaleByAdaDeltaState,
    ScaleByAdamState,
    ScaleByAmsgradState,
    ScaleByBeliefState,
    ScaleByLearningRateState,
    ScaleByLionState,
    ScaleByRmsState,
    ScaleByRssState,
    ScaleByRStdDevState,
    ScaleByScheduleState,
    TraceState,
    add_decayed_weights,
    clip,
    clip_by_block_rms,
    clip_by_global_norm,
    ema,
    global_norm,
    identity,
    scale,
    scale_by_adadelta,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_factored_rms,
    scale_by_learning_rate,
    scale_by_lion,
    scale_by_param_block_rms,
    scale_by_radam,
    scale_by_rms,
    scale_by_rss,
    scale_by_schedule,
    scale_by_stddev,
    scale_by_trust_ratio,
    set_to_zero,
    trace,
)

__version__ = "0.1.0"
