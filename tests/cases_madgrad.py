"""Shared-test cases for MADGRAD against ``optax.contrib.madgrad`` (see optimizer_case.py)."""

import optax.contrib
from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="madgrad",
        name="madgrad",
        # optax.contrib's cbrt rejects complex values: no complex twin.
        complex_checked=False,
        # optax.contrib computes sqrt(count + 1) in float32, so *it* is off
        # by 5e-9 in float64; lrjax's float64 steps are checked against
        # NumPy instead (test_madgrad.py::test_madgrad_float64).
        float64_exact=False,
        optax_module=optax.contrib,
        state_holds_params=True,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"momentum": UNIT, "weight_decay": st.floats(0.0, 0.1)},
        invalid=(
            ({"momentum": 1.0}, "momentum"),
            ({"momentum": -0.1}, "momentum"),
            ({"eps": -1e-6}, "eps"),
            ({"weight_decay": -1.0}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="madgrad_decay",
        name="madgrad",
        # optax.contrib's cbrt rejects complex values: no complex twin.
        complex_checked=False,
        # optax.contrib computes sqrt(count + 1) in float32, so *it* is off
        # by 5e-9 in float64; lrjax's float64 steps are checked against
        # NumPy instead (test_madgrad.py::test_madgrad_float64).
        float64_exact=False,
        kwargs={"momentum": 0.5, "weight_decay": 1e-2},
        optax_module=optax.contrib,
        state_holds_params=True,
        converge_lr=0.1,
        converge_steps=300,
    ),
]
