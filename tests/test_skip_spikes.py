"""skip_spikes: scripted gradient norms and losses with spikes after warmup.

A skipped step returns zeros and leaves the inner state (schedule count
included) exactly as it was; the next step equals the run that never saw the
spike; the running statistics equal a NumPy reference that ignores skipped
values; an orbax checkpoint resumes bit-identically.
"""

from __future__ import annotations

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from checkpoint_resume_runs import leaves, moving_quadratic, small_params, train_fn

import lrjax
from lrjax.control.metrics_reader import get_metrics
from lrjax.control.spikes import SkipSpikesState, skip_spikes

DIRECTION = {"w": jnp.array([0.6, -0.8]), "b": jnp.array([0.0])}  # norm 1
PARAMS = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([0.5])}


def grads_with_norm(c):
    return jax.tree_util.tree_map(lambda d: c * d, DIRECTION)


def reference_stats(values, decay):
    """Mean and variance with weight max(1 - decay, 1/n) for the n-th value."""
    mean = var = 0.0
    for n, x in enumerate(values, start=1):
        a = max(1.0 - decay, 1.0 / n)
        delta = x - mean
        mean += a * delta
        var = (1 - a) * (var + a * delta**2)
    return mean, var


def schedule(t):
    return 0.1 * 0.9**t


def run(opt, inputs, *, use_loss=False):
    """(updates, state) after each input, jitted; an input is a gradient norm
    (or a loss with a fixed gradient)."""
    update = jax.jit(opt.update)
    state, out = opt.init(PARAMS), []
    for x in inputs:
        if use_loss:
            u, state = update(grads_with_norm(1.0), state, PARAMS, value=x)
        else:
            u, state = update(grads_with_norm(x), state, PARAMS)
        out.append((u, state))
    return out


