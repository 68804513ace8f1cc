"""optax's combinators re-exported by lrjax, around lrjax optimizers.

Each combinator wraps an lrjax optimizer and, as the reference, optax's
same-named optimizer; the updates must agree step by step and
``lrjax.get_learning_rate`` must give the rate of the schedule written out
here, ``0.1 * 0.5 ** (t / 4)`` at update ``t`` (0-based), through the wrapper.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

NAMES = [
    "masked", "multi_transform", "partition", "MultiSteps", "apply_if_finite",
    "lookahead", "flatten", "freeze", "named_chain", "skip_not_finite",
    "zero_nans", "keep_params_nonnegative", "scale_gradient", "apply_every",
]  # fmt: skip


def rate(t):
    return 0.1 * 0.5 ** (t / 4)


LR = lrjax.exponential_decay(0.1, transition_steps=4, decay_rate=0.5)
PARAMS = {"a": jnp.array([1.0, -2.0, 3.0]), "b": jnp.array([[0.5, 1.5]])}


def grads_at(t):
    r = np.random.RandomState(t)
    return jax.tree_util.tree_map(
        lambda p: jnp.asarray(r.randn(*p.shape) + 0.5, p.dtype), PARAMS
    )


def run(ours, theirs, steps=6, params=PARAMS, grads=grads_at, extra=None):
    """Applies both; checks equal updates; returns lrjax's states per step."""
    s, s_ref = ours.init(params), theirs.init(params)
    states = []
    for t in range(steps):
        g = grads(t)
        kw = extra(t) if extra else {}
        u, s = ours.update(g, s, params, **kw)
        u_ref, s_ref = theirs.update(g, s_ref, params, **kw)
        # optax computes 1 - b2**t in float32 (~1e-5 off); lrjax exactly.
        chex.assert_trees_all_close(u, u_ref, rtol=3e-5, atol=1e-7)
        states.append(s)
    return states


def test_the_names_are_optax_objects():
    for name in NAMES:
        assert getattr(lrjax, name) is getattr(optax, name), name


def test_masked():
    mask = {"a": True, "b": False}
    states = run(lrjax.masked(lrjax.adam(LR), mask), optax.masked(optax.adam(LR), mask))
    for t, s in enumerate(states):
        np.testing.assert_allclose(lrjax.get_learning_rate(s), rate(t), rtol=1e-6)


@pytest.mark.parametrize("combinator", ["multi_transform", "partition"])
def test_partition_reports_each_label(combinator):
    labels = {"a": "adam", "b": "sgd"}
    ours = getattr(lrjax, combinator)(
        {"adam": lrjax.adam(LR), "sgd": lrjax.sgd(0.5)}, labels
    )
    theirs = getattr(optax, combinator)(
        {"adam": optax.adam(LR), "sgd": optax.sgd(0.5)}, labels
    )
    states = run(ours, theirs)
    for t, s in enumerate(states):
        got = lrjax.get_learning_rate(s)
        assert set(got) == {"adam", "sgd"}
        np.testing.assert_allclose(got["adam"], rate(t), rtol=1e-6)
        np.testing.assert_allclose(got["sgd"], 0.5)


def test_multi_steps_rate_follows_the_inner_updates():
    # Every 3 mini-steps the accumulated gradient makes one inner update.
    ours = lrjax.MultiSteps(lrjax.adam(LR), every_k_schedule=3)
    theirs = optax.MultiSteps(optax.adam(LR), every_k_schedule=3)
    states = run(ours.gradient_transformation(), theirs.gradient_transformation(), 9)
    for t, s in enumerate(states):
        inner_updates = (t + 1) // 3
        want = rate(max(inner_updates - 1, 0))  # before any: the step-0 value
        np.testing.assert_allclose(lrjax.get_learning_rate(s), want, rtol=1e-6)


