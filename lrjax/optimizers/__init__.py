"""Optimizers: each a short, named chain of building blocks."""

from lrjax.optimizers.adabelief import adabelief
from lrjax.optimizers.adadelta import adadelta
from lrjax.optimizers.adafactor import adafactor, adafactor_relative_step
from lrjax.optimizers.adagrad import adagrad
from lrjax.optimizers.adahessian import adahessian
from lrjax.optimizers.adam import adam, adamax, adamaxw, adamw
from lrjax.optimizers.adan import adan
from lrjax.optimizers.ademamix import ademamix, simplified_ademamix
from lrjax.optimizers.adopt import adopt
from lrjax.optimizers.amsgrad import amsgrad
from lrjax.optimizers.layerwise import fromage, lamb, lars
from lrjax.optimizers.lbfgs import lbfgs
from lrjax.optimizers.lion import lion
from lrjax.optimizers.madgrad import madgrad
from lrjax.optimizers.muon import muon
from lrjax.optimizers.nadam import nadam, nadamw
from lrjax.optimizers.novograd import novograd
from lrjax.optimizers.optimistic import (
    optimistic_adam,
    optimistic_adam_v2,
    optimistic_gradient_descent,
)
from lrjax.optimizers.polyak import polyak_sgd
from lrjax.optimizers.radam import radam
from lrjax.optimizers.rmsprop import rmsprop
from lrjax.optimizers.sam import SAMState, sam
from lrjax.optimizers.sgd import noisy_sgd, sgd
from lrjax.optimizers.sign import rprop, sign_sgd, signum
from lrjax.optimizers.sm3 import sm3
from lrjax.optimizers.sophia import sophia
from lrjax.optimizers.yogi import yogi

__all__ = [
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
