"""Checks every optimizer must pass, run over all ``cases_*.py`` entries.

References are independent of lrjax: optax's same-named optimizer, the loss of
a quadratic, dtype/sharding/structure rules stated in the issue.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from optimizer_case import (
    REPRESENTATIVE_IDS,
    OptimizerCase,
    all_cases,
    first_of_each_optimizer,
    one_per_optimizer,
    representatives_first,
)

import lrjax

CASES = all_cases()
PARITY_CASES = [c for c in CASES if c.optax_parity]
RATE_CASES = [c for c in CASES if c.reports_learning_rate]
# A schedule's rate is observable only where a schedule is taken.
SCHEDULE_RATE_CASES = [c for c in RATE_CASES if c.takes_schedule]
by_id = pytest.mark.parametrize("case", CASES, ids=str)
# Properties of the shared blocks (tests/test_shared_blocks.py owns them):
# representative optimizers by default, every other one under ``slow``.
shared_property = pytest.mark.parametrize("case", representatives_first(CASES))
# Per-optimizer checks: each optimizer's first case by default, the cases
# that only set flags under ``slow``.
per_optimizer = pytest.mark.parametrize("case", one_per_optimizer(CASES))
FIRSTS = first_of_each_optimizer(CASES)


def test_representatives_are_cases():
    assert set(REPRESENTATIVE_IDS) <= {c.id for c in CASES}


def mixed_params(dtype=jnp.float32):
    """Scalar, vector, matrix and nested dict/list/tuple leaves."""
    r = np.random.RandomState(0)
    return {
        "scalar": jnp.asarray(0.5, dtype),
        "vec": jnp.asarray(r.randn(3), dtype),
        "mat": jnp.asarray(r.randn(4, 5), dtype),
        "nested": [{"a": jnp.asarray(r.randn(2, 3), dtype)}, (jnp.ones((1,), dtype),)],
    }


def grads_like(params, seed=1, scale=1.0):
    r = np.random.RandomState(seed)
    return jax.tree_util.tree_map(
        lambda p: jnp.asarray(scale * r.randn(*p.shape), p.dtype), params
    )


# --------------------------------------------------------------------------
# Types and composition.


@shared_property
def test_is_an_optax_gradient_transformation(case):
    opt = case.make()
    assert isinstance(opt, optax.GradientTransformation)
    chained = optax.chain(optax.clip(10.0), opt)
    params = mixed_params()
    state = chained.init(params)
    updates, _ = chained.update(grads_like(params), state, params, **case.extra())
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)


# --------------------------------------------------------------------------
# jit / no-jit / pmap.


class _Variants(chex.TestCase):
    def init_and_update(self, case):
        make_params = case.params_for_variants or mixed_params
        params = make_params()
        grads = grads_like(params)
        opt = case.make()

        @self.variant
        def two_steps(params, grads):
            state = opt.init(params)
            u1, state = opt.update(grads, state, params, **case.extra())
            new_params = optax.apply_updates(params, u1)
            u2, state = opt.update(grads, state, new_params, **case.extra())
            return u2, state

        # chex's pmap variant replicates the inputs on every device and
        # returns the first device's output.
        updates, state = two_steps(params, grads)
        chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
        chex.assert_tree_all_finite(updates)
        chex.assert_tree_all_finite(state)


_VARIANTS = dict(with_jit=True, without_jit=True, with_pmap=True)


class VariantsTest(_Variants):
    @chex.variants(**_VARIANTS)
    @parameterized.named_parameters(
        (c.id, c) for c in CASES if c.id in REPRESENTATIVE_IDS
    )
    def test_init_and_update(self, case):
        self.init_and_update(case)


@pytest.mark.slow
class VariantsEveryOptimizerTest(_Variants):
    @chex.variants(**_VARIANTS)
    @parameterized.named_parameters(
        (c.id, c) for c in CASES if c.id not in REPRESENTATIVE_IDS
    )
    def test_init_and_update(self, case):
        self.init_and_update(case)


# --------------------------------------------------------------------------
# Numerics against optax over 200 steps, with sign-stable gradients.


def far_quadratic():
    """Gradients keep their sign: every target is far beyond reach."""
    r = np.random.RandomState(3)
    params = {
        "w": jnp.asarray(1.0 + 0.1 * r.rand(6, 4), jnp.float32),
        "b": jnp.asarray(0.5 + 0.1 * r.rand(4), jnp.float32),
    }
    target = jax.tree_util.tree_map(lambda p: 100.0 + 10.0 * jnp.ones_like(p), params)
    curv = jax.tree_util.tree_map(
        lambda p: jnp.asarray(0.5 + r.rand(*p.shape), jnp.float32), params
    )

    def loss(p):
        terms = jax.tree_util.tree_map(
            lambda x, t, c: 0.5 * jnp.sum(c * (x - t) ** 2), p, target, curv
        )
        return sum(jax.tree_util.tree_leaves(terms))

    return params, loss


def run(opt, params, loss, steps, case=None):
    """``steps`` updates; a case's extra arguments get the current loss."""

    @jax.jit
    def go(params):
        def body(carry, _):
            p, s = carry
            value, grads = jax.value_and_grad(loss)(p)
            extra = {} if case is None else case.extra(loss=value)
            u, s = opt.update(grads, s, p, **extra)
            return (optax.apply_updates(p, u), s), None

        (p, _), _ = jax.lax.scan(body, (params, opt.init(params)), None, length=steps)
        return p

    return go(params)


