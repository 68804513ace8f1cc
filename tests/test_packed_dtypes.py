"""``lrjax.packed`` and packed parameters beyond float32: float16, complex64,
float64 and a tree mixing them, each dtype in its own buffer.

References: the unwrapped lrjax optimizer (the arithmetic packing must not
change) and optax's Adam/SGD (independent), per dtype; the complex gradient
through ``unpack_params`` against the gradient of the unpacked tree.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

MIN_SIZE = 1000


def _leaf(r, shape, dtype, floor=0.0):
    """Random values, ``|x| >= floor`` if asked (real part, for complex)."""
    x = r.randn(*shape)
    x = np.sign(x) * (floor + np.abs(x)) + 0.5 * (floor == 0.0)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return jnp.asarray(x + 1j * r.randn(*shape), dtype)
    return jnp.asarray(x, dtype)


def tree_of(dtype, seed=0, floor=0.0):
    r = np.random.RandomState(seed)
    return {
        "w": _leaf(r, (6, 5), dtype, floor),
        "b": _leaf(r, (5,), dtype, floor),
        "deep": [_leaf(r, (3, 2), dtype, floor), _leaf(r, (4,), dtype, floor)],
    }


def grads_at(params, step):
    return jax.tree_util.tree_map(
        lambda p: (p * (0.3 + 0.1 * step)).astype(p.dtype), params
    )


def run(opt, params, steps=4):
    update = jax.jit(opt.update)
    state = opt.init(params)
    for step in range(steps):
        updates, state = update(grads_at(params, step), state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def tolerance(dtype):
    # float16: about 3 decimal digits, over four steps; complex64 as float32.
    return {
        jnp.dtype(jnp.float16): 4e-3,
        jnp.dtype(jnp.float32): 1e-6,
        jnp.dtype(jnp.complex64): 1e-6,
        jnp.dtype(jnp.float64): 1e-13,
    }[jnp.dtype(dtype)]


def assert_tree_close(a, b, dtype):
    chex.assert_trees_all_equal_dtypes(a, b)
    chex.assert_trees_all_equal_shapes(a, b)
    tol = tolerance(dtype)
    chex.assert_trees_all_close(a, b, rtol=tol, atol=tol)


PAIRS = {
    "adam": (lambda: lrjax.adam(1e-2), lambda: optax.adam(1e-2)),
    "sgd_momentum": (
        lambda: lrjax.sgd(1e-2, momentum=0.9),
        lambda: optax.sgd(1e-2, momentum=0.9),
    ),
}


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.complex64])
def test_packed_matches_unwrapped_and_optax(name, dtype):
    make_lrjax, make_optax = PAIRS[name]
    # Some gradients near 1e-3: in float16, optax's Adam squares them to 0
    # and divides by eps = 0 (inf), lrjax's does not; packing must keep that.
    params = tree_of(dtype)
    packed_params, state = run(lrjax.packed(make_lrjax(), MIN_SIZE), params)
    plain_params, _ = run(make_lrjax(), params)
    chex.assert_tree_all_finite(packed_params)
    # One buffer, of the parameters' dtype, holds every leaf.
    (buffer,) = jax.tree_util.tree_leaves(
        state.inner[0].mu if name == "adam" else state.inner[0].trace
    )
    assert buffer.dtype == jnp.dtype(dtype) and buffer.shape == (30 + 5 + 6 + 4,)
    assert_tree_close(packed_params, plain_params, dtype)
    # Against optax, with every |x| >= 0.25 so its float16 moments stay normal.
    params = tree_of(dtype, floor=0.25)
    packed_params, _ = run(lrjax.packed(make_lrjax(), MIN_SIZE), params)
    optax_params, _ = run(make_optax(), params)
    assert_tree_close(packed_params, optax_params, dtype)


@pytest.mark.parametrize("name", list(PAIRS))
def test_packed_float64_matches_unwrapped_and_optax(name):
    make_lrjax, make_optax = PAIRS[name]
    with jax.enable_x64(True):
        params = tree_of(jnp.float64)
        packed_params, _ = run(lrjax.packed(make_lrjax(), MIN_SIZE), params)
        plain_params, _ = run(make_lrjax(), params)
        optax_params, _ = run(make_optax(), params)
        assert_tree_close(packed_params, plain_params, jnp.float64)
        assert_tree_close(packed_params, optax_params, jnp.float64)


def test_mixed_dtypes_get_one_buffer_each_and_match_optax():
    r = np.random.RandomState(3)
    params = {
        "h": _leaf(r, (4, 3), jnp.float16),
        "b": _leaf(r, (5, 2), jnp.bfloat16),
        "f": _leaf(r, (7,), jnp.float32),
        "c": _leaf(r, (2, 3), jnp.complex64),
        "f2": _leaf(r, (3,), jnp.float32),
    }
    packed = lrjax.pack_params(params, MIN_SIZE)
    by_dtype = {b.dtype: b.shape for b in packed.buffers}
    assert by_dtype == {
        jnp.dtype(jnp.float16): (12,),
        jnp.dtype(jnp.bfloat16): (10,),
        jnp.dtype(jnp.float32): (10,),
        jnp.dtype(jnp.complex64): (6,),
    }
    ours, _ = run(lrjax.packed(lrjax.adam(1e-2), MIN_SIZE), params)
    theirs, _ = run(optax.adam(1e-2), params)
    chex.assert_trees_all_equal_dtypes(ours, theirs)
    for key, dtype in [("h", jnp.float16), ("f", jnp.float32), ("c", jnp.complex64)]:
        assert_tree_close(ours[key], theirs[key], dtype)
    # bfloat16: 8 bits of mantissa.
    chex.assert_trees_all_close(
        ours["b"].astype(jnp.float32), theirs["b"].astype(jnp.float32), rtol=2e-2
    )


def test_complex_gradient_through_unpack_params_equals_the_tree_gradient():
    params = tree_of(jnp.complex64, seed=4)
    x = jnp.asarray(np.random.RandomState(5).randn(5), jnp.complex64)

    def loss(tree):
        y = tree["w"] @ x
        extra = sum(jnp.sum(jnp.abs(leaf) ** 2) for leaf in tree["deep"])
        return jnp.sum(jnp.abs(y) ** 2) + jnp.sum(jnp.abs(tree["b"] * x) ** 2) + extra

    flat = lrjax.pack_params(params, MIN_SIZE)
    packed_grad = jax.jit(jax.grad(lambda f: loss(lrjax.unpack_params(f))))(flat)
    tree_grad = jax.grad(loss)(params)
    # The gradient comes out packed: the tree's gradient, concatenated.
    expected = jnp.concatenate(
        [jnp.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree_grad)]
    )
    (buffer,) = packed_grad.buffers
    assert buffer.dtype == jnp.complex64
    np.testing.assert_allclose(np.asarray(buffer), np.asarray(expected), rtol=1e-5)
    # And the tree read back is the tree that went in.
    chex.assert_trees_all_equal(lrjax.unpack_params(flat), params)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_eager_steps_match_jitted_steps(dtype):
    """No jit anywhere: the cuts' branch and the packing run op by op."""
    params = tree_of(dtype, seed=6)
    opt = lrjax.packed(lrjax.adam(1e-2), MIN_SIZE)
    jitted, _ = run(opt, params)
    state, eager = opt.init(params), params
    for step in range(4):
        updates, state = opt.update(grads_at(eager, step), state, eager)
        eager = optax.apply_updates(eager, updates)
    assert_tree_close(eager, jitted, dtype)