@pytest.mark.parametrize("use", ["grad_norm", "loss"])
def test_a_spike_after_warmup_is_skipped_and_the_run_continues_as_without_it(use):
    values = [1.0, 1.1, 0.9, 1.05, 0.95, 20.0, 1.02, 0.98]
    spike = 5
    decay = 0.8
    inner = lrjax.adam(lrjax.exponential_decay(0.1, 1, 0.9))
    opt = skip_spikes(inner, warmup=4, threshold=6.0, decay=decay, use=use)
    steps = run(opt, values, use_loss=use == "loss")
    without = [v for i, v in enumerate(values) if i != spike]
    if use == "loss":
        # The loss does not change the gradient: the bare run sees one
        # gradient per accepted step.
        bare = run(skip_spikes(inner, warmup=100, use=use), without, use_loss=True)
    else:
        bare = run(skip_spikes(inner, warmup=100), without)

    u, state = steps[spike]
    _, before = steps[spike - 1]
    chex.assert_trees_all_equal(u, jax.tree_util.tree_map(jnp.zeros_like, u))
    chex.assert_trees_all_equal(state.inner_state, before.inner_state)
    assert bool(state.skipped) and int(state.skip_count) == 1
    assert int(state.count) == spike + 1 and int(state.accepted) == spike
    np.testing.assert_allclose(state.value, values[spike], rtol=1e-6)
    # The parameters are unchanged by the skipped step.
    chex.assert_trees_all_equal(optax.apply_updates(PARAMS, u), PARAMS)

    accepted = [s for i, s in enumerate(steps) if i != spike]
    for (u, s), (u_bare, s_bare) in zip(accepted, bare, strict=True):
        chex.assert_trees_all_close(u, u_bare, rtol=1e-6)
        chex.assert_trees_all_close(s.inner_state, s_bare.inner_state, rtol=1e-6)
        np.testing.assert_allclose(
            lrjax.get_learning_rate(s), lrjax.get_learning_rate(s_bare), rtol=1e-6
        )
    # The rate after the spike is the one of the last accepted step.
    np.testing.assert_allclose(lrjax.get_learning_rate(state), schedule(spike - 1))
    np.testing.assert_allclose(lrjax.get_learning_rate(steps[-1][1]), schedule(6))

    for i, (_, s) in enumerate(steps):
        seen = [v for j, v in enumerate(values[: i + 1]) if j != spike]
        mean, var = reference_stats(seen, decay)
        np.testing.assert_allclose(s.mean, mean, rtol=1e-5, err_msg=f"step {i}")
        np.testing.assert_allclose(s.variance, var, rtol=1e-4, err_msg=f"step {i}")
    m = get_metrics(steps[-1][1])
    assert int(m["skip_count"]) == 1 and not bool(m["skipped"])
    np.testing.assert_allclose(m["monitored_std"], np.sqrt(var), rtol=1e-4)
    np.testing.assert_allclose(m["learning_rate"], schedule(6), rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_are_skipped_during_and_after_warmup(bad):
    opt = skip_spikes(lrjax.sgd(0.1), warmup=3, decay=0.5)
    steps = run(opt, [1.0, bad, 1.2, 0.8, 1.0, bad, 1.1])
    skipped = [bool(s.skipped) for _, s in steps]
    assert skipped == [False, True, False, False, False, True, False]
    for i in (1, 5):
        u, s = steps[i]
        chex.assert_trees_all_equal(u, jax.tree_util.tree_map(jnp.zeros_like, u))
        chex.assert_trees_all_equal(s.inner_state, steps[i - 1][1].inner_state)
    mean, var = reference_stats([1.0, 1.2, 0.8, 1.0, 1.1], 0.5)
    np.testing.assert_allclose(steps[-1][1].mean, mean, rtol=1e-6)
    np.testing.assert_allclose(steps[-1][1].variance, var, rtol=1e-5)
    assert int(steps[-1][1].skip_count) == 2


def test_during_warmup_finite_values_are_never_skipped():
    steps = run(skip_spikes(lrjax.sgd(0.1), warmup=4), [1.0, 100.0, 1e4, 1.0])
    assert not any(bool(s.skipped) for _, s in steps)


def test_after_max_consecutive_skips_the_next_finite_value_is_accepted():
    # The level moves from 1 to 10 for good: two skips, then accepted.
    opt = skip_spikes(lrjax.sgd(0.1), warmup=3, max_consecutive=2)
    steps = run(opt, [1.0, 1.1, 0.9, 10.0, 10.0, 10.0, np.nan, np.nan, np.nan])
    assert [bool(s.skipped) for _, s in steps] == [False] * 3 + [True, True, False] + [
        True
    ] * 3
    assert int(steps[5][1].accepted) == 4
    # Without the escape every later step is skipped.
    never = run(
        skip_spikes(lrjax.sgd(0.1), warmup=3, max_consecutive=None),
        [1.0, 1.1, 0.9] + [10.0] * 5,
    )
    assert int(never[-1][1].skip_count) == 5


def test_non_finite_skips_neither_use_up_nor_break_max_consecutive():
    # A NaN burst (fp16 loss scaling, say) says nothing about the level: the
    # spike after it is still skipped, and the count of spikes in a row runs
    # across the NaNs: spike, NaN, spike reaches max_consecutive=2.
    opt = skip_spikes(lrjax.sgd(0.1), warmup=3, max_consecutive=2)
    values = [1.0, 1.1, 0.9, np.nan, np.nan, np.nan, 1e6, np.nan, 1e6, 1e6]
    steps = run(opt, values)
    skipped = [bool(s.skipped) for _, s in steps]
    assert skipped == [False] * 3 + [True] * 6 + [False]
    assert [int(s.consecutive) for _, s in steps] == [0, 0, 0, 0, 0, 0, 1, 1, 2, 0]
    assert int(steps[-1][1].accepted) == 4
    assert int(steps[-1][1].skip_count) == 6


def test_abstract_init_and_jit():
    opt = skip_spikes(lrjax.adam(1e-3), warmup=2)
    state = opt.init(PARAMS)
    chex.assert_trees_all_equal_shapes_and_dtypes(
        jax.eval_shape(opt.init, PARAMS), state
    )
    assert isinstance(state, SkipSpikesState) and np.isnan(float(state.value))
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 1e-3, rtol=1e-6)


