"""Shared-test cases for Sophia against ``optax.contrib.sophia`` (see optimizer_case.py)."""

import jax
import jax.numpy as jnp
import optax.contrib
from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase


def _separable_objective(params):
    """A loss for any params tree: sum of |x|**2 / 2 + |x|**4 / 20.

    Sophia's estimator differentiates it twice; its Hessian is diagonal
    (``1 + 0.6 x**2`` for real ``x``), so Hutchinson's estimate is exact.
    """
    total = 0.0
    for x in jax.tree_util.tree_leaves(params):
        sq = jnp.real(x * jnp.conj(x)).astype(jnp.float32)
        total = total + jnp.sum(0.5 * sq + 0.05 * sq**2)
    return total


# A pytree-compatible callable, so it passes through jax.jit as an argument.
_OBJ_FN = {"obj_fn": jax.tree_util.Partial(_separable_objective)}

CASES = [
    OptimizerCase(
        id="sophia",
        name="sophia",
        # gamma, b2 and the interval make h large enough that most steps are
        # not clipped on the parity problem (gradients ~ -100).
        kwargs={"gamma": 100.0, "b2": 0.5, "update_interval": 2},
        optax_module=optax.contrib,
        extra_args=_OBJ_FN,
        # optax.contrib's jnp.clip rejects complex values: no complex twin.
        complex_checked=False,
        # |u| ~ |g| / (gamma * h) ~ 0.01 |g| unclipped: a larger rate.
        converge_lr=3.0,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT, "gamma": st.floats(0.0, 100.0)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.5}, "b2"),
            ({"eps": 0.0}, "eps"),
            ({"gamma": -1.0}, "gamma"),
            ({"clip_threshold": 0.0}, "clip_threshold"),
            ({"update_interval": 0}, "update_interval"),
            ({"update_interval": 2.5}, "update_interval"),
            ({"hessian_diagonal_fn": "hutchinson"}, "hessian_diagonal_fn"),
            ({"verbose": True}, "print_win_rate_every_n_steps"),
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
        ),
    ),
    OptimizerCase(
        id="sophia_default",
        name="sophia",
        optax_module=optax.contrib,
        extra_args=_OBJ_FN,
        complex_checked=False,
        converge_lr=0.1,
        converge_steps=300,
    ),
]
