"""Shared-test cases for Adamax and AdamaxW (see optimizer_case.py).

Every case has an identical optax optimizer. Cases with float32 moment dtypes
run in parity on float32 params (a no-op there) and, in the bf16 test, keep
float32 moments for bf16 params: mixed dtypes are exercised without leaving
optax's numerics.
"""

from hypothesis import strategies as st
from optimizer_case import ADAM_INVALID, EPS, F32_MOMENTS, UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="adamax",
        name="adamax",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "eps": EPS},
        invalid=ADAM_INVALID + (({"nu_dtype": "int32"}, "nu_dtype"),),
    ),
    OptimizerCase(
        id="adamax_f32_moments",
        name="adamax",
        lrjax_kwargs=F32_MOMENTS,
        converge_lr=0.1,
        converge_steps=300,
    ),
    OptimizerCase(
        id="adamaxw",
        name="adamaxw",
        kwargs={"weight_decay": 1e-2},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "weight_decay": st.floats(0.0, 1.0)},
        invalid=(({"weight_decay": -1e-4}, "weight_decay"), ({"b2": 1.5}, "b2")),
    ),
]
