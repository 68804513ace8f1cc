"""Shared-test cases for Adan (see optimizer_case.py).

optax's ``adan`` is its twin, with the same state layout (``ScaleByAdanState``
keeps optax's buffers in order; its step counter is named ``count``).
"""

from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="adan",
        name="adan",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={
            "b1": UNIT,
            "b2": UNIT,
            "b3": UNIT,
            "eps": st.floats(1e-10, 1e-3),
            "weight_decay": st.floats(0.0, 1.0),
        },
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": 1.5}, "b2"),
            ({"b3": -0.1}, "b3"),
            ({"eps": -1e-8}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"weight_decay": -1e-4}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="adan_weight_decay",
        name="adan",
        kwargs={"weight_decay": 1e-2, "b2": 0.5},
        converge_lr=0.1,
        converge_steps=300,
    ),
]
