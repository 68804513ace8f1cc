"""Parameters kept packed (``lrjax.pack_params`` / ``lrjax.unpack_params``),
and packed optimizers inside Flax ``nnx.Optimizer`` and optax combinators.

References: the same computation on the unpacked tree (plain JAX autodiff,
optax's own Adam and SGD), never the packing code itself.
"""

from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from test_packed import MIN_SIZE, TREES, assert_identical, mixed_tree

import lrjax


def loss_of_tree(tree, x):
    """Touches every leaf non-linearly; float32 whatever the leaf dtype."""
    total = 0.0
    for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
        leaf = leaf.astype(jnp.float32)
        total = total + jnp.sum(jnp.sin(leaf * x + i) ** 2)
    return total


def loss_of_packed(packed, x):
    return loss_of_tree(lrjax.unpack_params(packed), x)


@pytest.mark.parametrize("tree", list(TREES))
def test_unpack_gives_back_the_tree(tree):
    params = TREES[tree]()
    packed = lrjax.pack_params(params, MIN_SIZE)
    assert packed.buffers  # some leaves were packed
    assert_identical(lrjax.unpack_params(packed), params)
    assert_identical(jax.jit(lrjax.unpack_params)(packed), params)
    # The layout is lrjax.packed's: both routes build the same state.
    state = lrjax.packed(lrjax.adam(1e-3), MIN_SIZE).init(params)
    assert packed.layout == state.layout


def test_buffers_hold_the_small_leaves_by_dtype_in_tree_order():
    params = mixed_tree()
    packed = lrjax.pack_params(params, MIN_SIZE)
    f32 = np.concatenate(
        [np.ravel(params["b"]), np.ravel(params["w"])]  # dict keys sorted
    )
    bf16 = np.concatenate([np.ravel(x) for x in params["half"]])
    assert len(packed.buffers) == 2
    by_dtype = {b.dtype: np.asarray(b) for b in packed.buffers}
    np.testing.assert_array_equal(by_dtype[jnp.dtype(jnp.float32)], f32)
    np.testing.assert_array_equal(
        by_dtype[jnp.dtype(jnp.bfloat16)].astype(np.float32), bf16.astype(np.float32)
    )
    # Big leaves and the 0-d scalar stay where they were.
    assert packed.leaves["big"] is params["big"]
    assert packed.leaves["scale"] is params["scale"]
    assert packed.leaves["w"] is None


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("tree", list(TREES))
def test_gradient_comes_out_packed_and_equals_the_tree_gradient(tree, jit):
    params = TREES[tree]()
    packed = lrjax.pack_params(params, MIN_SIZE)
    grad_tree = jax.grad(loss_of_tree)
    grad_packed = jax.grad(loss_of_packed)
    if jit:
        grad_tree, grad_packed = jax.jit(grad_tree), jax.jit(grad_packed)
    expected = grad_tree(params, 0.7)
    got = grad_packed(packed, 0.7)
    assert isinstance(got, lrjax.PackedParams) and got.layout == packed.layout
    assert_identical(lrjax.unpack_params(got), expected)


def test_backward_pass_is_one_concatenate_per_buffer():
    # The cuts' transpose must not scatter each leaf into a zero buffer.
    params = {f"l{i:02d}": jnp.full((3, 4), i + 1.0) for i in range(40)}
    packed = lrjax.pack_params(params)
    lowered = jax.jit(jax.grad(loss_of_packed)).lower(packed, 0.5)
    text = lowered.as_text()
    assert "dynamic_update_slice" not in text and "stablehlo.pad" not in text
    compiled = lowered.compile().as_text()
    assert compiled.count(" concatenate(") == 1  # jnp's nested ones merged
    assert "dynamic-update-slice" not in compiled and " scatter(" not in compiled


def test_forward_mode_and_hessian_vector_products_pass_through():
    params = mixed_tree()
    packed = lrjax.pack_params(params, MIN_SIZE)
    tangent_tree = jax.tree_util.tree_map(lambda p: jnp.ones_like(p) * 0.5, params)
    tangent = lrjax.pack_params(tangent_tree, MIN_SIZE)

    value, slope = jax.jvp(lambda p: loss_of_packed(p, 0.7), (packed,), (tangent,))
    value_ref, slope_ref = jax.jvp(
        lambda p: loss_of_tree(p, 0.7), (params,), (tangent_tree,)
    )
    np.testing.assert_allclose(value, value_ref, rtol=1e-6)
    np.testing.assert_allclose(slope, slope_ref, rtol=1e-6)

    # Forward over reverse, as Sophia and AdaHessian compute H v.
    hvp = jax.jit(
        lambda p, v: jax.jvp(jax.grad(lambda q: loss_of_packed(q, 0.7)), (p,), (v,))[1]
    )
    hvp_ref = jax.jvp(
        jax.grad(lambda q: loss_of_tree(q, 0.7)), (params,), (tangent_tree,)
    )[1]
    got = lrjax.unpack_params(hvp(packed, tangent))
    for a, b in zip(
        jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(hvp_ref), strict=True
    ):
        np.testing.assert_allclose(
            np.asarray(a, np.float32), np.asarray(b, np.float32), rtol=1e-5, atol=1e-6
        )


