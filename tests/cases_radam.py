"""Shared-test cases for RAdam (see optimizer_case.py).

Every case has an identical optax optimizer. Cases with float32 moment dtypes
run in parity on float32 params (a no-op there) and, in the bf16 test, keep
float32 moments for bf16 params: mixed dtypes are exercised without leaving
optax's numerics.
"""

from hypothesis import strategies as st
from optimizer_case import ADAM_INVALID, EPS, F32_MOMENTS, UNIT, OptimizerCase

CASES = [
    # 200 parity steps cover both regimes: momentum SGD for steps 1-5, the
    # rectified adaptive step from step 6 (b2 = 0.999). lrjax's rho_t is more
    # accurate than optax's float32 b2**t (see scale_by_radam): measured
    # 1.7e-5 relative difference after 200 steps, inside the default rtol.
    OptimizerCase(
        id="radam",
        name="radam",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={
            "b1": UNIT,
            "b2": UNIT,
            "eps": EPS,
            "threshold": st.floats(4.0, 50.0),
        },
        invalid=ADAM_INVALID
        + (
            ({"threshold": 3.0}, "threshold"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
        ),
    ),
    OptimizerCase(
        id="radam_nesterov",
        name="radam",
        kwargs={"nesterov": True, "threshold": 8.0, "eps_root": 1e-8},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT},
    ),
    OptimizerCase(
        id="radam_f32_moments",
        name="radam",
        kwargs={"b2": 0.99},
        lrjax_kwargs=F32_MOMENTS,
        converge_lr=0.1,
        converge_steps=300,
    ),
]
