"""Shared-test cases for ``lrjax.packed`` around element-wise optimizers.

Each case is the unwrapped optimizer's twin case with its small leaves packed
(every leaf of the shared trees is below the default ``min_size``, apart from
0-d and Python-scalar leaves, which stay per-leaf), so the whole suite (jit,
no-jit, pmap, dtypes, validation, retracing, sharding, checkpoints, data
parallelism, optax parity) runs on the packed layout. The state holds flat
buffers instead of per-parameter ones (``per_leaf_state=False``), so it is
nobody's state twin.
"""

import functools
import inspect

import optax
from optimizer_case import UNIT, OptimizerCase

import lrjax


def _packed(optimizer):
    """``factory(learning_rate, **kwargs)``: ``optimizer`` inside ``packed``.

    Carries ``optimizer``'s signature, so that ``optax.inject_hyperparams``
    can bind its arguments.
    """

    @functools.wraps(optimizer)
    def factory(*args, **kwargs):
        return lrjax.packed(optimizer(*args, **kwargs))

    factory.__signature__ = inspect.signature(optimizer)
    return factory


CASES = [
    OptimizerCase(
        id="packed_adam",
        name="adam",
        factory=_packed(lrjax.adam),
        converge_lr=0.1,
        hyperparams={"b1": UNIT, "b2": UNIT},
        invalid=(({"b1": 1.0}, "b1"), ({"eps": -1e-8}, "eps")),
        optax_state_twin=False,
        per_leaf_state=False,
        scalar_leaf_takes_state_dtype=True,
    ),
    OptimizerCase(
        id="packed_sgd_nesterov",
        name="sgd",
        kwargs={"momentum": 0.9, "nesterov": True},
        factory=_packed(lrjax.sgd),
        converge_lr=0.05,
        converge_steps=200,
        invalid=(({"momentum": 1.5}, "momentum"),),
        optax_state_twin=False,
        per_leaf_state=False,
        scalar_leaf_takes_state_dtype=True,
    ),
    OptimizerCase(
        id="packed_lion",
        name="lion",
        factory=_packed(lrjax.lion),
        converge_lr=optax.cosine_decay_schedule(0.05, 200),
        converge_steps=200,
        invalid=(({"b1": 1.5}, "b1"),),
        optax_state_twin=False,
        per_leaf_state=False,
        scalar_leaf_takes_state_dtype=True,
    ),
]
