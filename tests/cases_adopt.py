"""Shared-test cases for ADOPT against ``optax.contrib.adopt`` (see optimizer_case.py)."""

import optax.contrib
from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="adopt",
        name="adopt",
        optax_module=optax.contrib,
        zero_first_updates=1,
        # optax.contrib's jnp.clip rejects complex values: no complex twin.
        complex_checked=False,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "eps": st.floats(1e-8, 1e-3)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.5}, "b2"),
            ({"eps": -1e-6}, "eps"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
            ({"nesterov": 1}, "nesterov"),
            ({"use_clipping": "yes"}, "use_clipping"),
            ({"clip_value_fn": -1.0}, "clip_value_fn"),
            ({"clip_value_fn": "sqrt"}, "clip_value_fn"),
        ),
    ),
    OptimizerCase(
        id="adopt_nesterov_unclipped",
        name="adopt",
        kwargs={"nesterov": True, "use_clipping": False, "b2": 0.999},
        optax_module=optax.contrib,
        zero_first_updates=1,
        converge_lr=0.1,
        converge_steps=300,
    ),
]