@pytest.mark.slow
@pytest.mark.parametrize("case", PARITY_CASES, ids=str)
def test_matches_optax_for_200_steps(case):
    params, loss = far_quadratic()
    ours = run(case.make(), params, loss, case.parity_steps, case)
    theirs = run(case.make_optax(), params, loss, case.parity_steps, case)
    moved = jax.tree_util.tree_map(
        lambda a, b: float(jnp.max(jnp.abs(a - b))), theirs, params
    )
    assert max(jax.tree_util.tree_leaves(moved)) > 1e-3, "reference did not move"
    chex.assert_trees_all_close(ours, theirs, rtol=case.parity_rtol, atol=1e-6)


# --------------------------------------------------------------------------
# Convergence on a convex quadratic.


@per_optimizer
def test_reduces_quadratic_loss_100x(case):
    r = np.random.RandomState(4)
    target = {"w": jnp.asarray(1.0 + r.rand(8, 3), jnp.float32)}
    curv = {"w": jnp.asarray(0.5 + r.rand(8, 3), jnp.float32)}
    params = {"w": jnp.full((8, 3), 0.1, jnp.float32)}

    def loss(p):
        return 0.5 * jnp.sum(curv["w"] * (p["w"] - target["w"]) ** 2)

    final = run(case.make(case.converge_lr), params, loss, case.converge_steps, case)
    assert float(loss(final)) <= float(loss(params)) / 100.0, (
        f"{case.id}: loss {float(loss(params)):.4g} -> {float(loss(final)):.4g} "
        f"in {case.converge_steps} steps"
    )


# --------------------------------------------------------------------------
# Dtypes.


def _lr_forms(lr):
    return {
        "float": lr,
        "np.float32": np.float32(lr),
        "np.float64": np.float64(lr),
        "jnp.float32": jnp.float32(lr),
        "schedule": lambda step: lr / (1.0 + step),
    }


def _case_forms():
    # The rate forms are the rate block's property (test_shared_blocks.py) and
    # every optimizer's bf16 steps are checked against float32 steps
    # (test_number_kinds.py): representatives by default, the rest slow. A
    # case that takes no schedule gets the schedule's step-0 value instead.
    for case in CASES:
        for form in _lr_forms(0.0):
            label = form
            if form == "schedule" and not case.takes_schedule:
                label = "schedule-as-constant(takes_schedule=False)"
            marks = () if case.id in REPRESENTATIVE_IDS else pytest.mark.slow
            yield pytest.param(case, form, id=f"{case.id}-{label}", marks=marks)


@pytest.mark.parametrize("case,form", list(_case_forms()))
def test_bf16_updates_stay_bf16(case, form):
    params = mixed_params(jnp.bfloat16)
    opt = case.make(case.rate(_lr_forms(case.learning_rate)[form]))
    state = opt.init(params)
    for _ in range(2):
        updates, state = opt.update(grads_like(params), state, params, **case.extra())
        chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    assert jax.tree_util.tree_structure(state) == jax.tree_util.tree_structure(
        opt.init(params)
    )
    chex.assert_trees_all_equal_dtypes(state, opt.init(params))


# --------------------------------------------------------------------------
# The learning rate is observable.


@pytest.mark.parametrize("case", representatives_first(SCHEDULE_RATE_CASES))
def test_get_learning_rate_follows_the_schedule(case):
    def schedule(step):
        return 0.1 / (1.0 + step)

    params = mixed_params()
    opt = case.make(schedule)
    state = opt.init(params)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.1, rtol=1e-6)
    update = jax.jit(opt.update)
    for k in range(3):
        _, state = update(grads_like(params, seed=k), state, params, **case.extra())
        got = jax.jit(lrjax.get_learning_rate)(state)
        np.testing.assert_allclose(got, 0.1 / (1.0 + k), rtol=1e-6)
        assert got.dtype == jnp.float32 and got.shape == ()


