"""optax's wrappers and combinators, re-exported unchanged.

These act on any ``GradientTransformation`` and hold no learning-rate
algorithm of their own, so lrjax re-exports optax's objects instead of
writing its own: a codebase switched to lrjax needs one import, and
``lrjax.masked is optax.masked``. ``lrjax.get_learning_rate`` reads through
each of them (``tests/test_combinators.py``): wrappers such as ``masked``,
``MultiSteps``, ``apply_if_finite`` and ``lookahead`` lie on the path of the
optimizer they wrap; ``partition`` (alias ``multi_transform``) gives one rate
per label.
"""

from optax import (
    ApplyIfFiniteState,
    LookaheadParams,
    LookaheadState,
    MaskedState,
    MultiSteps,
    MultiStepsState,
    PartitionState,
    apply_every,
    apply_if_finite,
    flatten,
    freeze,
    keep_params_nonnegative,
    lookahead,
    masked,
    multi_transform,
    named_chain,
    partition,
    scale_gradient,
    skip_not_finite,
    zero_nans,
)

__all__ = [
    "ApplyIfFiniteState",
    "LookaheadParams",
    "LookaheadState",
    "MaskedState",
    "MultiSteps",
    "MultiStepsState",
    "PartitionState",
    "apply_every",
    "apply_if_finite",
    "flatten",
    "freeze",
    "keep_params_nonnegative",
    "lookahead",
    "masked",
    "multi_transform",
    "named_chain",
    "partition",
    "scale_gradient",
    "skip_not_finite",
    "zero_nans",
]
