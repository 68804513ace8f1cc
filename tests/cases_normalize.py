"""Shared-test cases for Fromage and the normalising and clipping blocks.

The blocks ``normalize_by_update_norm`` and ``adaptive_grad_clip`` are not
optimizers: each case chains one in front of plain SGD, in lrjax and in
optax alike (``factory``/``optax_factory``), so that the block goes through
every shared test. Normalised steps keep a fixed length, so those converge
with a cosine-decayed rate. ``centralize`` has no case here: it keeps the
mean of each row of a matrix fixed, so the shared convergence test (a
matrix whose target has other row means) cannot pass; its tests, against
optax and NumPy, are in test_normalize.py.
"""

import jax.numpy as jnp
import optax
from hypothesis import strategies as st
from optimizer_case import OptimizerCase

import lrjax


def _cosine(peak, steps):
    """``peak * (1 + cos(pi * t / steps)) / 2``, 0 from ``steps`` on."""

    def schedule(t):
        frac = jnp.minimum(jnp.asarray(t, jnp.float32), steps) / steps
        return peak * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))

    return schedule


def normalized_sgd(learning_rate, scale_factor=1.0, eps=1e-6):
    return lrjax.chain(
        lrjax.normalize_by_update_norm(scale_factor, eps), lrjax.sgd(learning_rate)
    )


def optax_normalized_sgd(learning_rate, scale_factor=1.0, eps=1e-6):
    return optax.chain(
        optax.normalize_by_update_norm(scale_factor, eps), optax.sgd(learning_rate)
    )


def agc_sgd(learning_rate, clipping=0.01, eps=1e-3):
    return lrjax.chain(
        lrjax.adaptive_grad_clip(clipping, eps), lrjax.sgd(learning_rate)
    )


def optax_agc_sgd(learning_rate, clipping=0.01, eps=1e-3):
    return optax.chain(
        optax.adaptive_grad_clip(clipping, eps), optax.sgd(learning_rate)
    )


_BLOCK = {"has_tree_state": False}

CASES = [
    OptimizerCase(
        id="fromage",
        name="fromage",
        learning_rate=1e-2,
        converge_lr=_cosine(0.2, 300),
        converge_steps=300,
        leaf_local=False,
        has_tree_state=False,
        # The trust ratio multiplies by the parameter's norm and returns the
        # parameter's dtype (lrjax's scale_by_trust_ratio, as for LARS).
        scalar_leaf_takes_state_dtype=True,
        hyperparams={"min_norm": st.floats(0.0, 1e-3)},
        invalid=(
            ({"min_norm": -1.0}, "min_norm"),
            ({"learning_rate": -0.1}, "learning_rate"),
        ),
    ),
    OptimizerCase(
        id="normalize_by_update_norm_sgd",
        name="normalize_by_update_norm",
        factory=normalized_sgd,
        optax_factory=optax_normalized_sgd,
        kwargs={"scale_factor": 2.0},
        learning_rate=1e-2,
        converge_lr=_cosine(0.5, 300),
        converge_steps=300,
        leaf_local=False,
        hyperparams={"scale_factor": st.floats(0.0, 10.0), "eps": st.floats(0.0, 1.0)},
        invalid=(
            ({"eps": -1.0}, "eps"),
            ({"scale_factor": float("nan")}, "scale_factor"),
        ),
        **_BLOCK,
    ),
    OptimizerCase(
        id="adaptive_grad_clip_sgd",
        name="adaptive_grad_clip",
        factory=agc_sgd,
        optax_factory=optax_agc_sgd,
        kwargs={"clipping": 0.5},
        learning_rate=1e-2,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"clipping": st.floats(1e-3, 10.0), "eps": st.floats(0.0, 1.0)},
        invalid=(({"clipping": 0.0}, "clipping"), ({"eps": -1.0}, "eps")),
        **_BLOCK,
    ),
]
