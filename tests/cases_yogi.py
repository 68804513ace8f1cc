"""Shared-test cases for Yogi (see optimizer_case.py): optax's ``yogi`` is its twin."""

from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="yogi",
        name="yogi",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "eps": st.floats(1e-8, 1e-1)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.1}, "b2"),
            ({"eps": -1e-3}, "eps"),
        ),
    ),
    OptimizerCase(
        id="yogi_b2_0.9",
        name="yogi",
        kwargs={"b1": 0.5, "b2": 0.9, "eps": 1e-6},
        converge_lr=0.1,
        converge_steps=300,
    ),
]
