"""lrjax.packed: exactly the unwrapped optimizer on element-wise optimizers.

The reference of every numeric test is the unwrapped optimizer (the wrapper's
contract is to change the layout, not the arithmetic), or optax's ``adam`` for
the one optax-built inner optimizer, or a schedule's formula.
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from optimizer_case import all_cases

import lrjax
from lrjax._base import elementwise_verdict

CASES = all_cases()


def _rand(r, shape, dtype):
    return jnp.asarray(r.randn(*shape) + 0.5, dtype)


def mixed_tree(seed=0):
    """Small f32 and bf16 leaves, a 0-d scalar, a big leaf, nested."""
    r = np.random.RandomState(seed)
    return {
        "big": _rand(r, (40, 30), jnp.float32),  # 1200 >= min_size: per leaf
        "w": _rand(r, (6, 5), jnp.float32),
        "b": _rand(r, (5,), jnp.float32),
        "scale": jnp.asarray(1.5, jnp.float32),
        "half": [_rand(r, (4, 3), jnp.bfloat16), _rand(r, (7,), jnp.bfloat16)],
    }


def many_f32_tree(seed=1):
    r = np.random.RandomState(seed)
    return {f"l{i}": _rand(r, (i % 4 + 1, 3), jnp.float32) for i in range(12)}


def bf16_tree(seed=2):
    r = np.random.RandomState(seed)
    return [_rand(r, (8, 8), jnp.bfloat16), _rand(r, (3,), jnp.bfloat16)]


TREES = {"mixed": mixed_tree, "many_f32": many_f32_tree, "bf16": bf16_tree}
MIN_SIZE = 1000


def grads_at(params, step):
    """Gradients that change with the step and keep their sign."""
    return jax.tree_util.tree_map(
        lambda p: (p * (0.3 + 0.1 * step) + 0.05).astype(p.dtype), params
    )


def run(opt, params, steps=3, extra=None):
    """Updates and params of ``steps`` jitted steps."""
    extra = extra or {}
    update = jax.jit(lambda g, s, p: opt.update(g, s, p, **extra))
    state = opt.init(params)
    history = []
    for step in range(steps):
        updates, state = update(grads_at(params, step), state, params)
        params = optax.apply_updates(params, updates)
        history.append((updates, params))
    return history, state


def assert_identical(a, b):
    leaves_a, tree_a = jax.tree_util.tree_flatten(a)
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    assert tree_a == tree_b
    for x, y in zip(leaves_a, leaves_b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def accepted(case):
    return elementwise_verdict(case.make()) is True


ELEMENTWISE = [c for c in CASES if accepted(c)]
REFUSED = [c for c in CASES if not accepted(c)]


def check_exact(case, tree_fn):
    params = tree_fn()
    plain, _ = run(case.make(), params, extra=case.extra())
    wrapped, state = run(
        lrjax.packed(case.make(), MIN_SIZE), params, extra=case.extra()
    )
    assert any(slot is not None for slot in state.layout.slots)  # packing happened
    assert_identical(plain, wrapped)


def _exactness_subprocess(trees):
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), str(repo / "tests")]))
    env.pop("XLA_FLAGS", None)
    done = subprocess.run(
        [sys.executable, str(repo / "tests" / "packed_exactness.py"), *trees],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# Every case at once: the cross-product; the default run checks packed
# optimizers case by case (test_optimizers_common.py, the tests above).
@pytest.mark.slow
def test_every_elementwise_case_is_bit_exact_on_the_mixed_tree():
    """All element-wise cases, ``==``, where XLA emits no FMA (see the script)."""
    _exactness_subprocess(["mixed"])


@pytest.mark.slow
def test_every_elementwise_case_is_bit_exact_on_more_trees():
    _exactness_subprocess(["many_f32", "bf16"])


def assert_close_to_rounding(a, b):
    """A few ulps: FMA contraction differs by one rounding per step."""
    for x, y in zip(
        jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True
    ):
        assert x.dtype == y.dtype and x.shape == y.shape
        rtol = 1e-6 if x.dtype == jnp.float32 else 2.0**-7
        x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("tree", list(TREES))
@pytest.mark.parametrize(
    "name",
    [
        "adam",
        pytest.param("sgd_ema_momentum", marks=pytest.mark.slow),
        pytest.param("lion_mu_float16", marks=pytest.mark.slow),
        pytest.param("rmsprop_centered", marks=pytest.mark.slow),
    ],
)
def test_with_fma_results_agree_to_rounding(name, tree):
    """With this machine's FMA: identical but for XLA's contraction choices."""
    case = next(c for c in CASES if c.id == name)
    params = TREES[tree]()
    plain, _ = run(case.make(), params)
    wrapped, _ = run(lrjax.packed(case.make(), MIN_SIZE), params)
    assert_close_to_rounding(plain, wrapped)


def test_the_suite_has_element_wise_optimizers_to_check():
    ids = {c.id for c in ELEMENTWISE}
    assert {"adam", "adamw", "sgd", "rmsprop_centered", "lion", "adadelta"} <= ids


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_other_cases_are_refused_with_a_reason(case):
    with pytest.raises(ValueError, match="lrjax.packed"):
        lrjax.packed(case.make())


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: lrjax.lamb(1e-3), "trust ratio"),
        (lambda: lrjax.lars(1e-3), "trust ratio"),
        (lambda: lrjax.adafactor(), "factors each leaf"),
        (lambda: lrjax.adamw(1e-3, mask=lambda p: p), "`mask`"),
        (lambda: lrjax.adadelta(weight_decay_mask=lambda p: p), "weight_decay_mask"),
        (lambda: optax.adam(1e-3), "not marked"),
        (lambda: optax.chain(lrjax.adam(1e-3)), "not marked"),
    ],
)
def test_refusal_names_the_reason(make, reason):
    with pytest.raises(ValueError, match=reason):
        lrjax.packed(make())


@pytest.mark.parametrize("bad, error", [(0, ValueError), (2.5, TypeError)])
def test_min_size_is_checked(bad, error):
    with pytest.raises(error, match="min_size"):
        lrjax.packed(lrjax.adam(1e-3), min_size=bad)


def test_float32_gradients_of_bf16_parameters_match_the_unwrapped_step():
    # The group's buffer takes its leaves' dtype, as each leaf would alone.
    params = bf16_tree()
    grads = jax.tree_util.tree_map(lambda p: (p * 0.3).astype(jnp.float32), params)
    for make in (lambda: lrjax.sgd(0.1, momentum=0.9), lambda: lrjax.adam(0.1)):
        plain = make().update(grads, make().init(params), params)
        wrapped_opt = lrjax.packed(make(), MIN_SIZE)
        wrapped = wrapped_opt.update(grads, wrapped_opt.init(params), params)
        assert_identical(plain[0], wrapped[0])


def test_mixed_gradient_dtypes_in_one_buffer_are_refused():
    opt = lrjax.packed(lrjax.sgd(0.1), MIN_SIZE)
    params = bf16_tree()
    grads = [params[0].astype(jnp.float32), params[1]]
    with pytest.raises(TypeError, match=r"\[1\].*bfloat16.*float32"):
        opt.update(grads, opt.init(params), params)


def test_wrong_structure_and_shapes_are_refused_with_the_path():
    opt = lrjax.packed(lrjax.adam(0.1), MIN_SIZE)
    params = mixed_tree()
    state = opt.init(params)
    with pytest.raises(ValueError, match="tree structure"):
        opt.update({"w": params["w"]}, state, params)
    # Same leaf count and shapes, other keys: refused too.
    renamed = {("bias" if k == "b" else k): v for k, v in params.items()}
    with pytest.raises(ValueError, match="tree structure"):
        opt.update(renamed, state, params)
    grads = {**params, "b": jnp.ones((1, 5))}
    with pytest.raises(ValueError, match=r"\['b'\].*\(1, 5\).*\(5,\)"):
        opt.update(grads, state, params)


def test_optax_inner_vouched_for_matches_optax_and_chains():
    """optax.adam inside packed (vouched for), packed inside optax.chain."""
    params = mixed_tree()
    ref, _ = run(optax.chain(optax.clip(0.5), optax.adam(1e-2)), params)
    inner = optax.chain(optax.clip(0.5), optax.adam(1e-2))
    got, _ = run(lrjax.packed(inner, MIN_SIZE, assume_elementwise=True), params)
    assert_identical(ref, got)
    outer = optax.chain(optax.clip(0.5), lrjax.packed(lrjax.adam(1e-2), MIN_SIZE))
    got, _ = run(outer, params)
    ref, _ = run(optax.chain(optax.clip(0.5), lrjax.adam(1e-2)), params)
    assert_identical(ref, got)


def test_get_learning_rate_follows_the_schedule():
    schedule = optax.linear_schedule(0.1, 0.01, 10)
    _, state = run(lrjax.packed(lrjax.adam(schedule), MIN_SIZE), mixed_tree(), 4)
    # The rate applied at the 4th update is the schedule's value at step 3.
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(0.1 - 3 * 0.009)


def test_second_step_does_not_retrace():
    traces = []
    opt = lrjax.packed(lrjax.adamw(1e-2), MIN_SIZE)

    @jax.jit
    def step(params, state):
        traces.append(1)
        updates, state = opt.update(grads_at(params, 0), state, params)
        return optax.apply_updates(params, updates), state

    params = mixed_tree()
    state = opt.init(params)
    for _ in range(3):
        params, state = step(params, state)
    assert len(traces) == 1


def test_mesh_keeps_big_leaves_sharded():
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    r = np.random.RandomState(3)
    host = {
        "big": _rand(r, (64, 32), jnp.float32),
        "sharded_small": _rand(r, (8, 4), jnp.float32),
        "b": _rand(r, (16,), jnp.float32),
        "ln": _rand(r, (4,), jnp.float32),
    }
    specs = {
        "big": P("data", "model"),
        "sharded_small": P("data", None),
        "b": P(),
        "ln": P(),
    }
    params = {
        k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in host.items()
    }
    opt = lrjax.packed(lrjax.adam(1e-2), min_size=100)
    history, state = run(opt, params)
    mu = state.inner[0].mu
    assert mu.leaves["big"].sharding.is_equivalent_to(params["big"].sharding, 2)
    # Small leaves are packed whatever their sharding (the same layout as an
    # abstract init, which cannot see shardings); XLA places the buffer.
    assert [mu.leaves[k] for k in ("b", "ln", "sharded_small")] == [None] * 3
    (buffer,) = mu.buffers
    assert buffer.shape == (52,)
    assert jax.eval_shape(opt.init, params).layout == state.layout
    new_params = history[-1][1]
    assert new_params["big"].sharding.is_equivalent_to(params["big"].sharding, 2)
    plain, _ = run(lrjax.adam(1e-2), params)
    assert_identical(plain, history)


def test_orbax_round_trip_continues_identically(tmp_path):
    import orbax.checkpoint as ocp

    opt = lrjax.packed(lrjax.adam(optax.linear_schedule(0.1, 0.01, 10)), MIN_SIZE)
    params = mixed_tree()
    update = jax.jit(opt.update)
    state = opt.init(params)
    for step in range(3):
        updates, state = update(grads_at(params, step), state, params)
        params = optax.apply_updates(params, updates)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", {"params": params, "state": state})
    checkpointer.wait_until_finished()
    target = jax.eval_shape(
        lambda: {"params": mixed_tree(), "state": opt.init(mixed_tree())}
    )
    restored = checkpointer.restore(tmp_path / "ckpt", target)
    assert restored["state"].layout == state.layout

    def continue_(params, state):
        for step in range(3, 6):
            updates, state = update(grads_at(params, step), state, params)
            params = optax.apply_updates(params, updates)
        return params, state

    assert_identical(
        continue_(params, state), continue_(restored["params"], restored["state"])
    )


def _distinct_fused_computations(hlo_text):
    """Fused computations of an optimized HLO module, counted once per body
    (instruction names normalised): XLA:CPU compiles one kernel per body."""
    import re

    bodies = set()
    for comp in re.split(r"\n(?=\S)", hlo_text):
        head, _, body = comp.partition("\n")
        if "fused" in head or "fusion" in head:
            bodies.add(re.sub(r"[\w.\-]+\.\d+", "X", body))
    return bodies


def _many_small_leaves():
    r = np.random.RandomState(7)
    tree = {f"w{i:03d}": _rand(r, (8, 8), jnp.float32) for i in range(60)}
    tree |= {f"b{i:03d}": _rand(r, (8,), jnp.float32) for i in range(60)}
    return tree


def test_cuts_of_one_shape_share_one_kernel():
    # The compile-time property the layout is built for: 120 packed leaves
    # of two shapes compile to a handful of distinct kernels, not one each.
    params = _many_small_leaves()
    opt = lrjax.packed(lrjax.adam(1e-3))
    state = opt.init(params)

    def step(p, s, g):
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    text = jax.jit(step).lower(params, state, params).compile().as_text()
    assert text.count(" fusion(") >= 120  # one cut per leaf
    assert len(_distinct_fused_computations(text)) <= 16


def test_state_is_a_few_buffers_whatever_the_leaf_count():
    # Each state leaf is a buffer passed in and out of every jitted step.
    params = _many_small_leaves()
    state = lrjax.packed(lrjax.adam(1e-3)).init(params)
    plain = lrjax.adam(1e-3).init(params)
    # Adam's count, mu and nu, then the rate block's count and rate.
    assert len(jax.tree_util.tree_leaves(plain)) == 2 * 120 + 3
    assert len(jax.tree_util.tree_leaves(state)) == 2 + 3

    def nbytes(tree):
        return sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(tree))

    assert nbytes(state) == nbytes(plain)  # not a byte more than unpacked


def test_vmap_over_seeds_equals_separate_runs():
    opt = lrjax.packed(lrjax.adam(1e-2), MIN_SIZE)
    trees = [many_f32_tree(seed) for seed in (1, 2, 3)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *trees)

    def steps(params):
        state = opt.init(params)
        for step in range(3):
            updates, state = opt.update(grads_at(params, step), state, params)
            params = optax.apply_updates(params, updates)
        return params

    batched = jax.jit(jax.vmap(steps))(stacked)
    for i, tree in enumerate(trees):
        alone = jax.jit(steps)(tree)
        leaves = zip(
            jax.tree_util.tree_leaves(alone),
            jax.tree_util.tree_leaves(batched),
            strict=True,
        )
        for x, y in leaves:
            np.testing.assert_allclose(np.asarray(y[i]), np.asarray(x), rtol=1e-6)


def test_cuts_stay_shared_kernels_under_vmap():
    # Over a batch of seeds the branch becomes a select of equal constants;
    # the cuts must still compile to one kernel per leaf shape.
    params = _many_small_leaves()
    stacked = jax.tree_util.tree_map(lambda x: jnp.stack([x, x + 1.0]), params)
    opt = lrjax.packed(lrjax.adam(1e-3))

    def step(p, s, g):
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    batched = jax.jit(jax.vmap(step))
    state = jax.vmap(opt.init)(stacked)
    text = batched.lower(stacked, state, stacked).compile().as_text()
    assert len(_distinct_fused_computations(text)) <= 16
    # And the batched step is each seed's own step.
    new_params, _ = batched(stacked, state, stacked)
    for i in range(2):
        one = jax.tree_util.tree_map(lambda x, i=i: x[i], stacked)
        alone, _ = jax.jit(step)(one, opt.init(one), one)
        for x, y in zip(
            jax.tree_util.tree_leaves(alone),
            jax.tree_util.tree_leaves(new_params),
            strict=True,
        ):
            np.testing.assert_allclose(np.asarray(y[i]), np.asarray(x), rtol=1e-6)


def _readme_scan_recipe():
    """The ``lax.scan`` recipe of the packing guide (docs/packing.md)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "packing.md").read_text()
    blocks = text.split("```python\n")[1:]
    (block,) = [b.split("```")[0] for b in blocks if "def train_block" in b]
    namespace = {}
    exec(compile(block, "docs/packing.md", "exec"), namespace)  # noqa: S102
    return namespace


