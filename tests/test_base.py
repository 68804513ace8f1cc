"""optax type re-exports and the learning-rate protocol (get_learning_rate)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax


def test_base_types_are_optax_objects():
    for name in [
        "GradientTransformation",
        "GradientTransformationExtraArgs",
        "EmptyState",
        "Params",
        "Updates",
        "OptState",
        "Schedule",
        "ScalarOrSchedule",
        "chain",
        "apply_updates",
    ]:
        assert getattr(lrjax, name) is getattr(optax, name), name


def test_version_is_a_string():
    assert isinstance(lrjax.__version__, str) and lrjax.__version__.count(".") == 2


def test_rate_inside_optax_chain_and_nested_containers():
    params = {"w": jnp.ones(3)}
    opt = optax.chain(optax.clip_by_global_norm(1.0), lrjax.adam(0.25))
    state = opt.init(params)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.25)
    np.testing.assert_allclose(lrjax.get_learning_rate({"opt": [state]}), 0.25)


def test_rate_of_inject_hyperparams_state_is_not_counted_twice():
    params = {"w": jnp.ones(3)}
    wrapped = optax.inject_hyperparams(lrjax.sgd)(learning_rate=0.3)
    state = wrapped.init(params)
    _, state = wrapped.update({"w": jnp.ones(3)}, state, params)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.3, rtol=1e-6)
    plain = optax.inject_hyperparams(optax.sgd)(learning_rate=0.2)
    np.testing.assert_allclose(
        lrjax.get_learning_rate(plain.init(params)), 0.2, rtol=1e-6
    )


def test_rate_scale_fields_multiply():
    from typing import NamedTuple

    class PlateauState(NamedTuple):
        learning_rate_scale: jax.Array

    state = (lrjax.sgd(0.5).init(jnp.ones(2)), PlateauState(jnp.asarray(0.1)))
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.05, rtol=1e-6)


def test_state_without_rate_raises_clear_error():
    state = optax.scale_by_adam().init(jnp.ones(2))
    with pytest.raises(ValueError, match="records no learning rate"):
        lrjax.get_learning_rate(state)


def test_rate_under_vmap_is_batched():
    opt = lrjax.sgd(lambda t: 0.1 * (t + 1))

    def one(lr_scale):
        state = opt.init(jnp.ones(2))
        _, state = opt.update(jnp.ones(2) * lr_scale, state)
        _, state = opt.update(jnp.ones(2) * lr_scale, state)
        return lrjax.get_learning_rate(state)

    got = jax.vmap(one)(jnp.arange(3.0))
    np.testing.assert_allclose(got, [0.2, 0.2, 0.2], rtol=1e-6)


def test_scale_by_learning_rate_none_is_unit_rate_with_descent_sign():
    t = lrjax.scale_by_learning_rate(None)
    u, _ = t.update(jnp.ones(2), t.init(jnp.ones(2)))
    np.testing.assert_allclose(u, -np.ones(2))
    t = lrjax.scale_by_learning_rate(0.5, flip_sign=False)
    u, _ = t.update(jnp.ones(2), t.init(jnp.ones(2)))
    np.testing.assert_allclose(u, 0.5 * np.ones(2))


def test_scale_by_schedule_uses_count_before_increment():
    t = lrjax.scale_by_schedule(lambda c: c + 1.0)
    state = t.init(jnp.ones(1))
    for k in range(3):
        u, state = t.update(jnp.ones(1), state)
        np.testing.assert_allclose(u, [k + 1.0])


def test_clip_and_clip_by_global_norm():
    u = {"a": jnp.array([3.0, -4.0]), "b": jnp.array([0.5])}
    clipped, _ = lrjax.clip(1.0).update(u, lrjax.clip(1.0).init(u))
    np.testing.assert_allclose(clipped["a"], [1.0, -1.0])
    norm = np.sqrt(9 + 16 + 0.25)
    t = lrjax.clip_by_global_norm(2.0)
    out, _ = t.update(u, t.init(u))
    np.testing.assert_allclose(out["a"], np.array([3.0, -4.0]) * 2.0 / norm, rtol=1e-6)
    small, _ = lrjax.clip_by_global_norm(100.0).update(u, t.init(u))
    np.testing.assert_allclose(small["a"], [3.0, -4.0])
    ref, _ = optax.clip_by_global_norm(2.0).update(u, optax.EmptyState())
    np.testing.assert_allclose(out["b"], ref["b"], rtol=1e-6)


def test_identity_set_to_zero_scale_and_ema():
    u = jnp.array([1.0, -2.0])
    assert np.array_equal(lrjax.identity().update(u, None)[0], u)
    np.testing.assert_array_equal(lrjax.set_to_zero().update(u, None)[0], [0.0, 0.0])
    np.testing.assert_allclose(lrjax.scale(-3.0).update(u, None)[0], [-3.0, 6.0])
    e = lrjax.ema(0.5, debias=True)
    state = e.init(u)
    m = np.zeros(2)
    for t, g in enumerate([u, 2 * u, -u], start=1):
        out, state = e.update(g, state)
        m = 0.5 * m + 0.5 * np.asarray(g)
        np.testing.assert_allclose(out, m / (1 - 0.5**t), rtol=1e-6)
