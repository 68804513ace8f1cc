"""Optimizers: each a short, named chain of building blocks."""

from lrjax.optimizers.adafactor import adafactor, adafactor_relative_step
from lrjax.optimizers.adam import adam, adamw
from lrjax.optimizers.adam_like import adan, yogi
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
from lrjax.optimizers.large_batch import fromage, lamb, lars
from lrjax.optimizers.lbfgs import lbfgs
from lrjax.optimizers.lion import lion
from lrjax.optimizers.muon import muon
from lrjax.optimizers.novograd import novograd
from lrjax.optimizers.optimistic import (
    optimistic_adam,
    optimistic_adam_v2,
    optimistic_gradient_descent,
)
from lrjax.optimizers.polyak import polyak_sgd
from lrjax.optimizers.research import (
    ademamix,
    adopt,
    madgrad,
    simplified_ademamix,
    sophia,
)
from lrjax.optimizers.sam import NormalizeState, SAMState, normalize, sam
from lrjax.optimizers.second_order import adahessian
from lrjax.optimizers.sgd import noisy_sgd, sgd
from lrjax.optimizers.sign import rprop, sign_sgd, signum
from lrjax.optimizers.sm3 import sm3

__all__ = [
    "NormalizeState",
    "SAMState",
    "adabelief",
    "adadelta",
    "adafactor",
    "adafactor_relative_step",
    "adagrad",
    "adahessian",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "ademamix",
    "adopt",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lbfgs",
    "lion",
    "madgrad",
    "muon",
    "nadam",
    "nadamw",
    "noisy_sgd",
    "normalize",
    "novograd",
    "optimistic_adam",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "radam",
    "rmsprop",
    "rprop",
    "sam",
    "sgd",
    "sign_sgd",
    "signum",
    "simplified_ademamix",
    "sm3",
    "sophia",
    "yogi",
]
