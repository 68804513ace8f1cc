"""Shared-test cases for NovoGrad (see optimizer_case.py); optax's twin."""

from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="novograd",
        name="novograd",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={
            "b1": UNIT,
            "b2": UNIT,
            "eps": st.floats(1e-10, 1e-3),
            "weight_decay": st.floats(0.0, 1.0),
        },
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.25}, "b2"),
            ({"eps": -1e-6}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"weight_decay": -1e-3}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="novograd_weight_decay",
        name="novograd",
        kwargs={"weight_decay": 1e-2, "b2": 0.9, "eps_root": 1e-8},
        converge_lr=0.1,
        converge_steps=300,
    ),
]
