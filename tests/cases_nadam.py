"""Shared-test cases for NAdam and NAdamW (see optimizer_case.py).

Each has an identical optax optimizer.
"""

from hypothesis import strategies as st
from optimizer_case import OptimizerCase

_unit = st.floats(0.0, 0.999)
_eps = st.floats(1e-10, 1e-3)
_common_invalid = (
    ({"b1": 1.0}, "b1"),
    ({"b2": -0.5}, "b2"),
    ({"eps": -1e-8}, "eps"),
)

CASES = [
    OptimizerCase(
        id="nadam",
        name="nadam",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "eps": _eps},
        invalid=_common_invalid + (({"nesterov": 1}, "nesterov"),),
    ),
    OptimizerCase(
        id="nadamw",
        name="nadamw",
        kwargs={"weight_decay": 1e-2},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "weight_decay": st.floats(0.0, 1.0)},
        invalid=(({"weight_decay": -1.0}, "weight_decay"),),
    ),
]