def test_loss_mode_needs_a_scalar_value():
    opt = skip_spikes(lrjax.sgd(0.1), use="loss")
    state = opt.init(PARAMS)
    with pytest.raises(ValueError, match=re.escape("update needs the loss as value=")):
        opt.update(DIRECTION, state, PARAMS)
    with pytest.raises(ValueError, match="value must be a scalar loss, got shape"):
        opt.update(DIRECTION, state, PARAMS, value=jnp.ones(2))


def test_value_reaches_the_inner_optimizer():
    opt = skip_spikes(
        optax.chain(lrjax.sgd(0.1), lrjax.reduce_on_plateau(0.5, patience=0)),
        use="loss",
        warmup=10,
    )
    steps = run(opt, [1.0, 2.0], use_loss=True)
    np.testing.assert_allclose(lrjax.get_learning_rate(steps[-1][1]), 0.05, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"threshold": 0.0}, ValueError, "threshold must be > 0 and finite, got 0.0"),
        ({"threshold": -1}, ValueError, "threshold must be > 0 and finite, got -1"),
        ({"warmup": 0}, ValueError, "warmup must be an integer > 0, got 0"),
        ({"warmup": 2.5}, TypeError, "warmup must be an integer, got 2.5"),
        ({"decay": 1.0}, ValueError, "decay must be in [0.0, 1.0), got 1.0"),
        ({"decay": None}, TypeError, "decay must be a number in [0.0, 1.0), got None"),
        (
            {"use": "norm"},
            ValueError,
            "use must be one of ['grad_norm', 'loss'], got 'norm'",
        ),
        (
            {"max_consecutive": 0},
            ValueError,
            "max_consecutive must be an integer > 0, got 0",
        ),
    ],
)
def test_bad_arguments_raise_at_construction(kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        skip_spikes(lrjax.sgd(0.1), **kwargs)


def test_inner_must_be_a_transformation():
    with pytest.raises(TypeError, match="inner must be a GradientTransformation"):
        skip_spikes("adam")


SPIKES_AT = (4, 8)


def spiky_loss(params, step):
    """The moving quadratic, a thousand times larger at SPIKES_AT."""
    spike = jnp.isin(step, jnp.asarray(SPIKES_AT))
    return moving_quadratic(params, step) * jnp.where(spike, 1000.0, 1.0)


@pytest.mark.parametrize("use", ["grad_norm", "loss"])
def test_orbax_resume_is_bit_identical(use, tmp_path):
    save_at, total = 6, 11
    opt = skip_spikes(
        lrjax.adamw(lrjax.cosine_decay_schedule(0.05, total)),
        warmup=3,
        decay=0.9,
        use=use,
    )
    extra = (lambda loss: {"value": loss}) if use == "loss" else (lambda loss: {})
    run_steps = train_fn(opt, spiky_loss, extra)
    params = small_params()
    start = (params, opt.init(params))
    saved = run_steps(*start, 0, save_at)
    uninterrupted = run_steps(*start, 0, total)
    assert int(saved[1].skip_count) == 1 and int(uninterrupted[1].skip_count) == 2

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", saved)
    checkpointer.wait_until_finished()
    abstract = jax.eval_shape(lambda: start)
    restored = checkpointer.restore(tmp_path / "ckpt", abstract)
    assert jax.tree_util.tree_structure(restored) == jax.tree_util.tree_structure(saved)
    resumed = run_steps(*restored, save_at, total)
    assert jax.tree_util.tree_structure(resumed) == jax.tree_util.tree_structure(
        uninterrupted
    )
    for a, b in zip(leaves(resumed), leaves(uninterrupted), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
