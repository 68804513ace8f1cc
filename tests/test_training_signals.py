"""track_signals records norms and ratios equal to NumPy formulas; get_metrics
reads them wherever the state lives.

Each reference is written here in float64 NumPy: ``sqrt(sum |x|**2)`` for the
norms, their ratio for the RMS ratio (0 where the parameters are all zero)
and ``m_t = b m + (1 - b) x``, ``m_t / (1 - b**t)`` for the moving average.
"""

from __future__ import annotations

import re
from functools import partial

import chex
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.training import train_state

import lrjax
from lrjax.control.metrics_reader import get_metrics
from lrjax.control.signals import TrackSignalsState, track_signals
from lrjax.control.spikes import skip_spikes

SIGNALS = ("grad_norm", "update_norm", "param_norm", "update_rms_ratio")


def make_params():
    r = np.random.RandomState(0)
    return {
        "enc": {
            "w": jnp.asarray(r.randn(3, 4), jnp.float32),
            "b": jnp.zeros(4, jnp.float32),
        },
        "dec": {"w": jnp.asarray(r.randn(4, 2), jnp.float32)},
    }


def grads_at(params, t):
    """Scripted gradients: a different direction and size every step."""
    r = np.random.RandomState(100 + t)
    return jax.tree_util.tree_map(
        lambda p: jnp.asarray((1.0 + t) * r.randn(*p.shape), p.dtype), params
    )


def norm(leaves):
    return np.sqrt(
        sum(np.sum(np.abs(np.asarray(x, np.complex128)) ** 2) for x in leaves)
    )


def reference_signals(g, u, p, groups):
    """Signals of one step, NumPy float64: groups maps label -> leaf paths."""
    out = {}
    flat = {k: jax.tree_util.tree_leaves(t) for k, t in (("g", g), ("u", u), ("p", p))}
    paths = [
        "/".join(str(k.key) for k in path)
        for path, _ in jax.tree_util.tree_flatten_with_path(p)[0]
    ]
    for label, members in [("", paths)] + list(groups.items()):
        idx = [paths.index(m) for m in members]
        gn, un, pn = (norm([flat[k][i] for i in idx]) for k in ("g", "u", "p"))
        suffix = f"/{label}" if label else ""
        out["grad_norm" + suffix] = gn
        out["update_norm" + suffix] = un
        out["param_norm" + suffix] = pn
        out["update_rms_ratio" + suffix] = un / pn if pn > 0 else 0.0
    return out


def run_and_reference(opt_inner, groups_arg, groups_ref, ema_decay=None, steps=5):
    """Steps the tracked and the bare optimizer side by side; returns the
    signals read at each step and their NumPy reference."""
    opt = track_signals(opt_inner, groups=groups_arg, ema_decay=ema_decay)
    params = make_params()
    state, bare_state = opt.init(params), opt_inner.init(params)
    update = jax.jit(opt.update)
    ema, got, want = None, [], []
    for t in range(steps):
        g = grads_at(params, t)
        u, state = update(g, state, params)
        u_bare, bare_state = opt_inner.update(g, bare_state, params)
        chex.assert_trees_all_close(
            u, u_bare, rtol=1e-5
        )  # updates unchanged (jit vs eager)
        raw = reference_signals(g, u, params, groups_ref)
        if ema_decay is None:
            want.append(raw)
        else:
            b = ema_decay
            ema = {
                k: (1 - b) * x + (b * ema[k] if ema else 0.0) for k, x in raw.items()
            }
            want.append({k: m / (1 - b ** (t + 1)) for k, m in ema.items()})
        got.append(get_metrics(state))
        params = optax.apply_updates(params, u)
    return got, want, state


GROUPS_TOP = {"enc": ["enc/w", "enc/b"], "dec": ["dec/w"]}


