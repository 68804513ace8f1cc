"""Shared-test cases for AMSGrad (see optimizer_case.py).

Every case has an identical optax optimizer. Cases with float32 moment dtypes
run in parity on float32 params (a no-op there) and, in the bf16 test, keep
float32 moments for bf16 params: mixed dtypes are exercised without leaving
optax's numerics.
"""

from optimizer_case import ADAM_INVALID, EPS, UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="amsgrad",
        name="amsgrad",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "eps": EPS},
        invalid=ADAM_INVALID
        + (
            ({"eps_root": -1.0}, "eps_root"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
            ({"nu_dtype": "int8"}, "nu_dtype"),
            ({"bias_correction_nu": 1}, "bias_correction_nu"),
        ),
    ),
    OptimizerCase(
        id="amsgrad_paper_form",
        name="amsgrad",
        kwargs={"bias_correction_mu": False, "bias_correction_nu": False},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT},
    ),
    OptimizerCase(
        id="amsgrad_f32_moments",
        name="amsgrad",
        kwargs={"mu_dtype": "float32", "eps_root": 1e-8},
        lrjax_kwargs={"nu_dtype": "float32"},
        converge_lr=0.1,
        converge_steps=300,
    ),
]
