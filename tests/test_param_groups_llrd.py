"""Layer-wise rate decay (``layerwise_rate_decay``) with ``param_groups``.

References written out here in NumPy: AdamW's first step per leaf (from
PyTorch's documented formula) and per-layer AdamW on a stacked leaf.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.transforms.layer_decay import layerwise_rate_decay
from lrjax.transforms.param_groups import param_group_labels, param_groups

RNG = np.random.RandomState(1)


def adamw_reference(p, grads, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch's AdamW in float64: decoupled decay, then the Adam step."""
    p = np.asarray(p, np.float64)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, np.float64)
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def random_like(tree):
    return jax.tree_util.tree_map(
        lambda x: jnp.asarray(RNG.randn(*x.shape), jnp.float32), tree
    )


def test_llrd_multipliers_for_a_four_layer_model():
    params = {f"layers_{i}": {"w": jnp.ones(2)} for i in range(4)}
    params.update(embed={"w": jnp.ones(2)}, head={"w": jnp.ones(2)})
    d = 0.8
    groups = layerwise_rate_decay(
        d, pattern=r"^layers_(\d+)/", num_layers=4, embeddings="^embed/"
    )
    tx = param_groups(lrjax.sgd, groups, learning_rate=1.0)
    labels = param_group_labels(params, groups)
    depth = {
        "head": 0,
        "layers_3": 1,
        "layers_2": 2,
        "layers_1": 3,
        "layers_0": 4,
        "embed": 5,
    }
    for name, want_depth in depth.items():
        assert labels[name]["w"] == (
            "default" if want_depth == 0 else f"llrd_depth_{want_depth}"
        )
    rates = lrjax.get_learning_rate(tx.init(params))
    assert {k: round(float(v), 6) for k, v in rates.items()} == {
        "default": 1.0,
        "llrd_depth_1": 0.8,
        "llrd_depth_2": 0.64,
        "llrd_depth_3": 0.512,
        "llrd_depth_4": 0.4096,
        "llrd_depth_5": 0.32768,
    }
    # The same depths from rules listed top first.
    ordered = layerwise_rate_decay(
        d, ["^head/", "^layers_3/", "^layers_2/", "^layers_1/", "^layers_0/", "^embed/"]
    )
    assert {k: g.lr_mult for k, g in ordered.items()} == pytest.approx(
        {f"llrd_depth_{i}": d**i for i in range(6)}
    )
    assert param_group_labels(params, ordered)["layers_1"]["w"] == "llrd_depth_3"


def test_llrd_no_weight_decay_split():
    params = {
        "layers_0": {"w": jnp.ones(2), "bias": jnp.ones(2)},
        "head": {"bias": jnp.ones(1)},
    }
    groups = layerwise_rate_decay(
        0.5, pattern=r"layers_(\d+)", num_layers=1, no_weight_decay="bias$"
    )
    assert param_group_labels(params, groups) == {
        "layers_0": {"w": "llrd_depth_1", "bias": "llrd_depth_1_no_wd"},
        "head": {"bias": "llrd_no_wd"},
    }
    assert (
        groups["llrd_depth_1_no_wd"].wd_mult == 0.0
        and groups["llrd_depth_1_no_wd"].lr_mult == 0.5
    )
    tx = param_groups(
        lrjax.adamw, groups, learning_rate=0.1, weight_decay=0.1, unmatched="ignore"
    )
    with pytest.raises(ValueError, match=r"layer index 5, outside \[0, num_layers\)"):
        tx.init({"layers_5": {"w": jnp.ones(1)}})


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(decay=0.0, pattern="l(\\d)", num_layers=2),
            ValueError,
            r"decay must be in \(0.0, 1.0\], got 0.0",
        ),
        (
            dict(decay=1.5, layers=["a"]),
            ValueError,
            r"decay must be in \(0.0, 1.0\], got 1.5",
        ),
        (dict(decay=0.5), ValueError, r"give layers .* or pattern"),
        (dict(decay=0.5, layers=["a"], pattern="l(\\d)"), ValueError, r"exactly one"),
        (
            dict(decay=0.5, pattern="layers"),
            TypeError,
            r"num_layers must be an integer > 0, got None",
        ),
        (
            dict(decay=0.5, pattern="layers", num_layers=2),
            ValueError,
            r"pattern must capture the layer index in a group",
        ),
        (
            dict(decay=0.5, pattern="l(\\d", num_layers=2),
            ValueError,
            r"pattern must be a valid regular expression",
        ),
        (dict(decay=0.5, layers="head"), TypeError, r"layers must be a list of rules"),
        (
            dict(decay=0.5, layers=["a", 3]),
            TypeError,
            r"layers\[1\] must be a regular expression",
        ),
        (
            dict(decay=0.5, layers=["a"], num_layers=2),
            ValueError,
            r"num_layers goes with pattern",
        ),
    ],
)
def test_llrd_validation(kwargs, error, message):
    with pytest.raises(error, match=message):
        layerwise_rate_decay(**kwargs)