@pytest.mark.parametrize(
    "groups_arg, groups_ref",
    [
        (None, {}),
        ("top", GROUPS_TOP),
        (
            {"kernels": r"/w$", "biases": r"/b$"},
            {"kernels": ["enc/w", "dec/w"], "biases": ["enc/b"]},
        ),
        (lambda path: "enc_w" if path == "enc/w" else None, {"enc_w": ["enc/w"]}),
    ],
    ids=["global", "top", "regex", "callable"],
)
@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_signals_equal_numpy_formulas(groups_arg, groups_ref, ema_decay):
    schedule = lrjax.exponential_decay(0.05, 1, 0.8)
    got, want, state = run_and_reference(
        lrjax.adam(schedule), groups_arg, groups_ref, ema_decay
    )
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        assert set(g) == set(w) | {"learning_rate"}
        for k in w:
            np.testing.assert_allclose(g[k], w[k], rtol=2e-5, err_msg=f"{k} at {t}")
            assert g[k].dtype == jnp.float32 and g[k].shape == ()
        np.testing.assert_allclose(g["learning_rate"], 0.05 * 0.8**t, rtol=1e-6)
    assert int(state.count) == 5


def test_zero_parameters_give_ratio_zero_not_inf():
    # enc/b starts at zero: its group's ratio is 0 at the first step only.
    got, _, _ = run_and_reference(lrjax.sgd(0.1), {"b": r"/b$"}, {}, steps=2)
    assert float(got[0]["update_rms_ratio/b"]) == 0.0
    assert float(got[1]["update_rms_ratio/b"]) > 0.0
    assert all(np.isfinite(float(v)) for v in got[0].values())


def test_before_any_update_and_abstract_init():
    params = make_params()
    opt = track_signals(lrjax.adam(1e-3), groups="top", ema_decay=0.99)
    state = opt.init(params)
    assert all(
        float(v) == 0.0 for k, v in get_metrics(state).items() if k != "learning_rate"
    )
    abstract = jax.eval_shape(opt.init, params)
    chex.assert_trees_all_equal_shapes_and_dtypes(abstract, state)
    assert isinstance(abstract, TrackSignalsState)
    assert sorted(state.signals) == sorted(
        list(SIGNALS) + [f"{s}/{g}" for g in ("enc", "dec") for s in SIGNALS]
    )


def test_bf16_and_complex_leaves():
    params = {
        "h": jnp.asarray([1.0, -2.0, 3.0], jnp.bfloat16),
        "z": jnp.asarray([3 + 4j, 1 - 1j], jnp.complex64),
    }
    grads = {
        "h": jnp.asarray([0.5, 0.25, -1.0], jnp.bfloat16),
        "z": jnp.asarray([1j, 2.0], jnp.complex64),
    }
    opt = track_signals(lrjax.sgd(0.5), groups="top")
    u, state = jax.jit(opt.update)(grads, opt.init(params), params)
    assert u["h"].dtype == jnp.bfloat16 and u["z"].dtype == jnp.complex64
    m = get_metrics(state)
    want = reference_signals(grads, u, params, {"h": ["h"], "z": ["z"]})
    for k, w in want.items():
        np.testing.assert_allclose(m[k], w, rtol=1e-6, err_msg=k)
    # |3+4j|**2 + |1-1j|**2 = 27: the complex norm uses |z|.
    np.testing.assert_allclose(m["param_norm/z"], np.sqrt(27.0), rtol=1e-6)


