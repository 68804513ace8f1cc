"""Shared-test cases for Lion, LAMB, LARS and Adafactor (see optimizer_case.py).

Sign-based (Lion) and normalised (LAMB, LARS) steps keep a fixed length, so
with a constant rate they circle the optimum instead of settling; their
convergence cases use a cosine-decayed rate (``_cosine``), as they are used in
practice. Adafactor's cases set ``min_dim_size_to_factor`` small, or use a
tree with 128-wide matrices, so that the factored statistics are exercised.
"""

import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

_decay = st.floats(0.0, 0.1)


def _cosine(peak, steps):
    """``peak * (1 + cos(pi * t / steps)) / 2``, 0 from ``steps`` on."""

    def schedule(t):
        frac = jnp.minimum(jnp.asarray(t, jnp.float32), steps) / steps
        return peak * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))

    return schedule


def _wide_params():
    """Leaves whose two largest axes reach the default min_dim_size_to_factor."""
    r = np.random.RandomState(0)
    return {
        "kernel": jnp.asarray(r.randn(128, 130), jnp.float32),
        "conv": jnp.asarray(r.randn(3, 128, 129), jnp.float32),
        "bias": jnp.asarray(r.randn(130), jnp.float32),
        "scale": jnp.asarray(0.5, jnp.float32),
    }


_ADAFACTOR_INVALID = (
    ({"decay_rate": -0.8}, "decay_rate"),
    ({"decay_offset": -1}, "decay_offset"),
    ({"clipping_threshold": 0.0}, "clipping_threshold"),
    ({"momentum": 1.0}, "momentum"),
    ({"eps": -1e-30}, "eps"),
    ({"min_dim_size_to_factor": 0}, "min_dim_size_to_factor"),
    ({"dtype_momentum": "int32"}, "dtype_momentum"),
    ({"weight_decay_rate": -1e-3}, "weight_decay_rate"),
    ({"factored": "yes"}, "factored"),
    ({"multiply_by_parameter_scale": 1}, "multiply_by_parameter_scale"),
)

CASES = [
    OptimizerCase(
        id="lion",
        name="lion",
        converge_lr=_cosine(0.05, 200),
        converge_steps=200,
        hyperparams={"b1": st.floats(0.0, 1.0), "b2": UNIT, "weight_decay": _decay},
        invalid=(
            ({"b1": 1.5}, "b1"),
            ({"b2": 1.0}, "b2"),
            ({"weight_decay": -1e-3}, "weight_decay"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
        ),
    ),
    # A half-precision momentum, as optax's mu_dtype gives. (float16 rather
    # than bfloat16: _validation.check_dtype rejects bfloat16, see the report.)
    OptimizerCase(
        id="lion_mu_float16",
        name="lion",
        kwargs={"mu_dtype": jnp.float16, "weight_decay": 0.0},
        converge_lr=_cosine(0.05, 200),
        converge_steps=200,
        hyperparams={"b1": st.floats(0.0, 1.0), "b2": UNIT},
    ),
    OptimizerCase(
        id="lamb",
        name="lamb",
        kwargs={"weight_decay": 1e-2},
        converge_lr=0.05,
        converge_steps=300,
        hyperparams={
            "b1": UNIT,
            "b2": UNIT,
            "eps": st.floats(1e-10, 1e-3),
            "weight_decay": _decay,
        },
        invalid=(
            ({"b1": -0.1}, "b1"),
            ({"b2": 1.0}, "b2"),
            ({"eps": -1e-6}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"weight_decay": -1e-2}, "weight_decay"),
            ({"nu_dtype": "int32"}, "nu_dtype"),
        ),
    ),
    # LARS's default trust_coefficient 1e-3 makes steps of ~1e-3 * ||w||:
    # a larger rate, decayed, reaches and settles at the optimum.
    OptimizerCase(
        id="lars",
        name="lars",
        learning_rate=0.1,
        converge_lr=_cosine(5.0, 300),
        converge_steps=300,
        hyperparams={
            "momentum": st.floats(0.0, 1.0),
            "trust_coefficient": st.floats(1e-4, 1.0),
            "weight_decay": _decay,
        },
        invalid=(
            ({"momentum": 1.5}, "momentum"),
            ({"trust_coefficient": -1e-3}, "trust_coefficient"),
            ({"eps": -1.0}, "eps"),
            ({"weight_decay": -1e-4}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="lars_nesterov",
        name="lars",
        kwargs={"nesterov": True, "weight_decay": 1e-3},
        learning_rate=0.1,
        converge_lr=_cosine(5.0, 300),
        converge_steps=300,
        hyperparams={"momentum": UNIT, "weight_decay": _decay},
    ),
    # Default arguments: nothing in the mixed test tree reaches 128, so the
    # variants run on a tree whose matrices (2-D and 3-D) are factored.
    OptimizerCase(
        id="adafactor",
        name="adafactor",
        # Passed explicitly so that inject_hyperparams keeps it static: it
        # decides the state's shapes, so it cannot be traced (as in optax).
        kwargs={"min_dim_size_to_factor": 128},
        learning_rate=0.1,
        converge_lr=0.1,
        converge_steps=150,
        params_for_variants=_wide_params,
        hyperparams={
            "decay_rate": st.floats(0.0, 1.0),
            "clipping_threshold": st.floats(0.1, 10.0),
        },
        invalid=_ADAFACTOR_INVALID,
    ),
    OptimizerCase(
        id="adafactor_factored",
        name="adafactor",
        kwargs={"min_dim_size_to_factor": 2},
        learning_rate=0.1,
        converge_lr=0.1,
        converge_steps=150,
        hyperparams={"decay_rate": st.floats(0.0, 1.0), "eps": st.floats(0.0, 1e-3)},
    ),
    OptimizerCase(
        id="adafactor_momentum",
        name="adafactor",
        kwargs={
            "min_dim_size_to_factor": 2,
            "momentum": 0.9,
            "weight_decay_rate": 1e-3,
        },
        learning_rate=0.1,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"momentum": UNIT, "weight_decay_rate": _decay},
    ),
]
