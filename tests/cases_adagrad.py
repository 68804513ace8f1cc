"""Shared-test cases for AdaGrad (see optimizer_case.py)."""

from hypothesis import strategies as st
from optimizer_case import EPS, OptimizerCase

_non_negative = st.floats(0.0, 1.0)

CASES = [
    OptimizerCase(
        id="adagrad",
        name="adagrad",
        converge_lr=0.5,
        converge_steps=50,
        hyperparams={"initial_accumulator_value": _non_negative, "eps": EPS},
        invalid=(
            ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
            ({"eps": -1e-7}, "eps"),
            ({"eps_in_sqrt": "yes"}, "eps_in_sqrt"),
            ({"nu_dtype": "int32"}, "nu_dtype"),
        ),
    ),
]