def test_reader_through_chain_partition_and_several_recorders():
    params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([0.5])}
    grads = {"w": jnp.array([0.5, 0.5]), "b": jnp.array([1.0])}
    opt = optax.chain(
        optax.clip_by_global_norm(10.0),
        track_signals(lrjax.sgd(0.1)),
        lrjax.reduce_on_plateau(0.5),
    )
    _, state = opt.update(grads, opt.init(params), params)
    m = jax.jit(get_metrics)(state)
    np.testing.assert_allclose(m["param_norm"], np.sqrt(5.25), rtol=1e-6)
    np.testing.assert_allclose(m["learning_rate"], 0.1, rtol=1e-6)

    part = optax.partition(
        {"a": track_signals(lrjax.sgd(0.1)), "b": track_signals(lrjax.sgd(0.2))},
        {"w": "a", "b": "b"},
    )
    _, state = part.update(grads, part.init(params), params)
    m = get_metrics(state)
    # Two recorders: each key is prefixed with its partition label.
    assert sorted(m) == sorted(
        [f"{label}/{k}" for label in "ab" for k in SIGNALS]
        + ["learning_rate/a", "learning_rate/b"]
    )
    np.testing.assert_allclose(m["a/param_norm"], np.sqrt(5.0))
    np.testing.assert_allclose(m["b/update_norm"], 0.2)
    np.testing.assert_allclose(m["learning_rate/a"], 0.1, rtol=1e-6)
    np.testing.assert_allclose(m["learning_rate/b"], 0.2, rtol=1e-6)

    # Two in a chain: the chain positions.
    chained = optax.chain(
        track_signals(optax.identity()), track_signals(lrjax.sgd(0.1))
    )
    _, state = chained.update(grads, chained.init(params), params)
    m = get_metrics(state)
    np.testing.assert_allclose(m["0/update_norm"], np.sqrt(1.5), rtol=1e-6)
    np.testing.assert_allclose(m["1/update_norm"], 0.1 * np.sqrt(1.5), rtol=1e-6)

    # Nested recorders: the short paths coincide, so the whole paths; the
    # outer one at the root gets no prefix (no leading "/").
    nested = track_signals(track_signals(lrjax.sgd(0.1)))
    _, state = nested.update(grads, nested.init(params), params)
    m = get_metrics(state)
    assert {"grad_norm", "inner_state/grad_norm"} <= set(m)
    assert not any(k.startswith("/") for k in m)

    # Inside optax.MultiSteps (gradient accumulation): no wrapper field shows.
    multi = optax.MultiSteps(
        optax.partition(
            {"a": track_signals(lrjax.sgd(0.1)), "b": track_signals(lrjax.sgd(0.2))},
            {"w": "a", "b": "b"},
        ),
        every_k_schedule=2,
    )
    state = multi.init(params)
    for _ in range(2):
        _, state = multi.update(grads, state, params)
    assert {"a/grad_norm", "b/grad_norm"} <= set(get_metrics(state))

    # A recorder and a spike skipper: different keys, no prefix.
    opt = skip_spikes(track_signals(lrjax.sgd(0.1)), warmup=2)
    _, state = opt.update(grads, opt.init(params), params)
    m = get_metrics(state)
    assert {"grad_norm", "skip_count", "skipped", "learning_rate"} <= set(m)
    assert int(m["skip_count"]) == 0


def test_reader_through_train_state():
    params = make_params()
    state = train_state.TrainState.create(
        apply_fn=None, params=params, tx=track_signals(lrjax.adam(1e-2), groups="top")
    )
    g = grads_at(params, 0)
    state = jax.jit(lambda s: s.apply_gradients(grads=g))(state)
    for holder in (state, state.opt_state):
        m = get_metrics(holder)
        np.testing.assert_allclose(
            m["param_norm/dec"], norm([params["dec"]["w"]]), rtol=1e-6
        )
        np.testing.assert_allclose(m["learning_rate"], 1e-2, rtol=1e-6)
    # Adam's first step moves every element by lr: ratio = lr * sqrt(n) / |p|.
    n = sum(x.size for x in jax.tree_util.tree_leaves(params))
    want = 1e-2 * np.sqrt(n) / norm(jax.tree_util.tree_leaves(params))
    np.testing.assert_allclose(get_metrics(state)["update_rms_ratio"], want, rtol=1e-5)


