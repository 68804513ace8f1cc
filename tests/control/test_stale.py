"""Simulated asynchronous SGD: stale gradients and the staleness-aware rate.

References are written out here: delayed gradient descent in NumPy, and the
rate ``lr / max(tau, 1)`` of Zhang et al. (IJCAI 2016).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

H = np.array([1.0, 10.0])  # a quadratic's curvatures: loss = sum(H * x**2) / 2


def _train(opt, steps, x0=(1.0, 1.0)):
    """Full-batch steps on the quadratic; returns iterates, rates, delays."""
    x = jnp.asarray(x0, jnp.float32)
    state = opt.init(x)

    @jax.jit
    def step(x, state):
        updates, state = opt.update(jnp.asarray(H, jnp.float32) * x, state, x)
        return optax.apply_updates(x, updates), state

    xs, rates, delays = [np.asarray(x)], [], []
    for _ in range(steps):
        x, state = step(x, state)
        xs.append(np.asarray(x))
        rates.append(float(lrjax.get_learning_rate(state)))
        delays.append(int(getattr(state, "delay", 0)))
    return np.array(xs), np.array(rates), np.array(delays)


def _delayed_gd(lr, delay, steps, aware, delays=None):
    """x_{t+1} = x_t - a_t H x_{t - tau_t}, tau_t = min(delay, t) (or given)."""
    xs = [np.array([1.0, 1.0])]
    for t in range(steps):
        tau = min(delay, t) if delays is None else delays[t]
        rate = lr / max(tau, 1) if aware else lr
        xs.append(xs[-1] - rate * H * xs[t - tau])
    return np.array(xs)


@pytest.mark.parametrize("aware", [False, True])
def test_fixed_delay_matches_delayed_gradient_descent(aware):
    inner = lrjax.sgd(0.02)
    inner = lrjax.staleness_aware(inner) if aware else inner
    xs, rates, delays = _train(lrjax.stale_gradients(inner, 3), 12)
    np.testing.assert_allclose(
        xs, _delayed_gd(0.02, 3, 12, aware), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_array_equal(delays, [0, 1, 2] + [3] * 9)
    want = [0.02 / max(d, 1) for d in delays] if aware else [0.02] * 12
    np.testing.assert_allclose(rates, want, rtol=1e-6)


def test_random_delays_are_bounded_reproducible_and_applied():
    key = jax.random.PRNGKey(4)
    opt = lrjax.stale_gradients(lrjax.staleness_aware(lrjax.sgd(0.02)), 5, key=key)
    xs, rates, delays = _train(opt, 40)
    assert np.all(delays >= 0) and np.all(delays <= np.minimum(5, np.arange(40)))
    assert len(set(delays[5:].tolist())) >= 4  # really random, not constant
    np.testing.assert_allclose(xs, _delayed_gd(0.02, 5, 40, True, delays), rtol=1e-5)
    np.testing.assert_allclose(rates, 0.02 / np.maximum(delays, 1), rtol=1e-6)
    _, _, again = _train(opt, 40)
    np.testing.assert_array_equal(again, delays)


def test_staleness_8_breaks_sgd_where_the_staleness_aware_rate_converges():
    # lr * h = 1 is stable for fresh gradients (< 2), unstable with a delay
    # of 8 (the delayed iteration needs lr * h < 2 sin(pi / 34) ~ 0.18);
    # the staleness-aware rate lr / 8 gives 0.125.
    fresh, _, _ = _train(lrjax.sgd(0.1), 800)
    plain, _, _ = _train(lrjax.stale_gradients(lrjax.sgd(0.1), 8), 800)
    aware, _, _ = _train(
        lrjax.stale_gradients(lrjax.staleness_aware(lrjax.sgd(0.1)), 8), 800
    )
    assert np.abs(fresh[-1]).max() < 1e-6
    assert not np.all(np.abs(plain[-1]) < 1.0)  # diverged (or overflowed)
    assert np.abs(aware[-1]).max() < 1e-3
    np.testing.assert_allclose(aware, _delayed_gd(0.1, 8, 800, True), atol=1e-6)


def test_no_delay_is_the_inner_optimizer():
    fresh, _, _ = _train(lrjax.adam(0.05), 20)
    wrapped, _, _ = _train(lrjax.stale_gradients(lrjax.adam(0.05), 0), 20)
    np.testing.assert_array_equal(wrapped, fresh)


def test_extra_arguments_reach_the_inner_chain():
    inner = optax.chain(
        lrjax.staleness_aware(lrjax.sgd(0.1)), lrjax.reduce_on_plateau(0.5, patience=0)
    )
    opt = lrjax.stale_gradients(inner, 2)
    params = jnp.ones(2)
    state = opt.init(params)
    for _ in range(4):  # a constant loss: no improvement, halves every step
        _, state = opt.update(jnp.ones(2), state, params, value=jnp.asarray(1.0))
    # rate 0.1, staleness scale 1/2, plateau scale 0.5**3 (first value sets the best)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), 0.1 / 2 * 0.5**3)


def test_staleness_aware_needs_the_delay():
    opt = lrjax.staleness_aware(lrjax.sgd(0.1))
    state = opt.init(jnp.ones(2))
    with pytest.raises(TypeError, match="delay"):
        opt.update(jnp.ones(2), state, jnp.ones(2))
    updates, state = opt.update(jnp.ones(2), state, jnp.ones(2), delay=4)
    np.testing.assert_allclose(updates, -0.1 / 4 * np.ones(2))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"max_delay": -1}, ValueError, "max_delay"),
        ({"max_delay": 2.5}, TypeError, "max_delay"),
        ({"max_delay": None}, TypeError, "max_delay"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        lrjax.stale_gradients(lrjax.sgd(0.1), **kwargs)


def test_inner_must_be_a_transformation():
    with pytest.raises(TypeError, match="inner"):
        lrjax.stale_gradients(0.1, 2)
    with pytest.raises(TypeError, match="inner"):
        lrjax.staleness_aware(lambda g: g)


def test_ring_buffer_holds_the_last_gradients_in_the_parameter_dtype():
    opt = lrjax.stale_gradients(lrjax.sgd(0.1), 2)
    params = {"w": jnp.ones(3, jnp.bfloat16)}
    state = opt.init(params)
    assert state.history["w"].shape == (3, 3)
    assert state.history["w"].dtype == jnp.bfloat16
    for t in range(4):
        _, state = opt.update({"w": jnp.full(3, t + 1.0, jnp.bfloat16)}, state, params)
    # gradient t in slot t % 3: slots hold 4, 2, 3
    np.testing.assert_array_equal(state.history["w"][:, 0], [4.0, 2.0, 3.0])
