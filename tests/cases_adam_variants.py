"""Shared-test cases for Adam's variants (see optimizer_case.py).

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
        id="amsgrad",
        name="amsgrad",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "eps": _eps},
        invalid=_common_invalid
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
        hyperparams={"b1": _unit, "b2": _unit},
    ),
    OptimizerCase(
        id="amsgrad_f32_moments",
        name="amsgrad",
        kwargs={"mu_dtype": "float32", "eps_root": 1e-8},
        lrjax_kwargs={"nu_dtype": "float32"},
        converge_lr=0.1,
        converge_steps=300,
    ),
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
            "b1": _unit,
            "b2": _unit,
            "eps": _eps,
            "threshold": st.floats(4.0, 50.0),
        },
        invalid=_common_invalid
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
        hyperparams={"b1": _unit, "b2": _unit},
    ),
    OptimizerCase(
        id="radam_f32_moments",
        name="radam",
        kwargs={"b2": 0.99},
        lrjax_kwargs=_f32,
        converge_lr=0.1,
        converge_steps=300,
    ),
    OptimizerCase(
        id="adabelief",
        name="adabelief",
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "eps": _eps, "eps_root": _eps},
        invalid=_common_invalid
        + (({"eps_root": -1e-16}, "eps_root"), ({"nu_dtype": "int32"}, "nu_dtype")),
    ),
    OptimizerCase(
        id="adabelief_nesterov_paper_eps",
        name="adabelief",
        kwargs={"nesterov": True, "eps": 1e-8, "eps_root": 1e-8},
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit},
    ),
    OptimizerCase(
        id="adabelief_f32_moments",
        name="adabelief",
        lrjax_kwargs=_f32,
        converge_lr=0.1,
        converge_steps=300,
    ),
]
