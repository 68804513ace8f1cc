"""reduce_on_plateau against PyTorch's documented ReduceLROnPlateau decisions.

The reference below is PyTorch's documented algorithm, written from its
documentation in plain Python floats: per ``step(metric)``, an improvement
resets the bad-epoch count, otherwise it grows; during a cooldown it is held at
0; when it *exceeds* ``patience`` the rate becomes ``max(lr * factor, min_lr)``
and a cooldown starts.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized
from references import TorchPlateau

import lrjax


def lrjax_scales(values, **kwargs):
    opt = lrjax.reduce_on_plateau(**kwargs)
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    update = jax.jit(opt.update)
    scales = []
    for v in values:
        _, state = update({"w": jnp.ones(2)}, state, params, value=v)
        scales.append(float(state.learning_rate_scale))
    return np.asarray(scales)


# --------------------------------------------------------------------------
# Hand-computed decisions (independent of both implementations).


def test_reduces_when_bad_count_exceeds_patience():
    # patience=2: the 3rd non-improving value in a row triggers the cut
    # (optax.contrib cuts at the 2nd).
    values = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    got = lrjax_scales(values, factor=0.1, patience=2)
    np.testing.assert_allclose(got, [1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01], rtol=1e-6)


def test_cooldown_holds_the_count_at_zero():
    values = [1.0] * 7
    got = lrjax_scales(values, factor=0.1, patience=1, cooldown=2)
    np.testing.assert_allclose(got, [1, 1, 0.1, 0.1, 0.1, 0.1, 0.01], rtol=1e-6)


def test_negative_values_plateau_and_reduce():
    # A loss hovering at -10 with noise below the margin is a plateau. With
    # PyTorch's relative test (value < best * (1 - rtol)), -9.9995 would count
    # as an improvement on -10; lrjax measures the margin against |best|.
    values = [-10.0, -9.9995, -10.0002, -9.9999, -10.0003, -10.0001]
    got = lrjax_scales(values, factor=0.5, patience=1, rtol=1e-3)
    np.testing.assert_allclose(got, [1, 1, 0.5, 0.5, 0.25, 0.25], rtol=1e-6)


def test_max_mode_tracks_accuracy():
    values = [0.5, 0.6, 0.6, 0.61, 0.61, 0.61, 0.7]
    got = lrjax_scales(values, factor=0.5, patience=1, rtol=0.0, atol=0.005, mode="max")
    np.testing.assert_allclose(got, [1, 1, 1, 1, 1, 0.5, 0.5], rtol=1e-6)


def test_min_scale_bounds_the_scale():
    got = lrjax_scales([1.0] * 12, factor=0.1, patience=0, min_scale=1e-3)
    assert got.min() == pytest.approx(1e-3, rel=1e-6)


def test_accumulation_averages_values_into_one_decision():
    # Means of pairs: 3, 3, 3, 3 -> bad decisions at pairs 2, 3; patience=1
    # cuts at pair 3 (the 6th call).
    values = [2.0, 4.0, 3.0, 3.0, 1.0, 5.0, 6.0, 0.0]
    got = lrjax_scales(values, factor=0.5, patience=1, accumulation_size=2)
    np.testing.assert_allclose(got, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5], rtol=1e-6)


def test_nan_value_is_a_bad_decision():
    got = lrjax_scales([1.0, float("nan"), float("nan")], factor=0.5, patience=1)
    np.testing.assert_allclose(got, [1, 1, 0.5], rtol=1e-6)


# --------------------------------------------------------------------------
# Against the PyTorch reference on random sequences.


def _random_walk(seed, n, sign=1.0):
    r = np.random.RandomState(seed)
    steps = r.choice([-1.0, 0.0, 0.0, 1.0], size=n) * r.uniform(0.0, 0.2, size=n)
    return (sign * (5.0 + np.cumsum(steps))).astype(np.float32).tolist()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["min", "max"])
def test_relative_mode_matches_pytorch_on_positive_values(seed, mode):
    cfg = dict(factor=0.5, patience=seed % 3, cooldown=seed % 2)
    values = _random_walk(seed, 60)
    # eps=0: lrjax does not skip reductions below 1e-8 (documented).
    ref = TorchPlateau(mode, threshold=1e-2, threshold_mode="rel", eps=0.0, **cfg)
    want = [ref.step(v) for v in values]
    got = lrjax_scales(values, rtol=1e-2, mode=mode, **cfg)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    if seed == 0 and mode == "min":
        assert min(want) < 1.0, "the sequence never triggered a reduction"


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_absolute_mode_matches_pytorch_for_any_sign(seed, sign):
    cfg = dict(factor=0.3, patience=seed % 3, cooldown=(seed + 1) % 3)
    values = _random_walk(seed + 10, 60, sign)
    ref = TorchPlateau("min", threshold=0.05, threshold_mode="abs", eps=0.0, **cfg)
    want = [ref.step(v) for v in values]
    got = lrjax_scales(values, rtol=0.0, atol=0.05, **cfg)
    np.testing.assert_allclose(got, want, rtol=1e-5)


# --------------------------------------------------------------------------
# Composition, learning rate, transformations.


def test_chained_after_adamw_scales_updates_and_reported_rate():
    opt = optax.chain(
        lrjax.adamw(1e-2), lrjax.reduce_on_plateau(factor=0.5, patience=0)
    )
    params = {"w": jnp.ones(3)}
    state = opt.init(params)
    plain = lrjax.adamw(1e-2)
    plain_state = plain.init(params)
    g = {"w": jnp.asarray([1.0, -2.0, 3.0])}
    for v, scale in [(1.0, 1.0), (1.0, 0.5), (1.0, 0.25)]:
        u, state = opt.update(g, state, params, value=v)
        pu, plain_state = plain.update(g, plain_state, params)
        np.testing.assert_allclose(u["w"], scale * pu["w"], rtol=1e-6)
        assert float(lrjax.get_learning_rate(state)) == pytest.approx(1e-2 * scale)


class VariantsTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True, with_pmap=True)
    @parameterized.named_parameters(
        ("plateau", "plateau"), ("loss_adaptive", "loss_adaptive")
    )
    def test_update_under_transformations(self, which):
        if which == "plateau":
            opt = lrjax.reduce_on_plateau(factor=0.5, patience=0)
        else:
            opt = lrjax.loss_adaptive_scale()
        params = {"w": jnp.ones(3)}

        @self.variant
        def three_steps(params, v):
            state = opt.init(params)
            for k in range(3):
                u, state = opt.update(params, state, params, value=v + k)
            return u, state

        u, state = three_steps(params, jnp.asarray(1.0))
        chex.assert_tree_all_finite((u, state))
        # The values rise: both controllers have cut the scale to 1/4.
        assert float(state.learning_rate_scale) == pytest.approx(0.25)


def test_vmap_over_independent_runs():
    opt = lrjax.reduce_on_plateau(factor=0.5, patience=0)
    params = {"w": jnp.ones(2)}

    def run(values):
        state = opt.init(params)
        for k in range(3):
            _, state = opt.update(params, state, params, value=values[k])
        return state.learning_rate_scale

    got = jax.vmap(run)(jnp.asarray([[3.0, 2.0, 1.0], [1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(got, [1.0, 0.25])


def test_rescues_a_diverging_rate_on_a_quadratic():
    # Curvature 1: SGD is unstable above 2. Start at 2.2; each rise of the
    # loss counts as a bad decision and halves the rate until it converges.
    opt = optax.chain(lrjax.sgd(2.2), lrjax.reduce_on_plateau(factor=0.5, patience=1))
    params = {"w": jnp.asarray([3.0, -2.0])}
    loss = lambda p: 0.5 * jnp.sum(p["w"] ** 2)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        value, g = jax.value_and_grad(loss)(params)
        u, state = opt.update(g, state, params, value=value)
        return optax.apply_updates(params, u), state

    for _ in range(60):
        params, state = step(params, state)
    assert float(loss(params)) < 1e-6
    assert float(lrjax.get_learning_rate(state)) < 2.0


# --------------------------------------------------------------------------
# Validation.


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"factor": 1.0}, "factor"),
        ({"factor": 0.0}, "factor"),
        ({"patience": -1}, "patience"),
        ({"patience": 1.5}, "patience"),
        ({"rtol": -1e-4}, "rtol"),
        ({"rtol": 2.0}, "rtol"),
        ({"atol": -1.0}, "atol"),
        ({"cooldown": -1}, "cooldown"),
        ({"accumulation_size": 0}, "accumulation_size"),
        ({"min_scale": 1.5}, "min_scale"),
        ({"mode": "median"}, "mode"),
    ],
)
def test_rejects_invalid_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        lrjax.reduce_on_plateau(**kwargs)


def test_update_without_value_makes_no_decision():
    opt = lrjax.reduce_on_plateau(0.5, patience=0)
    params = {"w": jnp.ones(1)}
    state = opt.init(params)
    _, state = opt.update(params, state, params, value=1.0)
    _, state = opt.update(params, state, params, value=2.0)  # reduces
    before = state
    for _ in range(3):
        u, state = opt.update({"w": jnp.full(1, 4.0)}, state, params)
        chex.assert_trees_all_equal(u, {"w": jnp.full(1, 2.0)})
    chex.assert_trees_all_equal(state, before)
