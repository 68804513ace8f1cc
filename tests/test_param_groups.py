"""Parameter groups by path (``param_groups``) and layer-wise rate decay.

References written out here: PyTorch's per-group SGD and AdamW updates (from
their documented formulas, in NumPy) and ``optax.partition`` with one optax
optimizer per label.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.transforms.param_groups import (
    ParamGroup,
    RateMultiplierState,
    param_group_labels,
    param_groups,
)

RNG = np.random.RandomState(0)
PARAMS = {
    "embed": {"w": jnp.asarray(RNG.randn(3, 2), jnp.float32)},
    "body": {"w": jnp.asarray(RNG.randn(2, 2), jnp.float32), "b": jnp.ones(2)},
    "head": {"w": jnp.asarray(RNG.randn(2, 1), jnp.float32)},
}
GRADS = [
    jax.tree_util.tree_map(lambda p: jnp.asarray(RNG.randn(*p.shape), p.dtype), PARAMS)
    for _ in range(5)
]


def run(tx, params=PARAMS, grads=GRADS, jit=False):
    """Params after one update per gradient; also the final state."""
    update = jax.jit(tx.update) if jit else tx.update
    state = tx.init(params)
    for g in grads:
        updates, state = update(g, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def sgd_wd(learning_rate, weight_decay):
    # PyTorch SGD's coupled decay: d_p = g + wd * p before the momentum.
    return lrjax.chain(
        lrjax.add_decayed_weights(weight_decay), lrjax.sgd(learning_rate, momentum=0.9)
    )


def test_pytorch_sgd_param_groups():
    # torch.optim.SGD([{"params": A, "lr": 0.1, "weight_decay": 1e-4},
    #                  {"params": B, "lr": 0.01, "weight_decay": 0}], momentum=0.9)
    tx = param_groups(
        sgd_wd,
        {"A": {"match": r"^(embed|head)/", "learning_rate": 0.1, "weight_decay": 1e-4}},
        default={"learning_rate": 0.01, "weight_decay": 0.0},
    )
    got, _ = run(tx)
    settings = {"embed": (0.1, 1e-4), "head": (0.1, 1e-4), "body": (0.01, 0.0)}
    for name, (lr, wd) in settings.items():
        for leaf in PARAMS[name]:
            p = np.asarray(PARAMS[name][leaf], np.float64)
            buf = np.zeros_like(p)
            for g in GRADS:
                d_p = np.asarray(g[name][leaf], np.float64) + wd * p
                buf = 0.9 * buf + d_p
                p = p - lr * buf
            np.testing.assert_allclose(got[name][leaf], p, rtol=1e-5, atol=1e-6)


def test_pytorch_adamw_param_groups():
    b1, b2, eps = 0.9, 0.999, 1e-8
    tx = param_groups(
        lrjax.adamw,
        {"head": {"match": "^head/", "lr_mult": 10.0, "wd_mult": 0.0}},
        learning_rate=0.01,
        weight_decay=0.1,
    )
    got, _ = run(tx)
    settings = {"embed": (0.01, 0.1), "body": (0.01, 0.1), "head": (0.1, 0.0)}
    for name, (lr, wd) in settings.items():
        for leaf in PARAMS[name]:
            p = np.asarray(PARAMS[name][leaf], np.float64)
            m, v = np.zeros_like(p), np.zeros_like(p)
            for t, g in enumerate(GRADS, start=1):
                g = np.asarray(g[name][leaf], np.float64)
                p = p * (1 - lr * wd)  # PyTorch's decoupled decay, then Adam
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
                p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
            np.testing.assert_allclose(got[name][leaf], p, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_equals_optax_partition(jit):
    schedule = optax.linear_schedule(0.02, 0.0, 10)
    tx = param_groups(
        lrjax.adamw,
        {
            "frozen": {"match": "^embed/", "freeze": True},
            "no_wd": {"match": r"/b$", "wd_mult": 0.0},
            "head": {"match": "^head/", "lr_mult": 3.0},
        },
        learning_rate=schedule,
        weight_decay=0.05,
    )
    labels = {"embed": {"w": "f"}, "body": {"w": "d", "b": "n"}, "head": {"w": "h"}}
    ref = optax.partition(
        {
            "f": optax.set_to_zero(),
            "n": optax.adamw(schedule, weight_decay=0.0),
            "h": optax.adamw(lambda c: 3.0 * schedule(c), weight_decay=0.05),
            "d": optax.adamw(schedule, weight_decay=0.05),
        },
        labels,
    )
    got, _ = run(tx, jit=jit)
    want, _ = run(ref, jit=jit)
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-7)


def n_leaves_and_bytes(tree):
    leaves = jax.tree_util.tree_leaves(tree)
    return len(leaves), sum(np.asarray(x).nbytes for x in leaves)


def test_frozen_group_has_no_state_and_never_moves():
    tx = param_groups(
        lambda learning_rate: lrjax.chain(
            lrjax.clip_by_global_norm(1.0), lrjax.adam(learning_rate)
        ),
        {"frozen": {"match": "^embed/", "freeze": True}},
        learning_rate=0.1,
    )
    unfrozen = {k: v for k, v in PARAMS.items() if k != "embed"}
    inner = lrjax.chain(lrjax.clip_by_global_norm(1.0), lrjax.adam(0.1))
    assert n_leaves_and_bytes(tx.init(PARAMS)) == n_leaves_and_bytes(
        inner.init(unfrozen)
    )
    # A NaN gradient on the frozen leaf reaches no optimizer (not even the
    # global-norm clip): nothing else is poisoned.
    nan_grads = [dict(g, embed={"w": jnp.full((3, 2), jnp.nan)}) for g in GRADS * 4]
    got, state = run(tx, grads=nan_grads, jit=True)
    chex.assert_trees_all_equal(got["embed"], PARAMS["embed"])
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(state))
    want, _ = run(
        inner, params=unfrozen, grads=[{k: g[k] for k in unfrozen} for g in nan_grads]
    )
    chex.assert_trees_all_close({k: got[k] for k in unfrozen}, want, rtol=1e-6)


def test_default_group_frozen_trains_only_the_head():
    tx = param_groups(
        lrjax.sgd,
        {"head": {"match": "^head/"}},
        learning_rate=0.1,
        default={"freeze": True},
    )
    got, _ = run(tx)
    chex.assert_trees_all_equal(got["body"], PARAMS["body"])
    assert not np.allclose(got["head"]["w"], PARAMS["head"]["w"])


@pytest.mark.parametrize("jit", [False, True])
def test_get_learning_rate_per_group_with_schedules(jit):
    base = optax.piecewise_constant_schedule(0.1, {2: 0.5})
    own = optax.linear_schedule(1.0, 0.0, 4)
    tx = param_groups(
        lrjax.sgd,
        {
            "head": {"match": "^head/", "lr_mult": 10.0},
            "own": {"match": "^embed/", "learning_rate": own},
            "frozen": {"match": "^body/b", "freeze": True},
        },
        learning_rate=base,
    )
    update = jax.jit(tx.update) if jit else tx.update
    state = tx.init(PARAMS)
    for step in range(5):  # the rate applied at the latest update (step 0: before any)
        t = max(step - 1, 0)
        rates = lrjax.get_learning_rate(state)
        assert set(rates) == {"default", "head", "own"}  # frozen: no rate
        np.testing.assert_allclose(
            [rates["default"], rates["head"], rates["own"]],
            [base(t), 10 * base(t), own(t)],
            rtol=1e-6,
        )
        _, state = update(GRADS[0], state, PARAMS)


def test_abstract_init_bf16_and_complex():
    params = {
        "a": jnp.ones(3, jnp.bfloat16),
        "z": jnp.array([1 + 2j, -1j], jnp.complex64),
        "c": jnp.ones(2),
    }
    tx = param_groups(
        lrjax.adam,
        {"z": {"match": "^z$", "lr_mult": 0.5}, "a": {"match": "^a$"}},
        learning_rate=0.1,
    )
    abstract = jax.eval_shape(tx.init, params)
    concrete = tx.init(params)
    assert jax.tree_util.tree_structure(abstract) == jax.tree_util.tree_structure(
        concrete
    )
    grads = {
        "a": jnp.full(3, 0.5, jnp.bfloat16),
        "z": jnp.array([1j, 2.0], jnp.complex64),
        "c": jnp.ones(2),
    }
    updates, _ = jax.jit(tx.update)(grads, concrete, params)
    ref = optax.partition(
        {"z": lrjax.adam(0.05), "a": lrjax.adam(0.1), "c": lrjax.adam(0.1)},
        {"a": "a", "z": "z", "c": "c"},
    )
    want, _ = ref.update(grads, ref.init(params), params)
    assert updates["a"].dtype == jnp.bfloat16 and updates["z"].dtype == jnp.complex64
    chex.assert_trees_all_close(updates, want)


def test_built_optimizer_with_rate_multiplier():
    tx = param_groups(
        lrjax.adam(0.1),
        {
            "head": {"match": "^head/", "lr_mult": 0.5},
            "f": {"match": "^embed/", "freeze": True},
        },
    )
    got, state = run(tx)
    ref = optax.partition(
        {
            "head": optax.chain(lrjax.adam(0.1), optax.scale(0.5)),
            "d": lrjax.adam(0.1),
            "f": optax.set_to_zero(),
        },
        {"embed": {"w": "f"}, "body": {"w": "d", "b": "d"}, "head": {"w": "head"}},
    )
    want, _ = run(ref)
    chex.assert_trees_all_close(got, want, rtol=1e-6)
    assert isinstance(state.inner_states["head"].inner_state[1], RateMultiplierState)
    rates = lrjax.get_learning_rate(state)
    assert {k: round(float(v), 6) for k, v in rates.items()} == {
        "head": 0.05,
        "default": 0.1,
    }


def test_paths_of_lists_tuples_and_attributes():
    params = {
        "layers": [jnp.ones(1), jnp.ones(1)],
        "t": (jnp.ones(1),),
        "s": optax.EmptyState(),
    }
    params["nt"] = lrjax.ScaleByLearningRateState(jnp.ones(1), jnp.ones(1))
    groups = {
        "one": {"match": "^layers/1$"},
        "tup": {"match": "^t/0$"},
        "attr": {"match": "^nt/learning_rate$"},
    }
    labels = param_group_labels(params, groups)
    assert labels["layers"] == ["default", "one"] and labels["t"] == ("tup",)
    assert labels["nt"].learning_rate == "attr" and labels["nt"].count == "default"
    # a predicate reads the path and the leaf's shape
    by_shape = {
        "vectors": ParamGroup(lambda path, x: x.ndim == 1 and path.startswith("body"))
    }
    assert param_group_labels(PARAMS, by_shape)["body"] == {
        "w": "default",
        "b": "vectors",
    }


nnx = pytest.importorskip("flax.nnx")


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 8, rngs=rngs)
        self.head = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.head(jax.nn.tanh(self.hidden(x)))


X = jnp.asarray(RNG.randn(16, 3), jnp.float32)
Y = jnp.asarray(RNG.randn(16, 1), jnp.float32)


def loss(model):
    return jnp.mean((model(X) - Y) ** 2)


@pytest.mark.parametrize("head", [{"freeze": True}, {"lr_mult": 0.1}])
def test_nnx_optimizer(head):
    tx = param_groups(
        lrjax.adam, {"head": dict(match="^head/", **head)}, learning_rate=0.05
    )
    model = MLP(nnx.Rngs(0))
    graphdef, param_state = nnx.split(model)
    params = nnx.to_pure_dict(param_state)
    start = params
    state = tx.init(params)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @jax.jit
    def plain_step(params, state):
        grads = jax.grad(lambda p: loss(nnx.merge(graphdef, p)))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    @nnx.jit
    def nnx_step(model, opt):
        opt.update(model, nnx.grad(loss)(model))

    for _ in range(4):
        params, state = plain_step(params, state)
        nnx_step(model, opt)
    trained = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    chex.assert_trees_all_close(trained, params, rtol=1e-5, atol=1e-7)
    assert not np.allclose(trained["hidden"]["kernel"], start["hidden"]["kernel"])
    rates = lrjax.get_learning_rate(opt)
    if head.get("freeze"):
        chex.assert_trees_all_equal(trained["head"], start["head"])
        assert {k: round(float(v), 6) for k, v in rates.items()} == {"default": 0.05}
    else:
        assert {k: round(float(v), 6) for k, v in rates.items()} == {
            "default": 0.05,
            "head": 0.005,
        }
    assert jax.tree_util.tree_structure(rates) == jax.tree_util.tree_structure(
        lrjax.get_learning_rate(state)
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(groups={"a": {"match": 3}}),
            TypeError,
            r"groups\['a'\].match must be a regular expression \(str\), a predicate .* got 3",
        ),
        (
            dict(groups={"a": {"match": "("}}),
            ValueError,
            r"groups\['a'\].match must be a valid regular expression, got '\('",
        ),
        (
            dict(groups={"a": {"match": "a", "lr_mult": -1.0}}),
            ValueError,
            r"groups\['a'\].lr_mult must be >= 0 and finite, got -1.0",
        ),
        (
            dict(groups={"a": {"match": "a", "wd_mult": -2}}),
            ValueError,
            r"groups\['a'\].wd_mult must be >= 0 and finite, got -2",
        ),
        (
            dict(groups={"a": {"match": "a", "lr": 0.1}}),
            TypeError,
            r"groups\['a'\] has unknown keys \['lr'\]; valid keys are \['match'",
        ),
        (
            dict(groups={"a": 0.1}),
            TypeError,
            r"groups\['a'\] must be an lrjax.ParamGroup or a dict",
        ),
        (
            dict(groups={"default": {"match": "a"}}),
            ValueError,
            r"the name 'default' is the default group's",
        ),
        (
            dict(groups={"a": {}}),
            ValueError,
            r"groups\['a'\].match must be given, got None",
        ),
        (
            dict(groups={"a": {"match": "a", "freeze": True, "lr_mult": 2.0}}),
            ValueError,
            r"groups\['a'\] has freeze=True and also sets",
        ),
        (
            dict(groups={"a": {"match": "a", "optional": 1}}),
            TypeError,
            r"groups\['a'\].optional must be of type bool, got 1 of type int",
        ),
        (
            dict(groups={"a": {"match": "a", "learning_rate": -0.1}}),
            ValueError,
            r"groups\['a'\].learning_rate must be >= 0",
        ),
        (dict(groups=[("a", "a")]), TypeError, r"groups must be a dict"),
        (
            dict(groups={}, default={"match": "x"}),
            ValueError,
            r"default.match must be None",
        ),
        (
            dict(groups={}, unmatched="skip"),
            ValueError,
            r"unmatched must be one of \['raise', 'warn', 'ignore'\], got 'skip'",
        ),
        (
            dict(groups={}, learning_rate=None),
            ValueError,
            r"default has no learning rate: give learning_rate=",
        ),
        (
            dict(groups={"a": {"match": "a", "wd_mult": 0.0}}),
            ValueError,
            r"default has no weight decay while other groups set one",
        ),
        (dict(optimizer=3, groups={}), TypeError, r"optimizer must be a factory"),
        (
            dict(
                optimizer=lrjax.adam(0.1),
                groups={"a": {"match": "a", "learning_rate": 0.1}},
                learning_rate=None,
            ),
            TypeError,
            r"groups\['a'\] sets learning_rate, weight_decay or wd_mult, which need the optimizer as a factory",
        ),
        (
            dict(optimizer=lrjax.adam(0.1), groups={}),
            TypeError,
            r"learning_rate and weight_decay need the optimizer as a factory",
        ),
    ],
)
def test_validation(kwargs, error, message):
    kwargs = {"optimizer": lrjax.adamw, "learning_rate": 0.1, **kwargs}
    with pytest.raises(error, match=message):
        param_groups(**kwargs)


def test_unmatched_group_raises_warns_or_is_dropped():
    groups = {"typo": {"match": "^haed/", "lr_mult": 10.0}}
    with pytest.raises(
        ValueError,
        match=r"groups \['typo'\] match no parameter: 'typo' matches no path",
    ):
        param_groups(lrjax.sgd, groups, learning_rate=0.1).init(PARAMS)
    state = param_groups(lrjax.sgd, groups, learning_rate=0.1, unmatched="ignore").init(
        PARAMS
    )
    assert set(state.inner_states) == {"default"}
    # A group emptied by an earlier one: the message names the earlier group.
    shadowed = {"all": {"match": ""}, "head": {"match": "^head/"}}
    with pytest.raises(
        ValueError,
        match=r"\['head'\] match no parameter: 'head' matches only leaves that "
        r"earlier groups took \(the first match wins: 'all' took 'head/w'\)",
    ):
        param_groups(lrjax.sgd, shadowed, learning_rate=0.1).init(PARAMS)


def test_unmatched_warning_names_the_callers_line():
    tx = param_groups(
        lrjax.sgd, {"typo": {"match": "^haed/"}}, learning_rate=0.1, unmatched="warn"
    )
    with pytest.warns(UserWarning, match=r"\['typo'\] match no parameter") as record:
        tx.init(PARAMS)  # a direct call: this line
    (warning,) = record
    assert warning.filename == __file__
    assert "unmatched='ignore' to silence" in str(warning.message)
    assert "unmatched='warn'" not in str(warning.message)
    # Through optax, jax and flax too: their frames are skipped.
    for init in (
        optax.chain(optax.identity(), tx).init,
        functools.partial(jax.eval_shape, tx.init),
        lambda params: nnx.Optimizer(MLP(nnx.Rngs(0)), tx, wrt=nnx.Param),
    ):
        with pytest.warns(UserWarning, match="match no parameter") as record:
            init(PARAMS)
        assert [w.filename for w in record] == [__file__]


def test_optional_group_may_be_empty():
    groups = {
        "maybe": {"match": "^norm/", "wd_mult": 0.0, "optional": True},
        "typo": {"match": "^haed/"},
    }
    kwargs = dict(learning_rate=0.1, weight_decay=0.1)
    with pytest.raises(ValueError, match=r"groups \['typo'\] match no parameter"):
        param_groups(lrjax.adamw, groups, **kwargs).init(PARAMS)
    del groups["typo"]
    tx = param_groups(lrjax.adamw, groups, **kwargs)
    assert set(tx.init(PARAMS).inner_states) == {"default"}
    # An optional group that gets leaves trains as any other: AdamW's first
    # step is -lr * (g / (|g| + eps) + wd * p), here without decay.
    params = {"norm": {"scale": jnp.array([2.0, -1.0])}, "w": jnp.array([3.0])}
    grads = {"norm": {"scale": jnp.array([0.5, -4.0])}, "w": jnp.array([-2.0])}
    updates, _ = tx.update(grads, tx.init(params), params)
    g = np.array([0.5, -4.0])
    np.testing.assert_allclose(
        updates["norm"]["scale"], -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-6
    )
    np.testing.assert_allclose(updates["w"], [-0.1 * (-1.0 + 0.1 * 3.0)], rtol=1e-6)


def test_clip_without_frozen_leaves_matches_pytorch():
    # torch.nn.utils.clip_grad_norm_(model.parameters(), c) sums the squares
    # of the gradients that exist; frozen parameters have none.
    c, lr = 1.0, 0.1
    groups = {
        "frozen": {"match": r"^embed/", "freeze": True},
        "head": {"match": r"^head/", "lr_mult": 10.0},
    }

    def trainable(tree):
        labels = param_group_labels(tree, groups)
        return jax.tree_util.tree_map(lambda name: name != "frozen", labels)

    tx = optax.chain(
        optax.masked(optax.clip_by_global_norm(c), trainable),
        param_groups(lrjax.sgd, groups, learning_rate=lr),
    )
    state = tx.init(PARAMS)
    for grads in GRADS:
        grads = jax.tree_util.tree_map(lambda g: 3.0 * g, grads)  # norms above c
        updates, state = tx.update(grads, state, PARAMS)
        leaves = [grads["body"]["w"], grads["body"]["b"], grads["head"]["w"]]
        norm = np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in leaves))
        coef = min(c / (norm + 1e-6), 1.0)  # PyTorch's clip coefficient
        for name, leaf, mult in (("body", "w", 1), ("body", "b", 1), ("head", "w", 10)):
            want = -lr * mult * coef * np.asarray(grads[name][leaf], np.float64)
            np.testing.assert_allclose(updates[name][leaf], want, rtol=1e-5)
        np.testing.assert_array_equal(updates["embed"]["w"], 0.0)


def test_predicate_returning_a_traced_value():
    tx = param_groups(
        lrjax.sgd, {"a": {"match": lambda path, x: jnp.all(x > 0)}}, learning_rate=0.1
    )
    with pytest.raises(
        TypeError,
        match=r"groups\['a'\].match: the predicate returned .* it must return a Python bool",
    ):
        jax.jit(tx.init)(PARAMS)


def test_works_inside_optax_chain_and_with_partial():
    tx = optax.chain(
        optax.clip_by_global_norm(10.0),
        param_groups(
            functools.partial(lrjax.adamw, b1=0.5),
            {"h": {"match": "^head/", "lr_mult": 2.0}},
            learning_rate=0.1,
            weight_decay=0.0,
        ),
    )
    _, state = run(tx)
    rates = lrjax.get_learning_rate(state)
    assert {k: round(float(v), 6) for k, v in rates.items()} == {
        "h": 0.2,
        "default": 0.1,
    }