@pytest.mark.parametrize("case", representatives_first(RATE_CASES))
def test_get_learning_rate_with_constant_rate(case):
    params = mixed_params()
    opt = case.make(0.03)
    state = opt.init(params)
    _, state = opt.update(grads_like(params), state, params, **case.extra())
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.03, rtol=1e-6)


# --------------------------------------------------------------------------
# Counters, recompilation, runtime faults.


def _with_counts(state, value):
    def replace(path, leaf):
        name = getattr(path[-1], "name", None) if path else None
        if name == "count":
            return jnp.full_like(leaf, value)
        return leaf

    return jax.tree_util.tree_map_with_path(replace, state)


def _counts(state):
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return [leaf for path, leaf in leaves if getattr(path[-1], "name", None) == "count"]


@shared_property
def test_counters_saturate_instead_of_wrapping(case):
    params = mixed_params()
    opt = case.make(case.rate(lambda step: 0.01 * jnp.ones([]) + 0.0 * step))
    state = _with_counts(opt.init(params), 2**31 - 2)
    assert bool(_counts(state)) == case.has_step_count, "step counter"
    update = jax.jit(opt.update)
    for _ in range(3):
        updates, state = update(grads_like(params), state, params, **case.extra())
        chex.assert_tree_all_finite(updates)
    counts = _counts(state)
    assert all(count.dtype == jnp.int32 for count in counts)
    values = sorted(int(count) for count in counts)
    want = [0] * case.resetting_counts
    want += [2**31 - 1] * (len(counts) - case.resetting_counts)
    assert values == want, values


@shared_property
def test_second_jitted_update_does_not_recompile(case):
    params = mixed_params()
    opt = case.make(case.rate(lambda step: 0.01 / (1.0 + step)))
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(grads, state, params):
        return opt.update(grads, state, params, **case.extra())

    state = opt.init(params)
    for k in range(3):
        _, state = step(grads_like(params, seed=k), state, params)


# Leaf-local arithmetic is the blocks' (tree_map over leaves): representatives
# by default, every leaf-local optimizer under slow.
@pytest.mark.parametrize(
    "case", representatives_first([c for c in CASES if c.leaf_local])
)
def test_nan_gradient_propagates_to_its_leaf_only(case):
    params = mixed_params()
    grads = grads_like(params)
    grads["vec"] = grads["vec"].at[1].set(jnp.nan)
    opt = case.make()
    state = opt.init(params)
    for _ in range(case.zero_first_updates):
        _, state = opt.update(grads_like(params), state, params, **case.extra())
    updates, state = opt.update(grads, state, params, **case.extra())
    assert not bool(jnp.all(jnp.isfinite(updates["vec"])))
    others = {k: v for k, v in updates.items() if k != "vec"}
    chex.assert_tree_all_finite(others)


@pytest.mark.parametrize("case", [c for c in CASES if c.has_tree_state], ids=str)
def test_mismatched_update_tree_is_rejected(case):
    params = mixed_params()
    opt = case.make()
    state = opt.init(params)
    wrong = {"vec": params["vec"], "other": params["mat"]}
    with pytest.raises(ValueError, match="tree structure"):
        opt.update(wrong, state, wrong, **case.extra())


# --------------------------------------------------------------------------
# Validation and traced hyperparameters.


@by_id
def test_rejects_negative_learning_rate(case):
    with pytest.raises(ValueError, match=r"learning_rate.*-0\.5"):
        case.make(-0.5)


@by_id
def test_rejects_invalid_hyperparameters(case):
    for overrides, arg in case.invalid:
        with pytest.raises((ValueError, TypeError), match=arg):
            case.make(**overrides)


@shared_property
def test_traced_hyperparameters_pass_validation(case):
    params = mixed_params()
    numeric = {
        k: v
        for k, v in {**case.kwargs, **case.lrjax_kwargs}.items()
        if isinstance(v, float) and not isinstance(v, bool)
    }
    static = {
        k: v
        for k, v in {**case.kwargs, **case.lrjax_kwargs}.items()
        if k not in numeric
    }
    factory = case.lrjax_factory()
    opt = optax.inject_hyperparams(factory, static_args=tuple(static))(
        learning_rate=case.learning_rate, **numeric, **static
    )
    state = jax.jit(opt.init)(params)
    update = jax.jit(opt.update)
    updates, state = update(grads_like(params), state, params, **case.extra())
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    if case.reports_learning_rate:
        np.testing.assert_allclose(
            lrjax.get_learning_rate(state), case.learning_rate, rtol=1e-6
        )
    else:
        assert lrjax.get_learning_rate(state).dtype == jnp.float32


