"""Shared-test cases for NAdam and NAdamW (see optimizer_case.py).

Each has an identical optax optimizer.
"""

from hypothesis import strategies as st
from optimizer_case import ADAM_INVALID, EPS, UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="nadam",
        name="nadam",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "eps": EPS},
        invalid=ADAM_INVALID + (({"nesterov": 1}, "nesterov"),),
    ),
    OptimizerCase(
        id="nadamw",
        name="nadamw",
        kwargs={"weight_decay": 1e-2},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "weight_decay": st.floats(0.0, 1.0)},
        invalid=(({"weight_decay": -1.0}, "weight_decay"),),
    ),
]
