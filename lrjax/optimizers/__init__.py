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
from lrjax.optimizers.large_batch import fromage, lamb, lars
from lrjax.optimizers.lion import lion
from lrjax.optimizers.optimistic import (
    optimistic_adam,
    optimistic_adam_v2,
    optimistic_gradient_descent,
)
from lrjax.optimizers.polyak import polyak_sgd
from lrjax.optimizers.sgd import noisy_sgd, sgd
from lrjax.optimizers.sign import rprop, sign_sgd, signum
