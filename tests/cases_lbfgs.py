"""Shared-test cases for L-BFGS without its line search (see optimizer_case.py).

The shared tests call ``update(grads, state, params)``; the line search needs
the objective (``value=, grad=, value_fn=``), which they cannot give. With
``linesearch=None`` lbfgs is ``chain(scale_by_lbfgs, scale_by_learning_rate)``,
a plain transformation, compared with ``optax.lbfgs(linesearch=None)``. The
line search has its own tests (tests/test_lbfgs.py).
"""

import optax
from optimizer_case import OptimizerCase

import lrjax


def _lbfgs(learning_rate, memory_size=10, scale_init_precond=True):
    return lrjax.lbfgs(learning_rate, memory_size, scale_init_precond, linesearch=None)


def _optax_lbfgs(learning_rate, memory_size=10, scale_init_precond=True):
    return optax.lbfgs(learning_rate, memory_size, scale_init_precond, linesearch=None)


CASES = [
    OptimizerCase(
        id="lbfgs_no_linesearch",
        name="lbfgs",
        # Passed explicitly so that inject_hyperparams keeps it static.
        kwargs={"memory_size": 10},
        factory=_lbfgs,
        optax_factory=_optax_lbfgs,
        learning_rate=1e-2,
        converge_lr=0.5,
        converge_steps=100,
        # memory_size sets buffer shapes (static): no traced hyperparameter.
        invalid=(({"memory_size": 0}, "memory_size"),),
        # <y, s> and ||g|| are sums over the whole tree.
        leaf_local=False,
        # The state keeps the last params (to form s = w_{k+1} - w_k).
        state_holds_params=True,
    ),
    OptimizerCase(
        id="lbfgs_no_linesearch_unscaled",
        name="lbfgs",
        kwargs={"memory_size": 3, "scale_init_precond": False},
        factory=_lbfgs,
        optax_factory=_optax_lbfgs,
        learning_rate=1e-2,
        converge_lr=0.1,
        converge_steps=300,
        leaf_local=False,
        state_holds_params=True,
    ),
]
