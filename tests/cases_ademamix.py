"""Shared-test cases for AdEMAMix and simplified AdEMAMix against their
``optax.contrib`` twins (see optimizer_case.py).
"""

import optax.contrib
from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="ademamix",
        name="ademamix",
        kwargs={"weight_decay": 1e-3},
        optax_module=optax.contrib,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "b3": UNIT, "alpha": st.floats(0, 10)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.5}, "b2"),
            ({"b3": 1.5}, "b3"),
            ({"alpha": -1.0}, "alpha"),
            ({"eps": -1e-8}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
            ({"weight_decay": -1.0}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="ademamix_short_b3_f32",
        name="ademamix",
        kwargs={"b3": 0.99, "alpha": 2.0, "mu_dtype": "float32", "eps_root": 1e-8},
        optax_module=optax.contrib,
        # mu_dtype="float32" keeps the moments in float32 under float64 params.
        float64_exact=False,
        converge_lr=0.1,
        converge_steps=300,
    ),
    OptimizerCase(
        id="simplified_ademamix",
        name="simplified_ademamix",
        kwargs={"alpha": 2.0, "weight_decay": 1e-3},
        learning_rate=1e-3,
        optax_module=optax.contrib,
        # optax.contrib squares complex gradients (g * g, not |g|**2): no twin.
        complex_checked=False,
        converge_lr=0.01,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "alpha": st.floats(0, 10)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": 1.0}, "b2"),
            ({"alpha": -1.0}, "alpha"),
            ({"eps": -1e-8}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
        ),
    ),
]