def test_skip_not_finite_inside_multi_steps():
    def grads(t):
        g = grads_at(t)
        return {**g, "a": g["a"].at[0].set(jnp.nan)} if t == 2 else g

    ours = lrjax.MultiSteps(
        lrjax.adam(LR), 1, should_skip_update_fn=lrjax.skip_not_finite
    )
    theirs = optax.MultiSteps(
        optax.adam(LR), 1, should_skip_update_fn=optax.skip_not_finite
    )
    states = run(
        ours.gradient_transformation(), theirs.gradient_transformation(), 5, grads=grads
    )
    # The NaN step is skipped: updates 0, 1, 3, 4 -> inner updates 1, 2, 2, 3, 4.
    for t, n in zip(range(5), [1, 2, 2, 3, 4], strict=True):
        np.testing.assert_allclose(
            lrjax.get_learning_rate(states[t]), rate(n - 1), rtol=1e-6
        )


def test_apply_if_finite_keeps_the_rate_of_the_last_finite_update():
    def grads(t):
        g = grads_at(t)
        return {**g, "b": g["b"] * jnp.inf} if t == 3 else g

    ours = lrjax.apply_if_finite(lrjax.adam(LR), max_consecutive_errors=2)
    theirs = optax.apply_if_finite(optax.adam(LR), max_consecutive_errors=2)
    states = run(ours, theirs, 6, grads=grads)
    for t, n in zip(range(6), [0, 1, 2, 2, 3, 4], strict=True):
        np.testing.assert_allclose(
            lrjax.get_learning_rate(states[t]), rate(n), rtol=1e-6
        )


def test_lookahead():
    params = lrjax.LookaheadParams.init_synced(PARAMS)

    def grads(t):
        return lrjax.LookaheadParams(
            grads_at(t), jax.tree_util.tree_map(jnp.zeros_like, PARAMS)
        )

    ours = lrjax.lookahead(lrjax.adam(LR), sync_period=2, slow_step_size=0.5)
    theirs = optax.lookahead(optax.adam(LR), sync_period=2, slow_step_size=0.5)
    states = run(ours, theirs, 6, params=params)
    for t, s in enumerate(states):
        np.testing.assert_allclose(lrjax.get_learning_rate(s), rate(t), rtol=1e-6)


@pytest.mark.parametrize(
    "name, wrap",
    [
        ("flatten", lambda m: m.flatten(m_adam(m))),
        ("freeze", lambda m: m.chain(m.freeze({"a": False, "b": True}), m_adam(m))),
        ("zero_nans", lambda m: m.chain(m.zero_nans(), m_adam(m))),
        (
            "keep_params_nonnegative",
            lambda m: m.chain(m_adam(m), m.keep_params_nonnegative()),
        ),
        ("apply_every", lambda m: m.chain(m_adam(m), m.apply_every(2))),
    ],
)
def test_wrappers_on_the_optimizer_path(name, wrap):
    def grads(t):
        g = grads_at(t)
        return {**g, "a": g["a"].at[1].set(jnp.nan)} if name == "zero_nans" else g

    states = run(wrap(lrjax), wrap(optax), grads=grads)
    for t, s in enumerate(states):
        np.testing.assert_allclose(lrjax.get_learning_rate(s), rate(t), rtol=1e-6)


def m_adam(module):
    return module.adam(LR)


def test_named_chain_multiplies_along_its_path():
    ours = lrjax.named_chain(
        ("clip", lrjax.clip_by_global_norm(1.0)),
        ("adam", lrjax.adam(LR)),
        ("driver", lrjax.loss_adaptive_scale(increase=1.5, decrease=0.5)),
    )
    state = ours.init(PARAMS)
    losses = [3.0, 2.0, 2.5, 1.0]  # first recorded, then fall, rise, fall
    scales = [1.0, 1.5, 0.75, 1.125]
    for t, (loss, scale) in enumerate(zip(losses, scales, strict=True)):
        _, state = ours.update(grads_at(t), state, PARAMS, value=jnp.asarray(loss))
        np.testing.assert_allclose(
            lrjax.get_learning_rate(state), rate(t) * scale, rtol=1e-6
        )


def test_scale_gradient_scales_the_gradient_lrjax_applies():
    def loss(p):
        return jnp.sum(lrjax.scale_gradient(p, 0.25) ** 2)

    p = jnp.array([1.0, -2.0])
    g = jax.grad(loss)(p)
    np.testing.assert_allclose(g, 0.25 * 2 * p)
    opt = lrjax.sgd(0.1)
    updates, _ = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(updates, -0.1 * 0.5 * p, rtol=1e-6)