def test_per_example_gradients_under_vmap():
    params = TREES["many_f32"]()
    packed = lrjax.pack_params(params, MIN_SIZE)
    xs = jnp.array([0.3, -1.2, 2.0])
    got = jax.vmap(jax.grad(loss_of_packed), in_axes=(None, 0))(packed, xs)
    for k, x in enumerate(xs):
        expected = jax.grad(loss_of_tree)(params, x)
        one = jax.tree_util.tree_map(lambda b, k=k: b[k], got)
        assert_identical(lrjax.unpack_params(one), expected)


def train(opt, params, steps, packed_params):
    """``steps`` jitted training steps on ``loss_of_tree``; returns the tree."""
    if packed_params:
        params = lrjax.pack_params(params, MIN_SIZE)
    loss = loss_of_packed if packed_params else loss_of_tree
    state = opt.init(params)

    @jax.jit
    def step(params, state, x):
        grads = jax.grad(loss)(params, x)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for t in range(steps):
        params, state = step(params, state, 0.5 + 0.1 * t)
    return (lrjax.unpack_params(params) if packed_params else params), state


@pytest.mark.parametrize("tree", list(TREES))
def test_training_on_packed_params_equals_training_on_the_tree(tree):
    opt = lrjax.packed(lrjax.adam(optax.linear_schedule(0.1, 0.01, 10)), MIN_SIZE)
    on_tree, tree_state = train(opt, TREES[tree](), 4, packed_params=False)
    on_packed, packed_state = train(opt, TREES[tree](), 4, packed_params=True)
    assert_identical(on_packed, on_tree)
    assert_identical(packed_state, tree_state)  # the same state, either route
    # The rate of the last step, t = 3, of the linear schedule.
    np.testing.assert_allclose(
        lrjax.get_learning_rate(packed_state), 0.1 + (0.01 - 0.1) * 3 / 10, rtol=1e-6
    )


@pytest.mark.parametrize(
    "ours, reference",
    [
        (lambda: lrjax.adam(0.05), lambda: optax.adam(0.05)),
        (lambda: lrjax.sgd(0.1, momentum=0.9), lambda: optax.sgd(0.1, momentum=0.9)),
    ],
    ids=["adam", "sgd-momentum"],
)
def test_training_on_packed_params_matches_optax_on_the_tree(ours, reference):
    params = TREES["many_f32"]()
    got, _ = train(lrjax.packed(ours(), MIN_SIZE), params, 5, packed_params=True)
    expected, _ = train(reference(), params, 5, packed_params=False)
    # Unpacked lrjax.adam and optax.adam differ by up to 3e-6 here already.
    for a, b in zip(
        jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_abstract_parameters():
    shapes = jax.eval_shape(mixed_tree)
    packed = lrjax.pack_params(shapes, MIN_SIZE)
    assert all(isinstance(b, jax.ShapeDtypeStruct) for b in packed.buffers)
    # float32: w (30) and b (5); bfloat16: 12 + 7; "big" and the 0-d stay.
    assert {(b.shape, b.dtype) for b in packed.buffers} == {
        ((35,), jnp.dtype(jnp.float32)),
        ((19,), jnp.dtype(jnp.bfloat16)),
    }
    unpacked = jax.eval_shape(lrjax.unpack_params, packed)
    assert jax.tree_util.tree_structure(unpacked) == jax.tree_util.tree_structure(
        shapes
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(unpacked),
        jax.tree_util.tree_leaves(shapes),
        strict=True,
    ):
        assert (a.shape, a.dtype) == (b.shape, b.dtype)
    state = lrjax.packed(lrjax.adam(1e-3), MIN_SIZE).init(packed)
    assert state.layout == packed.layout


def test_bad_input_is_refused_with_the_reason():
    params = mixed_tree()
    packed = lrjax.pack_params(params, MIN_SIZE)
    with pytest.raises(ValueError, match="min_size"):
        lrjax.pack_params(params, 0)
    with pytest.raises(TypeError, match="already a PackedParams"):
        lrjax.pack_params(packed)
    opt = lrjax.packed(lrjax.adam(1e-3), MIN_SIZE)
    state = opt.init(packed)
    other = lrjax.pack_params(params, 10)  # another layout
    with pytest.raises(ValueError, match="another layout"):
        opt.update(other, state, packed)
    with pytest.raises(ValueError, match="gradients are a tree"):
        opt.update(params, state, packed)


def test_flax_msgpack_round_trip():
    params = mixed_tree()
    opt = lrjax.packed(lrjax.adam(1e-2), MIN_SIZE)
    packed = lrjax.pack_params(params, MIN_SIZE)
    state = opt.init(packed)
    grads = jax.grad(loss_of_packed)(packed, 0.5)
    _, state = opt.update(grads, state, packed)
    blob = flax.serialization.to_bytes({"params": packed, "state": state})
    target = {"params": lrjax.pack_params(params, MIN_SIZE), "state": opt.init(packed)}
    restored = flax.serialization.from_bytes(target, blob)
    assert_identical(restored, {"params": packed, "state": state})


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(4, 8, rngs=rngs)
        self.out = nnx.Linear(8, 2, rngs=rngs)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden(x)))


