"""Shared-test cases for SGD with annealed gradient noise (noisy_sgd).

lrjax draws the noise as optax does (the same key splits, the same
``jax.random.normal`` calls), so the parity tests compare the same noisy
trajectories; ``eta = 0`` is plain SGD. The noise's law against the formula
``eta / (1 + t)**gamma`` is tested in test_noise.py.
"""

import jax.numpy as jnp
from hypothesis import strategies as st
from optimizer_case import OptimizerCase


def _cosine(peak, steps):
    """``peak * (1 + cos(pi * t / steps)) / 2``, 0 from ``steps`` on."""

    def schedule(t):
        frac = jnp.minimum(jnp.asarray(t, jnp.float32), steps) / steps
        return peak * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))

    return schedule


_INVALID = (
    ({"eta": -0.01}, "eta"),
    ({"gamma": -1.0}, "gamma"),
    ({"key": "zero"}, "key"),
    ({"key": 1.5}, "key"),
    ({"key": 0, "seed": 1}, "seed"),
)

CASES = [
    OptimizerCase(
        id="noisy_sgd",
        name="noisy_sgd",
        kwargs={"eta": 0.01, "gamma": 0.55, "key": 0},
        learning_rate=1e-2,
        has_tree_state=False,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"eta": st.floats(0.0, 1.0), "gamma": st.floats(0.0, 2.0)},
        invalid=_INVALID,
    ),
    # Large noise that does not decay: the parity test then compares
    # trajectories that the noise dominates. At a constant rate the loss
    # settles at a noise floor (0.51 from 25.7 at lr = 0.1): it converges
    # with a decaying rate.
    OptimizerCase(
        id="noisy_sgd_loud",
        name="noisy_sgd",
        kwargs={"eta": 1.0, "gamma": 0.0, "key": 42},
        learning_rate=1e-2,
        has_tree_state=False,
        converge_lr=_cosine(0.1, 300),
        converge_steps=300,
    ),
    OptimizerCase(
        id="noisy_sgd_silent",
        name="noisy_sgd",
        kwargs={"eta": 0.0, "key": 1},
        learning_rate=1e-2,
        has_tree_state=False,
    ),
]
