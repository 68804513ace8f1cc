"""Shared-test cases for Adamax and AdamaxW (see optimizer_case.py).

Every case has an identical optax optimizer. Cases with float32 moment dtypes
run in parity on float32 params (a no-op there) and, in the bf16 test, keep
float32 moments for bf16 params: mixed dtypes are exercised without leaving
optax's numerics.
"""

from hypothesis import strategies as st
from optimizer_case import OptimizerCase

_unit = st.floats(0.0, 0.999)
_eps = st.floats(1e-10, 1e-3)
_f32 = {"mu_dtype": "float32", "nu_dtype": "float32"}
_common_invalid = (
    ({"b1": 1.0}, "b1"),
    ({"b2": -0.5}, "b2"),
    ({"eps": -1e-8}, "eps"),
)

CASES = [
    OptimizerCase(
        id="adamax",
        name="adamax",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "eps": _eps},
        invalid=_common_invalid + (({"nu_dtype": "int32"}, "nu_dtype"),),
    ),
    OptimizerCase(
        id="adamax_f32_moments",
        name="adamax",
        lrjax_kwargs=_f32,
        converge_lr=0.1,
        converge_steps=300,
    ),
    OptimizerCase(
        id="adamaxw",
        name="adamaxw",
        kwargs={"weight_decay": 1e-2},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "weight_decay": st.floats(0.0, 1.0)},
        invalid=(({"weight_decay": -1e-4}, "weight_decay"), ({"b2": 1.5}, "b2")),
    ),
]
