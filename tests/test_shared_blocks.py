"""Properties of the blocks every optimizer shares, tested once on the block.

Every lrjax optimizer applies its rate through ``scale_by_learning_rate`` and
counts steps with the same saturating int32 counter as the moment blocks.
The learning-rate forms, the counters, recompilation and traced (or
``vmap``-batched) hyperparameters are checked here, on those blocks;
``test_optimizers_common.py`` repeats them on a few representative
optimizers by default and on every optimizer under the ``slow`` marker.
References: the formulas ``u = -lr(t) * g`` and Adam's first step
``-g / (|g| + eps)``, written in the tests.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

COUNT_MAX = 2**31 - 1
G = np.array([0.5, -2.0, 3.0, 1e-3])


def schedule(step):
    return 0.1 / (1.0 + step)


# The forms a user passes a rate in; each must give the same float32 rate.
RATE_FORMS = {
    "float": 0.1,
    "np.float32": np.float32(0.1),
    "np.float64": np.float64(0.1),
    "jnp.float32": jnp.float32(0.1),
    "bf16 scalar": jnp.asarray(0.1, jnp.bfloat16),
    "schedule": schedule,
}
DTYPES = [jnp.bfloat16, jnp.float16, jnp.float32]


def rate_at(form, step):
    value = RATE_FORMS[form]
    return float(value(step)) if callable(value) else float(np.float32(value))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("form", sorted(RATE_FORMS))
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_every_rate_form_scales_updates_in_their_own_dtype(form, dtype, jit):
    block = lrjax.scale_by_learning_rate(RATE_FORMS[form])
    update = jax.jit(block.update) if jit else block.update
    grads = jnp.asarray(G, dtype)
    state = block.init(grads)
    init_dtypes = jax.tree_util.tree_map(lambda x: x.dtype, state)
    for t in range(3):
        updates, state = update(grads, state)
        assert updates.dtype == dtype
        # One rounding of the float32 product to the update's dtype.
        want = -rate_at(form, t) * np.asarray(grads, np.float64)
        tol = float(jnp.finfo(dtype).eps)
        np.testing.assert_allclose(np.asarray(updates, np.float64), want, rtol=tol)
        assert jax.tree_util.tree_map(lambda x: x.dtype, state) == init_dtypes
        np.testing.assert_allclose(
            lrjax.get_learning_rate(state), rate_at(form, t), rtol=1e-6
        )
    assert int(state.count) == 3


@pytest.mark.parametrize(
    "name, make",
    [
        ("scale_by_learning_rate", lambda: lrjax.scale_by_learning_rate(schedule)),
        ("scale_by_schedule", lambda: lrjax.scale_by_schedule(schedule)),
        ("scale_by_adam", lambda: lrjax.scale_by_adam()),
        ("adam", lambda: lrjax.adam(schedule)),
    ],
)
def test_counters_saturate_at_int32_max(name, make):
    opt = make()
    grads = jnp.asarray(G, jnp.float32)

    def near_max(path, leaf):
        if getattr(path[-1], "name", None) == "count":
            return jnp.full_like(leaf, COUNT_MAX - 1)
        return leaf

    state = jax.tree_util.tree_map_with_path(near_max, opt.init(grads))
    update = jax.jit(opt.update)
    for _ in range(3):
        updates, state = update(grads, state, grads)
        chex.assert_tree_all_finite(updates)
    counts = [
        leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]
        if getattr(path[-1], "name", None) == "count"
    ]
    assert counts, name
    for count in counts:
        assert count.dtype == jnp.int32 and int(count) == COUNT_MAX
    # The last update ran at the saturated step: the schedule's value there.
    if name == "scale_by_schedule":
        np.testing.assert_allclose(state.step_size, schedule(COUNT_MAX), rtol=1e-6)
    elif name != "scale_by_adam":
        rate = lrjax.get_learning_rate(state)
        np.testing.assert_allclose(rate, schedule(COUNT_MAX), rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lrjax.scale_by_learning_rate(0.1),
        lambda: lrjax.scale_by_learning_rate(schedule),
        lambda: lrjax.scale_by_schedule(schedule),
        lambda: lrjax.scale_by_adam(),
        lambda: lrjax.adam(schedule),
    ],
)
def test_jitted_updates_trace_once(make):
    opt = make()
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(grads, state):
        return opt.update(grads, state, grads)

    grads = jnp.asarray(G, jnp.float32)
    state = opt.init(grads)
    for k in range(4):
        _, state = step(grads * (k + 1), state)


def test_traced_rate_passes_validation_inside_jit():
    @jax.jit
    def first_update(lr, grads):
        block = lrjax.scale_by_learning_rate(lr)
        updates, state = block.update(grads, block.init(grads))
        return updates, lrjax.get_learning_rate(state)

    updates, rate = first_update(0.25, jnp.asarray(G, jnp.float32))
    np.testing.assert_allclose(updates, -0.25 * G, rtol=1e-6)
    np.testing.assert_allclose(rate, 0.25, rtol=1e-6)


def test_batched_hyperparameters_under_vmap_equal_separate_runs():
    lrs = jnp.asarray([0.01, 0.1, 1.0])
    b1s = jnp.asarray([0.0, 0.5, 0.9])
    grads = jnp.asarray(G, jnp.float32)

    def two_updates(lr, b1):
        opt = lrjax.adam(lr, b1=b1)
        state = opt.init(grads)
        u, state = opt.update(grads, state, grads)
        u, state = opt.update(2.0 * grads, state, grads)
        return u, lrjax.get_learning_rate(state)

    batched, rates = jax.jit(jax.vmap(two_updates))(lrs, b1s)
    for i in range(3):
        single, rate = two_updates(float(lrs[i]), float(b1s[i]))
        np.testing.assert_allclose(batched[i], single, rtol=1e-6)
        np.testing.assert_allclose(rates[i], rate, rtol=1e-6)
    np.testing.assert_allclose(rates, lrs, rtol=1e-6)


def test_first_adam_step_under_inject_hyperparams():
    # Adam's first step is -lr * g / (|g| + eps): both corrections cancel.
    opt = optax.inject_hyperparams(lrjax.adam)(learning_rate=0.1, b1=0.8, eps=1e-3)
    grads = jnp.asarray(G, jnp.float32)
    state = jax.jit(opt.init)(grads)
    updates, state = jax.jit(opt.update)(grads, state, grads)
    np.testing.assert_allclose(updates, -0.1 * G / (np.abs(G) + 1e-3), rtol=1e-5)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.1, rtol=1e-6)
