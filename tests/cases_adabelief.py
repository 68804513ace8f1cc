"""Shared-test cases for AdaBelief (see optimizer_case.py).

Every case has an identical optax optimizer. Cases with float32 moment dtypes
run in parity on float32 params (a no-op there) and, in the bf16 test, keep
float32 moments for bf16 params: mixed dtypes are exercised without leaving
optax's numerics.
"""

from optimizer_case import ADAM_INVALID, EPS, F32_MOMENTS, UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="adabelief",
        name="adabelief",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "eps": EPS, "eps_root": EPS},
        invalid=ADAM_INVALID
        + (({"eps_root": -1e-16}, "eps_root"), ({"nu_dtype": "int32"}, "nu_dtype")),
    ),
    OptimizerCase(
        id="adabelief_nesterov_paper_eps",
        name="adabelief",
        kwargs={"nesterov": True, "eps": 1e-8, "eps_root": 1e-8},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT},
    ),
    OptimizerCase(
        id="adabelief_f32_moments",
        name="adabelief",
        lrjax_kwargs=F32_MOMENTS,
        converge_lr=0.1,
        converge_steps=300,
    ),
]