def test_generated_no_wd_groups_may_be_empty():
    # The guide's list form covers every leaf: nothing is left for
    # llrd_no_wd, and block_1 has no bias, so llrd_depth_2_no_wd is empty too.
    params = {
        "head": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)},
        "block_2": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)},
        "block_1": {"kernel": jnp.ones((2, 2))},
        "stem": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)},
    }
    params = random_like(params)
    decay, lr, wd = 0.8, 0.01, 0.1
    groups = layerwise_rate_decay(
        decay,
        [r"^head/", r"^block_2/", r"^block_1/", r"^stem/"],
        no_weight_decay=r"bias$",
    )
    assert all(name.startswith("llrd_") for name in groups)
    tx = param_groups(lrjax.adamw, groups, learning_rate=lr, weight_decay=wd)
    grads = [random_like(params) for _ in range(3)]
    state = tx.init(params)  # unmatched="raise": no error
    got = params
    for g in grads:
        updates, state = tx.update(g, state, got)
        got = optax.apply_updates(got, updates)
    depth = {"head": 0, "block_2": 1, "block_1": 2, "stem": 3}
    for layer, d in depth.items():
        for leaf, p in params[layer].items():
            want = adamw_reference(
                p,
                [g[layer][leaf] for g in grads],
                lr * decay**d,
                0.0 if leaf == "bias" else wd,
            )
            np.testing.assert_allclose(got[layer][leaf], want, rtol=1e-5, atol=1e-6)
    # Pattern form whose depth-0 leaves have no bias: llrd_no_wd is empty.
    groups = layerwise_rate_decay(
        0.5, pattern=r"^layers_(\d+)/", num_layers=1, no_weight_decay=r"bias$"
    )
    small = {
        "layers_0": {"w": jnp.ones(2), "bias": jnp.ones(2)},
        "head": {"w": jnp.ones(2)},
    }
    tx = param_groups(lrjax.adamw, groups, learning_rate=lr, weight_decay=wd)
    assert set(tx.init(small).inner_states) == {
        "default",
        "llrd_depth_1",
        "llrd_depth_1_no_wd",
    }


def test_own_typo_still_raises_next_to_generated_groups():
    params = {n: {"kernel": jnp.ones(2), "bias": jnp.ones(2)} for n in ("head", "stem")}
    llrd = layerwise_rate_decay(0.8, [r"^head/", r"^stem/"], no_weight_decay=r"bias$")
    own = {"frozen": {"match": r"^steam/", "freeze": True}}  # typo of ^stem/
    tx = param_groups(lrjax.adamw, {**own, **llrd}, learning_rate=0.1, weight_decay=0.1)
    with pytest.raises(ValueError, match=r"groups \['frozen'\] match no parameter"):
        tx.init(params)
    # A mistyped layer rule empties a depth group, which is not optional.
    typo = layerwise_rate_decay(0.8, [r"^head/", r"^stme/"], no_weight_decay=r"bias$")
    tx = param_groups(lrjax.adamw, typo, learning_rate=0.1, weight_decay=0.1)
    with pytest.raises(ValueError, match=r"'llrd_depth_1' matches no path"):
        tx.init(params)