def nnx_run(tx, steps=4):
    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(lambda m: jnp.sum(m(x) ** 2))(model)
        optimizer.update(model, grads)

    for _ in range(steps):
        step(model, optimizer)
    return nnx.state(model, nnx.Param), optimizer


def test_packed_optimizer_inside_nnx_optimizer():
    packed_params, optimizer = nnx_run(lrjax.packed(lrjax.adam(0.05)))
    plain_params, _ = nnx_run(optax.adam(0.05))
    assert isinstance(optimizer.opt_state, lrjax.PackedState)
    # All four leaves (kernels and biases) share one buffer per moment.
    assert len(optimizer.opt_state.layout.groups) == 1
    for a, b in zip(
        jax.tree_util.tree_leaves(packed_params),
        jax.tree_util.tree_leaves(plain_params),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lrjax.get_learning_rate(optimizer), 0.05, rtol=1e-6)


def test_packed_optimizer_inside_optax_multi_transform():
    params = {"a": TREES["many_f32"](), "b": jnp.arange(4.0)}
    labels = {"a": jax.tree_util.tree_map(lambda _: "packed", params["a"]), "b": "sgd"}

    def make(adam):
        return optax.multi_transform({"packed": adam, "sgd": optax.sgd(0.1)}, labels)

    got, state = train(
        make(lrjax.packed(lrjax.adam(0.05), MIN_SIZE)), params, 4, packed_params=False
    )
    expected, _ = train(make(optax.adam(0.05)), params, 4, packed_params=False)
    for a, b in zip(
        jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert isinstance(state.inner_states["packed"].inner_state, lrjax.PackedState)


def test_readme_packed_params_example_equals_the_tree_step():
    # The example of the packing guide (docs/packing.md).
    text = (Path(__file__).resolve().parents[1] / "docs" / "packing.md").read_text()
    blocks = [b.split("```")[0] for b in text.split("```python\n")[1:]]
    (block,) = [b for b in blocks if "def packed_step" in b]
    namespace = {}
    exec(compile(block, "docs/packing.md", "exec"), namespace)  # noqa: S102
    # The same step on the tree with optax's Adam, written out here.
    params = {f"layer{i}": jnp.eye(4) * (1 + i / 10) for i in range(100)}
    x = jnp.ones((2, 4))
    opt = optax.adam(1e-2)
    grads = jax.grad(namespace["loss"])(params, x)
    updates, _ = opt.update(grads, opt.init(params), params)
    expected = optax.apply_updates(params, updates)
    assert len(namespace["flat"].buffers) == 1
    for a, b in zip(
        jax.tree_util.tree_leaves(namespace["params"]),
        jax.tree_util.tree_leaves(expected),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_orbax_round_trip_of_packed_params_and_state(tmp_path):
    import orbax.checkpoint as ocp

    opt = lrjax.packed(lrjax.adam(optax.linear_schedule(0.1, 0.01, 10)), MIN_SIZE)
    flat = lrjax.pack_params(mixed_tree(), MIN_SIZE)

    @jax.jit
    def step(flat, state, x):
        grads = jax.grad(loss_of_packed)(flat, x)
        updates, state = opt.update(grads, state, flat)
        return optax.apply_updates(flat, updates), state

    state = opt.init(flat)
    for t in range(3):
        flat, state = step(flat, state, 0.5 + 0.1 * t)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", {"params": flat, "state": state})
    checkpointer.wait_until_finished()
    target = jax.eval_shape(
        lambda: {
            "params": lrjax.pack_params(mixed_tree(), MIN_SIZE),
            "state": opt.init(lrjax.pack_params(mixed_tree(), MIN_SIZE)),
        }
    )
    restored = checkpointer.restore(tmp_path / "ckpt", target)
    assert restored["params"].layout == flat.layout

    def continue_(flat, state):
        for t in range(3, 6):
            flat, state = step(flat, state, 0.5 + 0.1 * t)
        return flat, state

    assert_identical(
        continue_(flat, state), continue_(restored["params"], restored["state"])
    )


def test_big_leaves_keep_their_sharding_on_a_mesh():
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    r = np.random.RandomState(3)
    params = {
        "big": jax.device_put(
            jnp.asarray(r.randn(64, 32), jnp.float32),
            NamedSharding(mesh, P("data", "model")),
        ),
        "b": jnp.asarray(r.randn(16), jnp.float32),
        "ln": jnp.asarray(r.randn(4), jnp.float32),
    }
    opt = lrjax.packed(lrjax.adam(1e-2), 100)
    flat, flat_state = train(opt, params, 3, packed_params=True)
    tree, tree_state = train(opt, params, 3, packed_params=False)
    assert flat["big"].sharding.is_equivalent_to(params["big"].sharding, 2)
    mu = flat_state.inner[0].mu
    assert mu.leaves["big"].sharding.is_equivalent_to(params["big"].sharding, 2)
    assert_identical(flat, tree)
