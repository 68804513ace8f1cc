"""Shared-test cases for the learning-rate-free and schedule-free methods.

Their optax twins live in ``optax.contrib``. Parity runs 20 steps, not 200:
these methods feed whole-tree sums back into a multiplicative step size, so
float32 rounding compounds (measured in ``tests/control/test_lr_free.py``).
The rate they report is the one they chose (``d * lr``, ``eta * lr``, ...),
not the ``learning_rate`` argument, except schedule-free's. Initial
estimates are set so that the first step moves the parameters visibly.
``mechanize`` takes no learning rate; its tests are in ``test_lr_free.py``.
"""

import optax.contrib
from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="schedule_free_sgd",
        name="schedule_free_sgd",
        kwargs={"weight_decay": 1e-3},
        learning_rate=1e-2,
        optax_module=optax.contrib,
        parity_steps=20,
        state_holds_params=True,
        converge_lr=0.3,
        hyperparams={
            "b1": st.floats(0.05, 1.0),
            "weight_lr_power": st.floats(0.0, 4.0),
        },
        invalid=(
            ({"b1": 0.0}, "b1"),
            ({"warmup_steps": 0}, "warmup_steps"),
            ({"weight_lr_power": -1.0}, "weight_lr_power"),
            ({"weight_decay": -1.0}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="schedule_free_adamw",
        name="schedule_free_adamw",
        kwargs={"weight_decay": 1e-3},
        learning_rate=1e-2,
        optax_module=optax.contrib,
        parity_steps=20,
        state_holds_params=True,
        converge_lr=0.1,
        hyperparams={"b1": st.floats(0.05, 1.0), "b2": UNIT},
        invalid=(({"b2": 1.0}, "b2"), ({"eps": -1.0}, "eps")),
    ),
    OptimizerCase(
        id="prodigy",
        name="prodigy",
        kwargs={"estim_lr0": 1e-2},
        learning_rate=1.0,
        optax_module=optax.contrib,
        parity_steps=20,
        reports_learning_rate=False,
        state_holds_params=True,
        converge_lr=1.0,
        hyperparams={"weight_decay": st.floats(0.0, 0.1)},
        invalid=(
            ({"estim_lr0": 0.0}, "estim_lr0"),
            ({"beta3": 1.0}, "beta3"),
            ({"betas": (0.9, 1.0)}, "betas"),
        ),
    ),
    OptimizerCase(
        id="dadapt_adamw",
        name="dadapt_adamw",
        kwargs={"estim_lr0": 1e-2},
        learning_rate=1.0,
        optax_module=optax.contrib,
        parity_steps=20,
        reports_learning_rate=False,
        converge_lr=1.0,
        hyperparams={"weight_decay": st.floats(0.0, 0.1)},
        invalid=(({"estim_lr0": -1.0}, "estim_lr0"), ({"eps": -1.0}, "eps")),
    ),
    OptimizerCase(
        id="dog",
        name="dog",
        kwargs={"init_step": ("learning_rate", 0.1)},
        learning_rate=1.0,
        optax_module=optax.contrib,
        parity_steps=20,
        reports_learning_rate=False,
        leaf_local=False,
        state_holds_params=True,
        converge_lr=1.0,
        invalid=(
            ({"init_step": ("guess", 0.1)}, "init_step"),
            ({"eps": -1.0}, "eps"),
        ),
    ),
    OptimizerCase(
        id="dowg",
        name="dowg",
        kwargs={"init_estim_sq_dist": 1e-2},
        learning_rate=1.0,
        optax_module=optax.contrib,
        parity_steps=20,
        reports_learning_rate=False,
        leaf_local=False,
        state_holds_params=True,
        converge_lr=1.0,
        invalid=(({"init_estim_sq_dist": 0.0}, "init_estim_sq_dist"),),
    ),
    OptimizerCase(
        id="cocob",
        name="cocob",
        learning_rate=1.0,
        optax_module=optax.contrib,
        parity_steps=20,
        reports_learning_rate=False,
        state_holds_params=True,
        converge_lr=1.0,
        hyperparams={"alpha": st.floats(1.0, 200.0)},
        invalid=(({"alpha": 0.0}, "alpha"), ({"eps": 0.0}, "eps")),
    ),
]