def test_own_group_names_do_not_collide_with_generated_ones():
    # "no_wd" is the name the guide's first example uses for a group of one's own.
    params = {
        "pos_embed": jnp.ones(4),
        "layers_0": {"w": jnp.ones(2), "bias": jnp.ones(2)},
        "head": {"w": jnp.ones(2), "bias": jnp.ones(2)},
    }
    own = {"no_wd": {"match": r"^pos_embed$", "wd_mult": 0.0, "lr_mult": 0.1}}
    llrd = layerwise_rate_decay(
        0.5, pattern=r"^layers_(\d+)/", num_layers=1, no_weight_decay=r"bias$"
    )
    assert not own.keys() & llrd.keys()
    groups = {**own, **llrd}
    assert list(groups)[0] == "no_wd" and groups["no_wd"] is own["no_wd"]
    assert param_group_labels(params, groups) == {
        "pos_embed": "no_wd",
        "layers_0": {"w": "llrd_depth_1", "bias": "llrd_depth_1_no_wd"},
        "head": {"w": "default", "bias": "llrd_no_wd"},
    }


@pytest.mark.parametrize("jit", [False, True])
def test_pattern_capture_that_is_not_an_integer(jit):
    pattern = r"^layer_(\w+)/"
    groups = layerwise_rate_decay(0.7, pattern=pattern, num_layers=2)
    params = {n: {"w": jnp.ones(2)} for n in ("layer_0", "layer_1", "layer_norm")}
    tx = param_groups(lrjax.adamw, groups, learning_rate=1e-3, weight_decay=0.0)
    init = jax.jit(tx.init) if jit else tx.init
    where = re.escape(f"pattern {pattern!r} captured 'norm' from path ")
    with pytest.raises(ValueError, match=where + r"'layer_norm/w', not a layer index"):
        init(params)
    # An optional capture that did not take part is no index either.
    groups = layerwise_rate_decay(0.7, pattern=r"^layer(_\d)?/", num_layers=2)
    tx = param_groups(lrjax.sgd, groups, learning_rate=1e-3)
    with pytest.raises(ValueError, match=r"captured None from path 'layer/w'"):
        tx.init({"layer": {"w": jnp.ones(2)}})


def test_scan_over_layers_pattern_raises_and_stacked_axis_recipe():
    num_layers, decay, lr, wd = 3, 0.75, 0.01, 0.05
    stacked = random_like(
        {
            "embed": {"table": jnp.ones((5, 4))},
            "blocks": {"kernel": jnp.ones((num_layers, 4, 4))},
            "head": {"kernel": jnp.ones((4, 2))},
        }
    )
    # The stacked leaf's path has no layer index: the depth groups are empty.
    by_path = layerwise_rate_decay(decay, pattern=r"^blocks/(\d+)/", num_layers=3)
    tx = param_groups(lrjax.adamw, by_path, learning_rate=lr, weight_decay=wd)
    with pytest.raises(ValueError, match=r"'llrd_depth_1' matches no path"):
        tx.init(stacked)
    # The guide's recipe: scale the stacked axis of the updates per layer.
    layer_mult = decay ** (num_layers - jnp.arange(num_layers))

    def scale_layers(updates, params):
        del params
        return jax.tree_util.tree_map(
            lambda u: u * layer_mult.reshape((-1,) + (1,) * (u.ndim - 1)), updates
        )

    tx = optax.chain(
        param_groups(
            lrjax.adamw,
            {"embed": {"match": r"^embed/", "lr_mult": decay ** (num_layers + 1)}},
            learning_rate=lr,
            weight_decay=wd,
        ),
        optax.masked(
            optax.stateless(scale_layers),
            {"embed": False, "blocks": True, "head": False},
        ),
    )
    grads = [random_like(stacked) for _ in range(3)]
    state, got = tx.init(stacked), stacked
    for g in grads:
        updates, state = tx.update(g, state, got)
        got = optax.apply_updates(got, updates)
    for i in range(num_layers):  # PyTorch: one AdamW group per layer
        want = adamw_reference(
            stacked["blocks"]["kernel"][i],
            [g["blocks"]["kernel"][i] for g in grads],
            lr * decay ** (num_layers - i),
            wd,
        )
        np.testing.assert_allclose(
            got["blocks"]["kernel"][i], want, rtol=1e-5, atol=1e-6
        )
    want = adamw_reference(
        stacked["embed"]["table"],
        [g["embed"]["table"] for g in grads],
        lr * decay ** (num_layers + 1),
        wd,
    )
    np.testing.assert_allclose(got["embed"]["table"], want, rtol=1e-5, atol=1e-6)