def test_reader_through_nnx_optimizer_and_its_opt_state_under_nnx_jit():
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(
        model, track_signals(lrjax.sgd(0.1), groups="top"), wrt=nnx.Param
    )
    x = jnp.array([[1.0, -1.0, 2.0]])
    loss = lambda m: jnp.sum(m(x) ** 2)

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(loss)(model)
        optimizer.update(model, grads)
        return grads, get_metrics(optimizer), get_metrics(optimizer.opt_state)

    for _ in range(2):
        kernel = np.asarray(model.kernel[...])
        bias = np.asarray(model.bias[...])
        grads, in_jit, in_jit_state = step(model, optimizer)
        gk, gb = np.asarray(grads["kernel"][...]), np.asarray(grads["bias"][...])
        for m in (in_jit, in_jit_state, get_metrics(optimizer)):
            np.testing.assert_allclose(m["grad_norm/kernel"], norm([gk]), rtol=1e-6)
            np.testing.assert_allclose(m["param_norm"], norm([kernel, bias]), rtol=1e-6)
            np.testing.assert_allclose(
                m["update_norm"], 0.1 * norm([gk, gb]), rtol=1e-6
            )
            np.testing.assert_allclose(m["learning_rate"], 0.1, rtol=1e-6)


def test_get_metrics_without_a_recorder_raises():
    state = lrjax.adam(1e-3).init(jnp.zeros(2))
    with pytest.raises(ValueError, match="records no training signals.*track_signals"):
        get_metrics(state)


