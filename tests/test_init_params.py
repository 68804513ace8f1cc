"""What ``init`` accepts: abstract shapes, and only parameters that can move.

References: ``jax.eval_shape`` and optax's same-named optimizer for abstract
init; the rule that integer and boolean leaves cannot be optimized.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from optimizer_case import REPRESENTATIVE_IDS, all_cases, representatives_first

import lrjax

CASES = all_cases()
by_id = pytest.mark.parametrize("case", CASES, ids=str)


def _params():
    r = np.random.RandomState(0)
    return {
        "w": jnp.asarray(r.randn(4, 3), jnp.float32),
        "b": jnp.asarray(r.randn(3), jnp.bfloat16),
        "s": jnp.asarray(0.5, jnp.float32),
    }


def _abstract(tree):
    return jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree
    )


# --------------------------------------------------------------------------
# Abstract init (restore targets, sharding plans).


@by_id
def test_init_accepts_shape_dtype_structs(case):
    params = _params()
    opt = case.make()
    concrete = opt.init(params)
    state = opt.init(_abstract(params))
    # Same structure, shapes, dtypes and initial values as a concrete init.
    chex.assert_trees_all_equal_structs(state, concrete)
    chex.assert_trees_all_equal_shapes_and_dtypes(state, concrete)
    if not case.state_holds_params:  # a copy of the params needs their values
        chex.assert_trees_all_equal(state, concrete)
    # And eval_shape of init on abstract params works (optax's idiom).
    shapes = jax.eval_shape(opt.init, _abstract(params))
    chex.assert_trees_all_equal_shapes_and_dtypes(shapes, concrete)


# Cases whose lrjax-only keywords (a nu_dtype, say) change the state are left out.
SAME_STATE_AS_OPTAX = [
    c for c in CASES if c.optax_parity and not c.lrjax_kwargs and c.per_leaf_state
]


@pytest.mark.parametrize("case", SAME_STATE_AS_OPTAX, ids=str)
def test_abstract_init_matches_optax_shapes(case):
    params = _abstract(_params())
    state = case.make().init(params)
    mine = [(x.shape, x.dtype) for x in jax.tree_util.tree_leaves(state)]
    # eval_shape: some optax.contrib inits cannot take abstract leaves.
    theirs = jax.tree_util.tree_leaves(jax.eval_shape(case.make_optax().init, params))
    # optax keeps no learning-rate record, so compare its per-parameter
    # buffers: every optax buffer shaped like a parameter has an lrjax twin.
    shapes = {x.shape for x in jax.tree_util.tree_leaves(params)}
    for leaf in theirs:
        if leaf.ndim and leaf.shape in shapes:
            assert (leaf.shape, leaf.dtype) in mine, (leaf.shape, leaf.dtype)


def test_abstract_init_places_buffers_on_the_declared_sharding():
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    sharding = NamedSharding(mesh, P("data", "model"))
    params = {"w": jax.ShapeDtypeStruct((8, 6), jnp.float32, sharding=sharding)}
    state = lrjax.adam(1e-3).init(params)
    for buf in (state[0].mu["w"], state[0].nu["w"]):
        assert buf.sharding.is_equivalent_to(sharding, 2), buf.sharding


# --------------------------------------------------------------------------
# Integer and boolean parameters are rejected, by path, at init.


def _non_float_cases():
    # Every optimizer with int32 leaves; bool and uint8 are the shared init
    # check's property: representatives by default, the rest slow.
    for case in CASES:
        for dtype in (jnp.int32, jnp.bool_, jnp.uint8):
            shared = dtype != jnp.int32 and case.id not in REPRESENTATIVE_IDS
            yield pytest.param(
                case,
                dtype,
                id=f"{case.id}-{jnp.dtype(dtype).name}",
                marks=pytest.mark.slow if shared else (),
            )


@pytest.mark.parametrize("case, dtype", list(_non_float_cases()))
def test_non_float_parameters_are_rejected_at_init(case, dtype):
    params = {"layer": {"w": jnp.ones((2, 3))}, "step": jnp.zeros((2,), dtype)}
    with pytest.raises(TypeError) as info:
        case.make().init(params)
    msg = str(info.value)
    assert "['step']" in msg and jnp.dtype(dtype).name in msg, msg
    assert "optax.masked" in msg and "optax.multi_transform" in msg, msg


@by_id
def test_abstract_integer_parameters_are_rejected_too(case):
    params = {"n": jax.ShapeDtypeStruct((3,), jnp.int32)}
    with pytest.raises(TypeError, match=r"\['n'\].*int32"):
        case.make().init(params)


@pytest.mark.parametrize("case", representatives_first(CASES))
def test_integer_leaves_excluded_with_multi_transform_train(case):
    params = {"w": jnp.full((3,), 2.0), "step": jnp.asarray(7, jnp.int32)}
    labels = {"w": "train", "step": "frozen"}
    opt = optax.multi_transform(
        {"train": case.make(), "frozen": optax.set_to_zero()}, labels
    )
    state = opt.init(params)
    grads = {"w": jnp.ones((3,)), "step": jnp.zeros((), jnp.int32)}
    for _ in range(case.zero_first_updates + 1):
        updates, state = opt.update(grads, state, params, **case.extra())
    new = optax.apply_updates(params, updates)
    assert new["step"] == 7 and new["step"].dtype == jnp.int32
    assert not np.allclose(new["w"], params["w"])
