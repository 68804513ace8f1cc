"""Global quantities across shards: ``axis_name`` under ``shard_map`` and ``pmap``.

Model parallelism splits every parameter leaf across the 8 simulated devices
(a ``"model"`` mesh axis). A block that reduces over the tree or over a leaf
then sees only one device's block; with ``axis_name="model"`` it completes its
sums with ``psum``, and the sharded run must equal the same run on the whole
arrays without ``shard_map`` (up to the order of summation). The unsharded
runs are the reference for the sharding property; their numerics are tested
against optax and the papers' formulas in the per-optimizer test files.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

import lrjax

N_DEV = 8
STEPS = 5
AXIS = "model"
SHAPES = {"a": (16, 3), "b": (8,), "c": (24, 5)}


@pytest.fixture(scope="module")
def mesh():
    assert jax.device_count() >= N_DEV
    return Mesh(np.asarray(jax.devices()[:N_DEV]), (AXIS,))


def _tree(seed, offset=0.0):
    rng = np.random.default_rng(seed)
    return {
        k: jnp.asarray(rng.normal(size=s) + offset, jnp.float32)
        for k, s in SHAPES.items()
    }


PARAMS = _tree(0, offset=1.0)
TARGET = _tree(1)


def _train(opt):
    """``STEPS`` updates of ``opt`` on ``0.5 ||p - target||**2`` (in one scan)."""

    def run(params, target):
        state = opt.init(params)

        def body(carry, _):
            p, s = carry
            g = jax.tree_util.tree_map(jnp.subtract, p, target)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), u

        (params, state), updates = jax.lax.scan(
            body, (params, state), None, length=STEPS
        )
        return params, state, updates

    return run


def _state_specs(make):
    """``P(AXIS)`` for per-parameter state leaves, ``P()`` for the rest."""
    shapes = set(SHAPES.values())
    # Shapes from the unsharded optimizer: an init that reduces (DoG's)
    # needs the mesh axis bound.
    abstract = jax.eval_shape(make(None).init, PARAMS)
    return jax.tree_util.tree_map(
        lambda x: P(AXIS) if tuple(x.shape) in shapes else P(), abstract
    )


def _sharded(make, axis_name, mesh, *, check_vma=True):
    run = jax.shard_map(
        _train(make(axis_name)),
        mesh=mesh,
        in_specs=(P(AXIS), P(AXIS)),
        out_specs=(P(AXIS), _state_specs(make), P(None, AXIS)),
        check_vma=check_vma,
    )
    return jax.jit(run)(PARAMS, TARGET)


def _unsharded(opt):
    return jax.jit(_train(opt))(PARAMS, TARGET)


@functools.cache
def _reference(name):
    """The unsharded run of ``CASES[name]`` (shared by the tests below)."""
    return _unsharded(CASES[name](None))


def _assert_tree_close(actual, expected):
    flat_a, tree_a = jax.tree_util.tree_flatten(actual)
    flat_e, tree_e = jax.tree_util.tree_flatten(expected)
    assert tree_a == tree_e
    for a, e in zip(flat_a, flat_e, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-6, atol=1e-7)


# Every public block (and alias) that reduces over the tree or over a leaf,
# built with a given axis_name.
CASES = {
    "clip_by_global_norm": lambda a: optax.chain(
        lrjax.clip_by_global_norm(0.5, axis_name=a), optax.scale(-0.1)
    ),
    "scale_by_trust_ratio": lambda a: optax.chain(
        lrjax.scale_by_trust_ratio(axis_name=a), optax.scale(-0.1)
    ),
    "lamb": lambda a: lrjax.lamb(0.05, weight_decay=0.01, axis_name=a),
    "lars": lambda a: lrjax.lars(0.5, weight_decay=1e-3, axis_name=a),
    "sgd_hd": lambda a: lrjax.sgd_hd(0.05, 0.01, axis_name=a),
    "sgd_hd_momentum": lambda a: lrjax.sgd_hd(0.05, 0.01, 0.9, axis_name=a),
    "adam_hd": lambda a: lrjax.adam_hd(0.05, 1e-3, axis_name=a),
    "hypergradient_descent": lambda a: lrjax.hypergradient_descent(
        lrjax.scale_by_rms(), 0.01, 1e-5, axis_name=a
    ),
    "prodigy": lambda a: lrjax.prodigy(estim_lr0=1e-3, weight_decay=0.01, axis_name=a),
    "dadapt_adamw": lambda a: lrjax.dadapt_adamw(estim_lr0=1e-3, axis_name=a),
    "dog": lambda a: lrjax.dog(axis_name=a),  # heuristic init: a psum in init
    "dowg": lambda a: lrjax.dowg(axis_name=a),
    "mechanize": lambda a: lrjax.mechanize(lrjax.sgd(0.1), axis_name=a),
    "cocob": lambda a: lrjax.cocob(axis_name=a),
    "clip_by_block_rms": lambda a: optax.chain(
        lrjax.clip_by_block_rms(0.5, axis_name=a), optax.scale(-0.1)
    ),
    "scale_by_param_block_rms": lambda a: optax.chain(
        lrjax.scale_by_param_block_rms(axis_name=a), optax.scale(-0.1)
    ),
    "adafactor": lambda a: lrjax.adafactor(0.05, axis_name=a),
    "track_signals": lambda a: lrjax.track_signals(
        lrjax.sgd(0.1), groups={"ab": "^[ab]$"}, ema_decay=0.5, axis_name=a
    ),
    # A threshold of 0.5 std: steps 4 and 5 compare their norm to the
    # statistics of the first ones.
    "skip_spikes": lambda a: lrjax.skip_spikes(
        lrjax.adam(0.3), warmup=2, threshold=0.5, axis_name=a
    ),
}


# One block of each kind of sharded reduction by default (a global norm, a
# trust ratio, a distance estimate, factored moments, a wrapper); the others
# under slow.
_DEFAULT_MODEL_PARALLEL = {"clip_by_global_norm", "lamb", "prodigy", "dog"}
_DEFAULT_MODEL_PARALLEL |= {"adafactor", "mechanize", "track_signals", "skip_spikes"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=() if n in _DEFAULT_MODEL_PARALLEL else pytest.mark.slow)
        for n in sorted(CASES)
    ],
)
def test_model_parallel_update_equals_unsharded(mesh, name):
    make = CASES[name]
    expected = _reference(name)
    # check_vma=True: shard_map also proves every scalar of the state (rates,
    # distances, counters) is the same on all devices, as out_specs P() says.
    actual = _sharded(make, AXIS, mesh)
    _assert_tree_close(actual, expected)


# One case per kind of reduction: global norm, per-leaf norm, dot product,
# sum of squares, per-leaf mean, and a reduction that only reaches the state.
WRONG_WITHOUT = ["clip_by_global_norm", "lamb", "sgd_hd", "dowg", "clip_by_block_rms"]
WRONG_WITHOUT += ["cocob", "track_signals", "skip_spikes"]


@pytest.mark.parametrize("name", WRONG_WITHOUT)
def test_without_axis_name_the_sharded_update_is_wrong(mesh, name):
    # Each device reduces over its own block only: its norms, dot products,
    # trust ratios and RMS are those of the block, so the parameters, the
    # updates or the state's scalars (rates, distances; device 0's copy is
    # returned) differ from the unsharded run.
    wrong = _sharded(CASES[name], None, mesh, check_vma=False)
    worst = max(
        float(np.max(np.abs(np.asarray(w) - np.asarray(e)) / (np.abs(e) + 1e-6)))
        for w, e in zip(
            jax.tree_util.tree_leaves(wrong),
            jax.tree_util.tree_leaves(_reference(name)),
            strict=True,
        )
        if np.issubdtype(np.asarray(e).dtype, np.floating)
    )
    assert worst > 1e-2, worst
    if name in ("clip_by_global_norm", "lamb"):
        # ... and for these the parameters themselves, visibly.
        diff = max(
            float(jnp.max(jnp.abs(w - e)))
            for w, e in zip(
                jax.tree_util.tree_leaves(wrong[0]),
                jax.tree_util.tree_leaves(_reference(name)[0]),
                strict=True,
            )
        )
        assert diff > 1e-3, diff


def test_global_norm_of_a_sharded_tree_matches_optax(mesh):
    tree = dict(PARAMS, z=jnp.asarray(np.arange(16.0) * 1j, jnp.complex64))
    norm = jax.jit(
        jax.shard_map(
            lambda t: lrjax.global_norm(t, axis_name=AXIS),
            mesh=mesh,
            in_specs=P(AXIS),
            out_specs=P(),
        )
    )(tree)
    np.testing.assert_allclose(norm, optax.tree.norm(tree), rtol=1e-6)
    # Without axis_name each device returns the norm of its block only.
    partial = jax.jit(
        jax.shard_map(
            lambda t: lrjax.global_norm(t)[None],
            mesh=mesh,
            in_specs=P(AXIS),
            out_specs=P(AXIS),
        )
    )(tree)
    assert partial.shape == (N_DEV,)
    assert np.all(np.asarray(partial) < 0.9 * float(optax.tree.norm(tree)))


def test_tuple_of_axis_names_sums_over_both_axes():
    mesh2 = Mesh(np.asarray(jax.devices()[:N_DEV]).reshape(2, 4), ("x", "y"))
    tree = {"a": PARAMS["a"], "c": PARAMS["c"]}
    norm = jax.jit(
        jax.shard_map(
            lambda t: lrjax.global_norm(t, axis_name=("x", "y")),
            mesh=mesh2,
            in_specs=P(("x", "y")),
            out_specs=P(),
        )
    )(tree)
    np.testing.assert_allclose(norm, optax.tree.norm(tree), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_axis_name_none_adds_no_collective(name):
    opt = CASES[name](None)
    state = opt.init(PARAMS)
    grads = jax.tree_util.tree_map(jnp.subtract, PARAMS, TARGET)
    jaxpr = str(jax.make_jaxpr(opt.update)(grads, state, PARAMS))
    assert "psum" not in jaxpr


def test_axis_name_none_keeps_optax_results():
    # The default path is the unsharded one: equal to optax's blocks.
    grads = jax.tree_util.tree_map(jnp.subtract, PARAMS, TARGET)
    for ours, theirs in [
        (lrjax.clip_by_global_norm(0.5), optax.clip_by_global_norm(0.5)),
        (lrjax.scale_by_trust_ratio(), optax.scale_by_trust_ratio()),
        (lrjax.clip_by_block_rms(0.5), optax.clip_by_block_rms(0.5)),
    ]:
        u, _ = jax.jit(ours.update)(grads, ours.init(PARAMS), PARAMS)
        v, _ = jax.jit(theirs.update)(grads, theirs.init(PARAMS), PARAMS)
        _assert_tree_close(u, v)


BAD_AXIS_NAMES = [["model"], 3, ("model", 1), (), P(AXIS)]


@pytest.mark.parametrize("bad", BAD_AXIS_NAMES, ids=repr)
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_axis_name_is_a_type_error(name, bad):
    with pytest.raises(TypeError, match="axis_name must be None"):
        CASES[name](bad)


def test_global_norm_rejects_a_bad_axis_name():
    with pytest.raises(TypeError, match="axis_name must be None"):
        lrjax.global_norm(PARAMS, axis_name=["model"])


def test_axis_name_under_pmap():
    # pmap maps over a leading axis of size 8: each leaf's block per device.
    def split(tree):
        return jax.tree_util.tree_map(
            lambda x: x.reshape((N_DEV, x.shape[0] // N_DEV, *x.shape[1:])), tree
        )

    def join(tree):
        return jax.tree_util.tree_map(
            lambda x: x.reshape((x.shape[0] * x.shape[1], *x.shape[2:])), tree
        )

    opt = lrjax.lamb(0.05, weight_decay=0.01, axis_name=AXIS)
    params, _, updates = jax.pmap(_train(opt), axis_name=AXIS)(
        split(PARAMS), split(TARGET)
    )
    exp_params, _, exp_updates = _reference("lamb")
    _assert_tree_close(join(params), exp_params)
    # updates: (device, step, block...) -> (step, leaf...)
    steps_first = jax.tree_util.tree_map(
        lambda u: jnp.swapaxes(u, 0, 1).reshape(STEPS, -1, *u.shape[3:]), updates
    )
    _assert_tree_close(steps_first, exp_updates)


EXAMPLE = (
    pathlib.Path(__file__).parent.parent / "examples" / "shard_map_model_parallel.py"
)


def test_shard_map_example_matches_unsharded_training():
    spec = importlib.util.spec_from_file_location("shard_map_model_parallel", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(steps=4, hidden=16, batch=8, quiet=True)
    assert result["devices"] == jax.device_count() == N_DEV
    assert result["max_abs_diff"] <= 1e-5
    assert result["final_loss"] < result["first_loss"]
    # The cosine schedule's rate at the last step, read from the state.
    expected_rate = 2e-2 * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * 3 / 4)))
    assert result["learning_rate"] == pytest.approx(expected_rate, rel=1e-5)
    # Without axis_name in the optimizer, each device clips and scales by its
    # own block's norms and the parameters part from the unsharded run.
    apart = module.main(steps=4, hidden=16, batch=8, quiet=True, sync_norms=False)
    assert apart["max_abs_diff"] > 1e-3
