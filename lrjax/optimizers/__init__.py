"""Optimizers: each a short, named chain of building blocks."""

from lrjax.optimizers.adam import adam, adamw
from lrjax.optimizers.sgd import sgd

# [family: adaptive]
# [family: adam-variants]
# [family: large-batch-sign-factored]
