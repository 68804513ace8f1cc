"""lrjax: learning-rate strategies and optimizers for JAX, optax-compatible.

A flat public namespace: ``lrjax.adam``, ``lrjax.scale_by_adam``,
``lrjax.get_learning_rate``, ``lrjax.cosine_decay_schedule``, ... Every public
name is listed in ``__all__``, assembled from the subpackages' own lists:

- base types (optax's own objects) and the learning-rate protocol;
- optax's wrappers and combinators, re-exported unchanged;
- :mod:`lrjax.optimizers`: complete optimizers;
- :mod:`lrjax.transforms`: the building blocks they chain, with their states;
- :mod:`lrjax.schedules`: schedules ``step -> rate``;
- :mod:`lrjax.control`: rates that react to training;
- :mod:`lrjax.tune`: populations of rates x seeds x strategies;
- plotting (matplotlib is imported only when a plot is drawn).
"""

from lrjax import control, optimizers, schedules, transforms, tune
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
from lrjax._combinators import *  # noqa: F403
from lrjax._combinators import __all__ as _combinators_all
from lrjax.control import *  # noqa: F403
from lrjax.optimizers import *  # noqa: F403
from lrjax.plotting import plot_schedule
from lrjax.schedules import *  # noqa: F403
from lrjax.transforms import *  # noqa: F403
from lrjax.tune import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "OptState",
    "Params",
    "ScalarOrSchedule",
    "Schedule",
    "Updates",
    "apply_updates",
    "chain",
    "get_learning_rate",
    "plot_schedule",
    *_combinators_all,
    *control.__all__,
    *optimizers.__all__,
    *schedules.__all__,
    *transforms.__all__,
    *tune.__all__,
]