_NAN_RUNS: dict[str, Any] = {}


def three_steps(case: OptimizerCase, static: dict[str, Any]) -> Any:
    """The case's first three updates, compiled once per case.

    The rate, the float hyperparameters and the gradients are arguments
    (traced), so hypothesis's examples reuse one compilation; ``static`` ones
    (integers that size a buffer) are part of the key.
    """
    key = (case.id, tuple(sorted(static.items())))
    if key not in _NAN_RUNS:

        @jax.jit
        def run(learning_rate, hyperparams, params, grads):
            opt = case.make(learning_rate, **hyperparams, **static)
            state = opt.init(params)
            out = []
            for g in grads:
                updates, state = opt.update(g, state, params, **case.extra())
                out.append(updates)
                params = optax.apply_updates(params, updates)
            return out

        _NAN_RUNS[key] = run
    return _NAN_RUNS[key]


@pytest.mark.slow
@by_id
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_hyperparameters_never_give_nan(case, data):
    hp = {k: data.draw(s, label=k) for k, s in case.hyperparams.items()}
    lr = data.draw(st.floats(0.0, 1.0), label="learning_rate")
    scale = data.draw(st.sampled_from([1e-6, 1.0, 1e3]), label="grad_scale")
    params = mixed_params()
    grads = [grads_like(params, seed=k, scale=scale) for k in range(3)]
    floats = {k: v for k, v in hp.items() if isinstance(v, float)}
    static = {k: v for k, v in hp.items() if k not in floats}
    for updates in three_steps(case, static)(lr, floats, params, grads):
        chex.assert_tree_all_finite(updates)


# --------------------------------------------------------------------------
# Sharding is preserved by init and update under jit.


def _sharded_params():
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    specs = {"w": P("data", "model"), "b": P("data"), "r": P()}
    shapes = {"w": (8, 6), "b": (12,), "r": (3, 5)}
    params = {
        k: jax.device_put(
            jnp.asarray(np.random.RandomState(5).randn(*shapes[k]), jnp.float32),
            NamedSharding(mesh, specs[k]),
        )
        for k in shapes
    }
    return params


@shared_property
def test_jitted_init_and_update_keep_parameter_sharding(case):
    params = _sharded_params()
    by_shape = {p.shape: p.sharding for p in params.values()}
    grads = jax.tree_util.tree_map(
        lambda g, p: jax.device_put(g, p.sharding), grads_like(params), params
    )
    opt = case.make()
    state = jax.jit(opt.init)(params)
    updates, new_state = jax.jit(opt.update)(grads, state, params, **case.extra())
    if not case.per_leaf_state:
        # Packed leaves' updates are cut from a replicated flat buffer; what
        # must keep the sharding is the parameters they update.
        updates = jax.jit(optax.apply_updates)(params, updates)
    for p, u in zip(
        jax.tree_util.tree_leaves(params),
        jax.tree_util.tree_leaves(updates),
        strict=True,
    ):
        assert u.sharding.is_equivalent_to(p.sharding, p.ndim), (u.sharding, p.sharding)
    checked = 0
    # Packed states keep small leaves' moments in flat, unsharded buffers.
    for tree in (state, new_state) if case.per_leaf_state else ():
        for leaf in jax.tree_util.tree_leaves(tree):
            if leaf.ndim and leaf.shape in by_shape:
                want = by_shape[leaf.shape]
                assert leaf.sharding.is_equivalent_to(want, leaf.ndim), (
                    f"state leaf {leaf.shape}: {leaf.sharding} != {want}"
                )
                checked += 1
            elif leaf.ndim >= 2 and leaf.shape[1:] in by_shape:
                # A history of past values (a ring buffer): the leading axis
                # is not sharded, the rest like the parameter.
                want = by_shape[leaf.shape[1:]]
                want = NamedSharding(want.mesh, P(None, *want.spec))
                assert leaf.sharding.is_equivalent_to(want, leaf.ndim), (
                    f"state leaf {leaf.shape}: {leaf.sharding} != {want}"
                )
                checked += 1
    if case.has_tree_state and case.per_leaf_state:
        assert checked > 0, "no per-parameter state leaf found"
