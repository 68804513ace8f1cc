"""Trees checked against the params (issue 7, item 6).

* a mask (a tree, or a callable applied to the params) is checked at
  ``init``, with an error naming the mask argument and both structures;
* a gradient leaf shaped unlike its state (or its param) raises, naming the
  leaf's path, instead of broadcasting.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optimizer_case import all_cases, representatives_first

import lrjax
from lrjax import _validation as val


def _params():
    return {"w": jnp.ones((2, 3)), "b": jnp.ones(3), "sub": {"a": jnp.ones(2)}}


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda m: lrjax.adamw(0.1, mask=m), "mask"),
        (lambda m: lrjax.add_decayed_weights(0.1, m), "mask"),
        (lambda m: lrjax.lion(0.1, mask=m), "mask"),
        (lambda m: lrjax.lamb(0.1, weight_decay=0.1, mask=m), "mask"),
        (lambda m: lrjax.lars(0.1, 0.1, weight_decay_mask=m), "weight_decay_mask"),
        (lambda m: lrjax.lars(0.1, trust_ratio_mask=m), "trust_ratio_mask"),
        (lambda m: lrjax.scale_by_trust_ratio(mask=m), "mask"),
        (
            lambda m: lrjax.adadelta(weight_decay=0.1, weight_decay_mask=m),
            "weight_decay_mask",
        ),
        (
            lambda m: lrjax.adafactor(weight_decay_rate=0.1, weight_decay_mask=m),
            "weight_decay_mask",
        ),
    ],
)
def test_mask_not_matching_params_is_rejected_at_init(make, arg):
    params = _params()
    wrong = {"w": True, "b": False}  # no entry for "sub"
    for mask, shown in [(wrong, arg), (lambda p: wrong, f"{arg}(params)")]:
        opt = make(mask)
        with pytest.raises(ValueError) as info:
            opt.init(params)
        msg = str(info.value)
        assert msg.startswith(shown), msg
        assert str(jax.tree_util.tree_structure(wrong)) in msg, msg
        assert str(jax.tree_util.tree_structure(params)) in msg, msg


def test_mask_leaves_must_be_bools():
    params = _params()
    for leaf in ["yes", 1, jnp.ones(3, bool)]:
        opt = lrjax.adamw(0.1, mask={"w": True, "b": leaf, "sub": False})
        with pytest.raises(TypeError, match=r"^mask must have concrete bool.*\['b'\]"):
            opt.init(params)
    # A mask computed from traced params cannot select leaves in `update`.
    opt = lrjax.adamw(0.1, mask=lambda p: jax.tree.map(lambda x: x.sum() > 0, p))
    with pytest.raises(TypeError, match=r"mask\(params\) must have concrete bool"):
        jax.jit(opt.init)(params)


def test_valid_masks_pass_init_and_match_the_formula():
    # Prefix masks (one bool for the subtree "sub"), NumPy bools and callable
    # masks are what optax.masked accepts; the mask fails at init otherwise.
    params = _params()
    lr, wd = 0.1, 0.5
    masks = [
        {"w": True, "b": np.bool_(False), "sub": True},
        lambda p: {"w": True, "b": False, "sub": {"a": True}},
    ]
    for mask in masks:
        opt = lrjax.add_decayed_weights(wd, mask)
        grads = jax.tree.map(jnp.zeros_like, params)
        updates, _ = jax.jit(opt.update)(grads, jax.jit(opt.init)(params), params)
        np.testing.assert_allclose(updates["w"], wd * np.ones((2, 3)))
        np.testing.assert_allclose(updates["b"], np.zeros(3))
        np.testing.assert_allclose(updates["sub"]["a"], wd * np.ones(2))
    # The check at init must not break optax.tree_map_params (leafless
    # placeholder params).
    opt = lrjax.adamw(lr, mask=lambda p: {"w": True, "b": False, "sub": True})
    state = opt.init(params)
    optax.tree_utils.tree_map_params(opt, lambda x: x, state)
    bad = lrjax.adamw(lr, mask={"w": True})
    with pytest.raises(ValueError, match="^mask must be a tree of bools"):
        bad.init(params)


# --------------------------------------------------------------------------
# Gradient leaves shaped unlike their state.

STATEFUL = [c for c in all_cases() if c.has_tree_state]


def _mixed_params():
    r = np.random.RandomState(0)
    return {
        "scalar": jnp.asarray(0.5),
        "vec": jnp.asarray(r.randn(3), jnp.float32),
        "mat": jnp.asarray(r.randn(4, 5), jnp.float32),
    }


# The shape check is the shared validation's (check_tree_structure):
# representatives by default, every stateful optimizer under slow.
@pytest.mark.parametrize("case", representatives_first(STATEFUL))
@pytest.mark.parametrize("jit", [False, True])
def test_gradient_shape_unlike_the_state_is_rejected(case, jit):
    params = _mixed_params()
    opt = case.make()
    state = opt.init(params)
    # (1, 3) broadcasts against the (3,) state: it used to pass silently and
    # return a (1, 3) update for a (3,) parameter.
    grads = {**params, "vec": jnp.ones((1, 3))}
    update = jax.jit(opt.update) if jit else opt.update
    with pytest.raises(ValueError) as info:
        update(grads, state, params)
    msg = str(info.value)
    assert "['vec']" in msg and "(1, 3)" in msg and "(3,)" in msg, msg


def test_shape_check_helper():
    ref = {"a": jnp.zeros(()), "b": jnp.zeros((2, 2))}
    # A Python scalar leaf has shape (), like a 0-d state leaf.
    val.check_tree_structure("blk", {"a": 1.0, "b": np.ones((2, 2))}, ref)
    with pytest.raises(ValueError, match=r"^blk: the update at \['b'\] has shape"):
        val.check_tree_structure("blk", {"a": 1.0, "b": np.ones((2,))}, ref)
    # Where the state's leaves are not shaped like the params: structure only.
    val.check_tree_structure(
        "blk", {"a": 1.0, "b": np.ones(5)}, ref, check_shapes=False
    )
    with pytest.raises(ValueError) as info:
        val.check_params("blk", {"a": 1.0, "b": np.ones(4)}, ref)
    msg = str(info.value)
    assert msg.startswith("blk: the update at ['b'] has shape (4,)"), msg
    assert "expected (2, 2) (that of the params there)" in msg, msg


def test_factored_second_moments_still_work():
    # scale_by_factored_rms keeps (1,) placeholders, not param-shaped state.
    params = {"m": jnp.ones((256, 128)), "v": jnp.ones(7)}
    opt = lrjax.adafactor(0.01)
    grads = jax.tree.map(lambda p: 0.1 * jnp.ones_like(p), params)
    updates, _ = opt.update(grads, opt.init(params), params)
    assert jax.tree.map(jnp.shape, updates) == jax.tree.map(jnp.shape, params)
    wrong = {**grads, "v": jnp.ones((1, 7))}
    with pytest.raises(ValueError, match=r"\['v'\].*\(1, 7\)"):
        opt.update(wrong, opt.init(params), params)
