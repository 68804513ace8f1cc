"""loss_adaptive_scale (bold driver) against a plain-Python reference."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax


def bold_driver_reference(values, increase, decrease, lo, hi, tolerance):
    """The bold-driver rule as stated by Battiti (1989), in Python floats."""
    scale, prev, out = 1.0, None, []
    for v in values:
        if not math.isfinite(v):
            scale *= decrease
        elif prev is not None and v < prev:
            scale *= increase
        elif prev is not None and v > prev + tolerance * abs(prev):
            scale *= decrease
        scale = min(max(scale, lo), hi)
        if math.isfinite(v):
            prev = v
        out.append(scale)
    return out


def lrjax_scales(values, **kwargs):
    opt = lrjax.loss_adaptive_scale(**kwargs)
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    update = jax.jit(opt.update)
    out = []
    for v in values:
        _, state = update({"w": jnp.ones(2)}, state, params, value=v)
        out.append(float(state.learning_rate_scale))
    return out


def test_hand_computed_sequence():
    values = [3.0, 2.0, 1.0, 1.05, 1.2, 1.2, 0.5]
    got = lrjax_scales(values, increase=2.0, decrease=0.5, tolerance=0.1)
    # record; fell x2; fell x2; +5% within tolerance; +14% rise /2; flat; fell x2
    np.testing.assert_allclose(got, [1, 2, 4, 4, 2, 2, 4], rtol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_matches_reference_on_random_losses(seed):
    r = np.random.RandomState(seed)
    values = (1.0 + r.rand(80) * (1 + seed)).astype(np.float32)
    values[[7, 30]] = np.nan
    values[50] = np.inf
    values = values.tolist()
    cfg = dict(increase=1.1, decrease=0.6, min_scale=0.05, max_scale=3.0)
    want = bold_driver_reference(
        values, cfg["increase"], cfg["decrease"], 0.05, 3.0, 0.02
    )
    got = lrjax_scales(values, tolerance=0.02, **cfg)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert min(want) == pytest.approx(0.05) or max(want) > 1.0


def test_updates_are_scaled_and_rate_reported():
    opt = optax.chain(lrjax.sgd(0.1), lrjax.loss_adaptive_scale(increase=1.5))
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    g = {"w": jnp.asarray([1.0, -1.0])}
    u, state = opt.update(g, state, params, value=2.0)
    u, state = opt.update(g, state, params, value=1.0)
    np.testing.assert_allclose(u["w"], [-0.15, 0.15], rtol=1e-6)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(0.15)


@pytest.mark.parametrize("lr", [1e-3, 2.5])
def test_finds_a_working_rate_on_a_quadratic(lr):
    # Curvature 1 (stable below 2): a rate 1000x too small grows, a
    # diverging one is cut, and both runs converge.
    opt = optax.chain(lrjax.sgd(lr), lrjax.loss_adaptive_scale(increase=1.2))
    params = {"w": jnp.asarray([3.0, -2.0])}
    loss = lambda p: 0.5 * jnp.sum(p["w"] ** 2)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        value, g = jax.value_and_grad(loss)(params)
        u, state = opt.update(g, state, params, value=value)
        return optax.apply_updates(params, u), state

    start = float(loss(params))
    for _ in range(150):
        params, state = step(params, state)
    assert float(loss(params)) < 1e-4 * start
    assert 0.05 < float(lrjax.get_learning_rate(state)) < 2.5


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"increase": 0.9}, "increase"),
        ({"decrease": 0.0}, "decrease"),
        ({"decrease": 1.5}, "decrease"),
        ({"min_scale": 0.0}, "min_scale"),
        ({"max_scale": -1.0}, "max_scale"),
        ({"max_scale": 0.5}, "max_scale"),
        ({"min_scale": 10.0, "max_scale": 5.0}, "max_scale"),
        ({"tolerance": -0.1}, "tolerance"),
    ],
)
def test_rejects_invalid_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        lrjax.loss_adaptive_scale(**kwargs)
