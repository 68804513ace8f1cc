"""Optimizers: each a short, named chain of building blocks."""

from lrjax.optimizers.adafactor import adafactor, adafactor_relative_step
from lrjax.optimizers.adam import adam, adamw
from lrjax.optimizers.adam_variants import (
    adabelief,
    adamax,
    adamaxw,
    amsgrad,
    nadam,
    nadamw,
    radam,
)
from lrjax.optimizers.adaptive import adadelta, adagrad, rmsprop
from lrjax.optimizers.large_batch import lamb, lars
from lrjax.optimizers.lion import lion
from lrjax.optimizers.muon import muon
from lrjax.optimizers.research import (
    ademamix,
    adopt,
    madgrad,
    simplified_ademamix,
    sophia,
)
from lrjax.optimizers.sam import NormalizeState, SAMState, normalize, sam
from lrjax.optimizers.sgd import sgd