def test_readme_scan_recipe_equals_a_python_loop_of_steps():
    recipe = _readme_scan_recipe()
    opt, loss = recipe["opt"], recipe["loss"]
    r = np.random.RandomState(0)
    params = {"w": jnp.asarray(r.randn(3, 1), jnp.float32), "b": jnp.zeros((1,))}
    xs = jnp.asarray(r.randn(5, 8, 3), jnp.float32)
    ys = jnp.asarray(r.randn(5, 8, 1), jnp.float32)

    looped, state, values = params, opt.init(params), []
    for i in range(5):
        value, grads = jax.value_and_grad(loss)(looped, (xs[i], ys[i]))
        updates, state = opt.update(grads, state, looped)
        looped = optax.apply_updates(looped, updates)
        values.append(float(value))

    copy = jax.tree_util.tree_map(jnp.copy, params)
    scanned, scan_state, losses = recipe["train_block"](copy, opt.init(copy), (xs, ys))
    np.testing.assert_allclose(np.asarray(losses), values, rtol=1e-6)
    for a, b in zip(
        jax.tree_util.tree_leaves(scanned),
        jax.tree_util.tree_leaves(looped),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    assert int(scan_state[0].count) == 5


def test_wrappers_pass_on_the_inner_verdict():
    key = jax.random.PRNGKey(0)
    assert elementwise_verdict(lrjax.stale_gradients(lrjax.adam(0.1), 2, key=key))
    assert elementwise_verdict(lrjax.staleness_aware(lrjax.sgd(0.1))) is True
    refused = elementwise_verdict(lrjax.staleness_aware(lrjax.lamb(0.1)))
    assert isinstance(refused, str) and "trust ratio" in refused
    assert elementwise_verdict(lrjax.stale_gradients(optax.sgd(0.1), 1)) is None
    assert elementwise_verdict(lrjax.reduce_on_plateau()) is True
    assert elementwise_verdict(lrjax.loss_adaptive_scale()) is True


def test_plateau_chain_vouched_for_matches_the_unpacked_chain():
    # lrjax.chain is optax.chain: a chain's parts are opaque, so it is vouched for.
    def make():
        return optax.chain(lrjax.adam(0.05), lrjax.reduce_on_plateau(patience=1))

    params = mixed_tree()
    # A loss that stalls, so that the plateau controller cuts the rate.
    extra = {"value": jnp.asarray(1.0)}
    plain, _ = run(make(), params, steps=6, extra=extra)
    wrapped, state = run(
        lrjax.packed(make(), MIN_SIZE, assume_elementwise=True),
        params,
        steps=6,
        extra=extra,
    )
    assert float(state.inner[1].learning_rate_scale) < 1.0
    assert_identical(plain, wrapped)
