"""Shared-test cases for SGD and Adam/AdamW (see optimizer_case.py)."""

from hypothesis import strategies as st
from optimizer_case import EPS, UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="sgd",
        name="sgd",
        has_tree_state=False,
        converge_lr=0.1,
        converge_steps=100,
        invalid=(({"momentum": -0.1}, "momentum"), ({"momentum": 1.5}, "momentum")),
    ),
    OptimizerCase(
        id="sgd_momentum",
        name="sgd",
        kwargs={"momentum": 0.9},
        converge_lr=0.05,
        converge_steps=200,
        hyperparams={"momentum": UNIT},
    ),
    OptimizerCase(
        id="sgd_nesterov",
        name="sgd",
        kwargs={"momentum": 0.9, "nesterov": True},
        converge_lr=0.05,
        converge_steps=200,
        hyperparams={"momentum": UNIT},
    ),
    OptimizerCase(
        id="sgd_ema_momentum",
        name="sgd",
        kwargs={"momentum": 0.9},
        lrjax_kwargs={"dampening": 0.9},
        optax_parity=False,
        converge_lr=0.3,
        converge_steps=200,
        hyperparams={"momentum": UNIT, "dampening": st.floats(0.0, 1.0)},
        invalid=(({"dampening": 1.5}, "dampening"),),
    ),
    OptimizerCase(
        id="adam",
        name="adam",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "eps": EPS},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.5}, "b2"),
            ({"eps": -1e-8}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
        ),
    ),
    OptimizerCase(
        id="adam_nesterov",
        name="adam",
        kwargs={"nesterov": True, "eps_root": 1e-8},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT},
    ),
    OptimizerCase(
        id="adamw",
        name="adamw",
        kwargs={"weight_decay": 1e-2},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "weight_decay": st.floats(0.0, 1.0)},
        invalid=(({"weight_decay": -1e-4}, "weight_decay"),),
    ),
]
