"""Shared-test cases for AdaHessian (see optimizer_case.py).

AdaHessian's update needs the loss (or a Hessian-vector product) as an extra
argument. ``OptimizerCase.extra_args`` are fixed values, so the shared tests
get a fixed loss that works on *any* parameter tree (mixed, bf16, sharded,
scalar leaves): per leaf ``0.5 * sum(c * x**2) + 0.05 * sum(x)**2`` with a
position-dependent ``c`` in [0.5, 2.5]. Its Hessian is not diagonal, so every
Hutchinson draw differs. It is not the loss the shared parity/convergence
tests train on (those pass the loss as ``value`` only): there the Hessian
estimate is a fixed preconditioner, and the shared tests check the mechanics
(jit/pmap, dtypes, sharding, counters, validation, learning rate). The
Hessian itself is tested against NumPy in ``test_hessian.py``.

The functions are wrapped in ``jax.tree_util.Partial`` (a pytree with no
leaves) because several shared tests pass the extra arguments to a jitted
``opt.update``, and a plain function is not a valid jit argument.

No optax twin (optax has no AdaHessian): ``optax_parity=False``; complex
parameters are rejected at init (``complex_checked=False``).
"""

import jax
import jax.numpy as jnp
from hypothesis import strategies as st
from optimizer_case import OptimizerCase


def _curvature(x):
    idx = jnp.arange(x.size, dtype=jnp.float32).reshape(jnp.shape(x))
    return 1.5 + jnp.sin(idx)


def shared_loss(params):
    def leaf(x):
        x = jnp.asarray(x, jnp.float32)
        return 0.5 * jnp.sum(_curvature(x) * x**2) + 0.05 * jnp.sum(x) ** 2

    return sum(leaf(x) for x in jax.tree_util.tree_leaves(params))


def shared_hvp(params, v):
    """``H v`` of :func:`shared_loss`, written out (no autodiff)."""

    def leaf(x, t):
        tf = jnp.asarray(t, jnp.float32)
        hv = _curvature(tf) * tf + 0.1 * jnp.sum(tf)
        return hv.astype(jnp.result_type(x))

    return jax.tree_util.tree_map(leaf, params, v)


# Integers that set shapes and loop lengths: named in the kwargs so that the
# inject_hyperparams test passes them as static_args (as adafactor's cases do
# with min_dim_size_to_factor).
_STATIC = {"spatial_average_size": 1, "num_samples": 1}

_INVALID = (
    ({"b1": 1.0}, "b1"),
    ({"b2": -0.1}, "b2"),
    ({"eps": -1e-4}, "eps"),
    ({"hessian_power": 1.5}, "hessian_power"),
    ({"spatial_average_size": 0}, "spatial_average_size"),
    ({"spatial_average_size": 2.0}, "spatial_average_size"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"mu_dtype": "int32"}, "mu_dtype"),
    ({"key": -1}, "key"),
    ({"key": "seed"}, "key"),
    ({"num_samples": 0}, "num_samples"),
)
_HP = {
    "b1": st.floats(0.0, 0.99),
    "b2": st.floats(0.0, 0.999),
    "eps": st.floats(1e-8, 1e-2),
    "hessian_power": st.floats(0.0, 1.0),
}

CASES = [
    OptimizerCase(
        id="adahessian",
        name="adahessian",
        kwargs=_STATIC,
        optax_parity=False,
        extra_args={"loss_fn": jax.tree_util.Partial(shared_loss)},
        converge_lr=0.3,
        converge_steps=100,
        hyperparams=_HP,
        invalid=_INVALID,
        complex_checked=False,
    ),
    OptimizerCase(
        id="adahessian_hvp_fn",
        name="adahessian",
        kwargs={
            **_STATIC,
            "hessian_power": 0.5,
            "weight_decay": 1e-3,
            "num_samples": 2,
        },
        optax_parity=False,
        extra_args={"hvp_fn": jax.tree_util.Partial(shared_hvp)},
        converge_lr=0.3,
        converge_steps=100,
        hyperparams=_HP,
        complex_checked=False,
    ),
]