def test_update_without_params_raises():
    opt = track_signals(lrjax.sgd(0.1))
    with pytest.raises(ValueError, match="needs params"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"ema_decay": 1.0}, ValueError, "ema_decay must be in [0.0, 1.0), got 1.0"),
        ({"ema_decay": -0.1}, ValueError, "ema_decay must be in [0.0, 1.0), got -0.1"),
        ({"ema_decay": "0.9"}, TypeError, "ema_decay must be a real number"),
        ({"groups": "first"}, ValueError, "groups must be one of ['top'], got 'first'"),
        ({"groups": 3}, TypeError, "groups must be None, 'top', a callable"),
        (
            {"groups": {"a": "("}},
            ValueError,
            "groups['a'] must be a regular expression",
        ),
        ({"groups": {"a": 1}}, TypeError, "groups must map labels"),
    ],
)
def test_bad_arguments_raise_at_construction(kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        track_signals(lrjax.sgd(0.1), **kwargs)


def test_inner_must_be_a_transformation():
    with pytest.raises(TypeError, match="inner must be a GradientTransformation"):
        track_signals(0.1)


def test_callable_label_must_be_a_string():
    opt = track_signals(lrjax.sgd(0.1), groups=lambda path: 3)
    with pytest.raises(TypeError, match="must be a str or None, got 3"):
        opt.init({"w": jnp.ones(2)})


# Which updates record, in the order they come: the first, then every third.
RECORD_PATTERN = (True, False, False, True, False, True)


def reference_for_pattern(opt_inner, pattern, ema_decay):
    """What get_metrics must read after each update when only the updates
    marked True record: the last recorded step's values (NumPy), or the
    debiased moving average over the recorded steps only."""
    params, state = make_params(), opt_inner.init(make_params())
    want, last, ema, n = [], None, None, 0
    for t, record in enumerate(pattern):
        g = grads_at(params, t)
        u, state = opt_inner.update(g, state, params)
        if record:
            raw = reference_signals(g, u, params, {})
            n += 1
            if ema_decay is None:
                last = raw
            else:
                b = ema_decay
                ema = {
                    k: (1 - b) * x + (b * ema[k] if ema else 0.0)
                    for k, x in raw.items()
                }
                last = {k: m / (1 - b**n) for k, m in ema.items()}
        want.append(last)
        params = optax.apply_updates(params, u)
    return want


@pytest.mark.parametrize("ema_decay", [None, 0.8])
@pytest.mark.parametrize("flag", ["python_bool", "traced"])
def test_recording_some_updates(flag, ema_decay):
    """record_signals=False keeps the last values and count, the updates are
    the inner optimizer's, and a moving average runs over recorded updates."""
    inner = lrjax.adam(lrjax.exponential_decay(0.05, 1, 0.8))
    opt = track_signals(inner, ema_decay=ema_decay)
    want = reference_for_pattern(inner, RECORD_PATTERN, ema_decay)
    if flag == "python_bool":
        update = jax.jit(opt.update, static_argnames="record_signals")
    else:
        update = jax.jit(opt.update)
    params = make_params()
    state = opt.init(params)
    zeros = dict(state.signals)
    bare_state = inner.init(params)
    for t, record in enumerate(RECORD_PATTERN):
        g = grads_at(params, t)
        record_arg = record if flag == "python_bool" else jnp.asarray(record)
        u, state = update(g, state, params, record_signals=record_arg)
        u_bare, bare_state = inner.update(g, bare_state, params)
        chex.assert_trees_all_close(u, u_bare, rtol=1e-5)
        got = get_metrics(state)
        for k in SIGNALS:
            expected = want[t][k] if want[t] is not None else zeros[k]
            np.testing.assert_allclose(got[k], expected, rtol=2e-5, err_msg=f"{k}@{t}")
        # The rate read back is the inner optimizer's, recorded or not.
        np.testing.assert_allclose(got["learning_rate"], 0.05 * 0.8**t, rtol=1e-6)
        assert int(state.count) == sum(RECORD_PATTERN[: t + 1])
        params = optax.apply_updates(params, u)


def reductions(fn, *args, **kwargs):
    """How many reduce_sum the traced computation holds, nested jaxprs included."""

    def count(jaxpr):
        n = 0
        for eqn in jaxpr.eqns:
            n += eqn.primitive.name == "reduce_sum"
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                n += count(sub)
        return n

    return count(jax.make_jaxpr(partial(fn, **kwargs))(*args).jaxpr)


def test_a_step_that_does_not_record_computes_nothing_more_than_inner():
    inner = lrjax.adam(1e-3)
    params = make_params()
    g = grads_at(params, 0)
    opt = track_signals(inner, groups="top")
    bare = reductions(inner.update, g, inner.init(params), params)
    off = reductions(opt.update, g, opt.init(params), params, record_signals=False)
    on = reductions(opt.update, g, opt.init(params), params)
    assert off == bare
    assert on == bare + 3 * len(jax.tree_util.tree_leaves(params))


def test_record_flag_reaches_nested_recorders_through_chain_and_nnx():
    # A recorder inside a spike skipper inside a chain: the flag passes through
    # both wrappers and the chain; plain members of the chain ignore it.
    opt = optax.chain(optax.clip(10.0), skip_spikes(track_signals(lrjax.sgd(0.1))))
    params = make_params()
    state = opt.init(params)
    g0, g1 = grads_at(params, 0), grads_at(params, 1)
    _, state = opt.update(g0, state, params, record_signals=True)
    _, state = opt.update(g1, state, params, record_signals=False)
    np.testing.assert_allclose(
        get_metrics(state)["grad_norm"], norm(jax.tree_util.tree_leaves(g0)), rtol=1e-6
    )
    assert int(get_metrics(state)["skip_count"]) == 0

    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, track_signals(lrjax.sgd(0.1)), wrt=nnx.Param)
    x = jnp.array([[1.0, -1.0, 2.0]])
    grads = nnx.grad(lambda m: jnp.sum(m(x) ** 2))(model)
    kernel = np.asarray(model.kernel[...])
    optimizer.update(model, grads, record_signals=False)
    assert int(optimizer.opt_state.count) == 0
    assert float(get_metrics(optimizer)["grad_norm"]) == 0.0
    # ... but the model moved.
    assert not np.allclose(np.asarray(model.kernel[...]), kernel)


@pytest.mark.parametrize(
    "value, error, match",
    [
        ("yes", TypeError, "record_signals must be a bool"),
        (1, TypeError, "record_signals must be a bool"),
        (jnp.array(1.0), TypeError, "record_signals must be a bool"),
        (jnp.array([True, False]), ValueError, "must be a scalar, got an array"),
    ],
)
def test_bad_record_flag_raises(value, error, match):
    opt = track_signals(lrjax.sgd(0.1))
    params = jnp.ones(2)
    with pytest.raises(error, match=re.escape(match)):
        opt.update(jnp.ones(2), opt.init(params), params, record_signals=value)


