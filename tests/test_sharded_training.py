"""Sharded (FSDP) training: the optimizer state shards like the parameters.

A ``(data, model)`` mesh of shape ``(2, 4)`` over the 8 simulated devices.
Each parameter's largest axis is split across both mesh axes, 8 ways
(``P(("data", "model"))`` on that axis; a scalar stays replicated): fully
sharded data parallelism over the whole mesh, so each device holds an eighth
of every weight and of every moment. Splitting across ``model`` alone would
leave a quarter per device. The batch is split along ``data``; the compiler
inserts the collectives (gathering weights, reducing gradients).

A whole training step (forward, gradient, update, apply) is jitted with no
``out_shardings``: the tests check that the state XLA returns is still
sharded like the parameters, that each device holds an eighth of the moment
bytes (from ``addressable_shards``), and that ten sharded steps give the
parameters of ten steps on one device with unsharded arrays. Both with the
mesh's axes ``Auto`` (the compiler propagates shardings) and ``Explicit``
(sharding is part of each array's type; the forward pass gathers weights
with ``reshard``). ``jax.eval_shape(opt.init, params)`` gives the state's
shapes and dtypes, and its shardings on an explicit mesh.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import AxisType, Mesh, NamedSharding, reshard
from jax.sharding import PartitionSpec as P
from optimizer_case import all_cases

import lrjax

BY_ID = {c.id: c for c in all_cases()}
# lamb: its per-leaf trust ratio is a norm over the whole leaf; under jit the
# leaf is one global array, so XLA completes the norm across shards itself.
IDS = (
    "adam",
    "adamw",
    "sgd_momentum",
    "lion",
    "adafactor_factored",
    "lamb",
    "prodigy",
    "schedule_free_adamw",
    "adamw_reduce_on_plateau",
)
# The default run trains these three (moments, factored moments, a parameter
# copy); the others under slow.
DEFAULT_IDS = ("adam", "adafactor_factored", "schedule_free_adamw")
FSDP_IDS = [
    pytest.param(i, marks=() if i in DEFAULT_IDS else pytest.mark.slow) for i in IDS
]
STEPS = 10
N_DEV = 8


def fsdp_spec(shape: tuple[int, ...]) -> P:
    """The largest axis split 8 ways across ``data`` and ``model``."""
    if not shape:
        return P()
    axis = int(np.argmax(shape))
    assert shape[axis] % N_DEV == 0, shape
    spec = [None] * len(shape)
    spec[axis] = ("data", "model")
    return P(*spec)


def problem():
    """A tanh MLP, a 16-example batch, and targets far enough (about 20,
    outputs near 0) that no gradient nears 0 in ten steps."""
    r = np.random.RandomState(0)
    params = {
        "w1": jnp.asarray(0.3 * r.randn(24, 64), jnp.float32),
        "b1": jnp.asarray(0.1 * r.randn(64), jnp.float32),
        "w2": jnp.asarray(0.3 * r.randn(64, 8), jnp.float32),
        "b2": jnp.asarray(0.1 * r.randn(8), jnp.float32),
        "scale": jnp.asarray(0.5, jnp.float32),
    }
    x = jnp.asarray(r.randn(16, 24), jnp.float32)
    y = jnp.asarray(20.0 + r.rand(16, 8), jnp.float32)

    def loss(p, x, y):
        h = jnp.tanh(x @ p["w1"] + p["b1"])
        out = p["scale"] * (h @ p["w2"] + p["b2"])
        # Scaled so that plain SGD at the cases' rate 1e-2 stays stable.
        return 0.01 * jnp.mean(jnp.sum((out - y) ** 2, axis=-1))

    return params, x, y, loss


def mesh_of(axis_types=(AxisType.Auto, AxisType.Auto)) -> Mesh:
    devices = np.array(jax.devices()[:N_DEV]).reshape(2, 4)
    return Mesh(devices, ("data", "model"), axis_types=axis_types)


def shard(tree, mesh):
    return jax.tree.map(
        lambda p: jax.device_put(p, NamedSharding(mesh, fsdp_spec(p.shape))), tree
    )


def train(case, params, x, y, loss):
    """``STEPS`` calls of one jitted step (no ``out_shardings``)."""
    opt = case.make()

    @jax.jit
    def step(params, state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, state = opt.update(grads, state, params, **case.extra(loss=value))
        return optax.apply_updates(params, updates), state

    state = jax.jit(opt.init)(params)
    initial = state
    for _ in range(STEPS):
        params, state = step(params, state, x, y)
    return params, initial, state


def param_of(path, params):
    """The parameter a state leaf belongs to: the last params key in its path."""
    for key in reversed(path):
        name = getattr(key, "key", None)
        if name in params:
            return params[name]
    return None


def check_sharded_like_params(state, params):
    """Every parameter-shaped state leaf is sharded like its parameter.

    Returns the bytes of those leaves that each device holds, and in all.
    Adafactor's factored statistics (a row and a column vector per matrix,
    shaped unlike it) are not counted: the one along the split axis comes
    out split with it, the other replicated; O(rows + cols) bytes against
    the matrix's O(rows * cols).
    """
    held = {d: 0 for d in jax.devices()[:N_DEV]}
    total = 0
    checked = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        where = jax.tree_util.keystr(path)
        p = param_of(path, params)
        if p is None or leaf.ndim == 0:
            continue
        if leaf.shape == p.shape:
            assert leaf.sharding.is_equivalent_to(p.sharding, p.ndim), (
                f"{where}: {leaf.sharding.spec} != {p.sharding.spec}"
            )
            for s in leaf.addressable_shards:
                held[s.device] += s.data.nbytes
            total += leaf.nbytes
            checked += 1
    assert checked > 0, "no per-parameter state leaf found"
    return held, total


@functools.cache
def unsharded(case_id):
    """The reference: ``STEPS`` steps on one device, unsharded arrays."""
    params, x, y, loss = problem()
    one = jax.devices()[0]
    want, _, want_state = train(
        BY_ID[case_id], *jax.device_put((params, x, y), one), loss=loss
    )
    moved = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(params), strict=True)
    )
    assert moved > 1e-3, f"{case_id}: the reference did not train"
    return want, want_state


def check_fsdp_run(case, sharded, initial, got, state):
    """State sharded like the params, an eighth per device, equal results."""
    for tree in (initial, state):
        held, total = check_sharded_like_params(tree, sharded)
        # An eighth of the moment bytes on each device, none replicated.
        assert held == {d: total // N_DEV for d in held}, (held, total)
    for p, g in zip(jax.tree.leaves(sharded), jax.tree.leaves(got), strict=True):
        assert g.sharding.is_equivalent_to(p.sharding, p.ndim)
    want, want_state = unsharded(case.id)
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-6)
    # Moments hold raw gradients (up to ~1): their entries near 0 differ in
    # the last bits between the sharded and the single-device reductions.
    chex.assert_trees_all_close(state, want_state, rtol=1e-4, atol=1e-5)
    if case.reports_learning_rate:
        np.testing.assert_allclose(
            lrjax.get_learning_rate(state), lrjax.get_learning_rate(want_state)
        )


@pytest.mark.parametrize("case_id", FSDP_IDS)
def test_fsdp_training_keeps_state_sharded_and_equals_unsharded(case_id):
    case = BY_ID[case_id]
    params, x, y, loss = problem()
    mesh = mesh_of()
    sharded = shard(params, mesh)
    batch = NamedSharding(mesh, P("data"))
    xs, ys = jax.device_put(x, batch), jax.device_put(y, batch)
    got, initial, state = train(case, sharded, xs, ys, loss)
    check_fsdp_run(case, sharded, initial, got, state)


@pytest.mark.parametrize("case_id", FSDP_IDS)
def test_fsdp_training_on_a_mesh_with_explicit_axes(case_id):
    """The same under explicit sharding (``jax.make_mesh``'s default axes):
    the forward pass gathers each weight with ``reshard``, as FSDP does, and
    the sharding of every array is part of its type."""
    case = BY_ID[case_id]
    params, x, y, loss = problem()
    mesh = mesh_of((AxisType.Explicit, AxisType.Explicit))
    sharded = shard(params, mesh)
    batch = NamedSharding(mesh, P("data"))
    xs, ys = jax.device_put(x, batch), jax.device_put(y, batch)

    def gathered_loss(p, x, y):
        return loss(jax.tree.map(lambda a: reshard(a, P()), p), x, y)

    with jax.set_mesh(mesh):
        got, initial, state = train(case, sharded, xs, ys, gathered_loss)
    check_fsdp_run(case, sharded, initial, got, state)


@pytest.mark.parametrize("case_id", IDS)
def test_abstract_init_matches_jitted_init(case_id):
    """``jax.eval_shape(opt.init, params)``: the state's shapes and dtypes
    without computing it; on a mesh with explicit axes, also its shardings."""
    case = BY_ID[case_id]
    params, *_ = problem()
    opt = case.make()
    concrete = jax.jit(opt.init)(shard(params, mesh_of()))
    abstract = jax.eval_shape(opt.init, shard(params, mesh_of()))
    chex.assert_trees_all_equal_shapes_and_dtypes(abstract, concrete)
    assert jax.tree.structure(abstract) == jax.tree.structure(concrete)

    explicit = shard(params, mesh_of((AxisType.Explicit, AxisType.Explicit)))
    abstract = jax.eval_shape(opt.init, explicit)
    checked = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(abstract)[0]:
        p = param_of(path, explicit)
        if p is not None and leaf.shape == p.shape and leaf.ndim:
            assert leaf.sharding.spec == p.sharding.spec, jax.tree_util.keystr(path)
            checked += 1
    assert checked > 0, "no per-parameter state leaf found"


# --------------------------------------------------------------------------
# examples/sharded_training.py


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sharded_training.py"


def test_sharded_example_holds_an_eighth_per_device_and_matches(capsys):
    spec = importlib.util.spec_from_file_location(EXAMPLE.stem, EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(steps=3, hidden=16, batch=8, print_every=1)
    printed = capsys.readouterr().out
    assert out["mesh"] == {"data": 2, "model": 4}
    assert out["state_sharded_like_params"]
    # Adam's moments: two copies of every parameter, all of them sharded 8
    # ways (w1 32x16, b1 16, w2 16x8, b2 8), plus three replicated int32 /
    # float32 scalars (two step counts and the rate) on every device.
    moments = 2 * 4 * (32 * 16 + 16 + 16 * 8 + 8)
    assert out["state_bytes_total"] == moments + 3 * 4
    assert out["state_bytes_per_device"] == [moments // N_DEV + 3 * 4] * N_DEV
    assert out["max_rel_diff_vs_unsharded"] < 1e-5
    assert printed.count("bytes (") == N_DEV
    with pytest.raises(ValueError, match="batch"):
        module.main(batch=3)
