"""Schedules: pure functions ``step -> learning rate``, grouped by family."""

from lrjax.schedules.cosine import cosine_decay_schedule
from lrjax.schedules.cyclic import cyclic_schedule
from lrjax.schedules.decay import (
    constant_schedule,
    exponential_decay,
    linear_schedule,
    polynomial_schedule,
)
from lrjax.schedules.inverse_decay import (
    inverse_sqrt_schedule,
    inverse_time_decay_schedule,
)
from lrjax.schedules.onecycle import (
    cosine_onecycle_schedule,
    linear_onecycle_schedule,
    one_cycle_schedule,
)
from lrjax.schedules.piecewise import (
    join_schedules,
    piecewise_constant_schedule,
    piecewise_interpolate_schedule,
)
from lrjax.schedules.random import random_schedule
from lrjax.schedules.restarts import cosine_restarts_schedule, sgdr_schedule
from lrjax.schedules.step_decay import multistep_decay_schedule, step_decay_schedule
from lrjax.schedules.warmup import (
    warmup_constant_schedule,
    warmup_cosine_decay_schedule,
    warmup_exponential_decay_schedule,
    warmup_schedule,
)
from lrjax.schedules.wrappers import clip_schedule, per_epoch_schedule
from lrjax.schedules.wsd import warmup_stable_decay_schedule
from lrjax.schedules.wsd_cycles import wsd_schedule

__all__ = [
    "clip_schedule",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "cosine_restarts_schedule",
    "cyclic_schedule",
    "exponential_decay",
    "inverse_sqrt_schedule",
    "inverse_time_decay_schedule",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "multistep_decay_schedule",
    "one_cycle_schedule",
    "per_epoch_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "random_schedule",
    "sgdr_schedule",
    "step_decay_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_schedule",
    "warmup_stable_decay_schedule",
    "wsd_schedule",
]