def test_population_of_rates_under_vmap():
    """A batch of learning rates under vmap: every signal gets the batch axis
    and member i's values are those of a run at rate i alone."""
    rates = jnp.array([1e-3, 1e-2, 1e-1])
    params = make_params()
    g = grads_at(params, 0)

    def one(rate, record):
        opt = track_signals(lrjax.sgd(rate), groups="top")
        state = opt.init(params)
        _, state = opt.update(g, state, params, record_signals=record)
        return get_metrics(state)

    batched = jax.jit(jax.vmap(one, in_axes=(0, None)))(rates, jnp.asarray(True))
    for i, rate in enumerate(rates):
        alone = one(rate, True)
        assert set(batched) == set(alone)
        for k, v in batched.items():
            chex.assert_shape(v, (3,))
            np.testing.assert_allclose(v[i], alone[k], rtol=1e-6, err_msg=k)
    # update_norm = rate * grad_norm for SGD.
    np.testing.assert_allclose(
        batched["update_norm"], rates * batched["grad_norm"], rtol=1e-6
    )
    # A per-member flag is a batched predicate: lax.cond becomes a select.
    flags = jnp.array([True, False, True])
    mixed = jax.vmap(one)(rates, flags)
    np.testing.assert_allclose(mixed["grad_norm"][1], 0.0)
    np.testing.assert_allclose(mixed["grad_norm"][0], batched["grad_norm"][0])


def test_empty_labels():
    # groups="top" on a bare array: the empty path has no first component,
    # so no group, only the whole-tree signals.
    opt = track_signals(lrjax.sgd(0.1), groups="top")
    params = jnp.array([3.0, 4.0])
    _, state = opt.update(jnp.ones(2), opt.init(params), params)
    assert set(get_metrics(state)) == set(SIGNALS) | {"learning_rate"}
    np.testing.assert_allclose(get_metrics(state)["param_norm"], 5.0)
    # A user label "" would collide with the whole-tree keys: refused at init.
    for groups in ({"": r"^b$"}, lambda path: ""):
        opt = track_signals(lrjax.sgd(0.1), groups=groups)
        with pytest.raises(ValueError, match=re.escape("must be a non-empty str")):
            opt.init({"a": jnp.ones(2), "b": jnp.ones(2)})


def test_a_non_finite_value_stays_out_of_the_moving_average():
    """Outside skip_spikes, a skipped NaN step gives a NaN gradient norm and a
    zero update: the NaN must not enter grad_norm's average for good, while
    the zero update is a finite value and enters update_norm's."""
    b = 0.5
    opt = track_signals(skip_spikes(lrjax.sgd(0.1), warmup=100), ema_decay=b)
    params = make_params()
    state = opt.init(params)
    g0, g2 = grads_at(params, 0), grads_at(params, 2)
    nan = jax.tree_util.tree_map(lambda g: jnp.full_like(g, jnp.nan), g0)
    update = jax.jit(opt.update)
    for g in (g0, nan, g2):
        _, state = update(g, state, params)
    m = get_metrics(state)
    assert bool(m["skipped"]) is False and int(m["skip_count"]) == 1

    def debiased(xs):  # the moving average of the finite values xs, debiased
        avg = 0.0
        for x in xs:
            avg = b * avg + (1 - b) * x
        return avg / (1 - b ** len(xs))

    gn = [norm(jax.tree_util.tree_leaves(g)) for g in (g0, g2)]
    np.testing.assert_allclose(m["grad_norm"], debiased(gn), rtol=1e-6)
    un = [0.1 * gn[0], 0.0, 0.1 * gn[1]]  # the skipped step's update is zero
    np.testing.assert_allclose(m["update_norm"], debiased(un), rtol=1e-6)
    assert int(state.ema_count["grad_norm"]) == 2
    assert int(state.ema_count["update_norm"]) == 3 == int(state.count)
    # Before any finite value there is no average: the value itself.
    first = opt.update(nan, opt.init(params), params)[1]
    assert np.isnan(float(get_metrics(first)["grad_norm"]))
    assert float(get_metrics(first)["update_norm"]) == 0.0
