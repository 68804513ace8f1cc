"""Gradient accumulation with ``optax.MultiSteps`` around lrjax optimizers.

``MultiSteps(tx, every_k_schedule=k)`` averages ``k`` micro-batch gradients
and applies ``tx`` once per ``k`` calls, so a schedule must advance once per
optimizer step (not per micro-batch) and ``lrjax.get_learning_rate`` must
report the rate the last applied step used. Reference: the same optimizer
without accumulation, fed the mean gradient of the ``k`` micro-batches, i.e.
the gradient of the concatenated batch for a mean loss.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

K = 3
OPT_STEPS = 5
SCHEDULE = lrjax.warmup_cosine_decay_schedule(0.0, 0.1, 2, OPT_STEPS, 0.01)

OPTIMIZERS = {
    "sgd momentum": lambda: lrjax.sgd(SCHEDULE, momentum=0.9),
    "adamw": lambda: lrjax.adamw(SCHEDULE, weight_decay=0.1),
    "lion": lambda: lrjax.lion(SCHEDULE),
    "adafactor": lambda: lrjax.adafactor(SCHEDULE),
}


def loss_fn(params, x, y):
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def data():
    key_x, key_y = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(key_x, (OPT_STEPS, K, 4, 3))
    y = jax.random.normal(key_y, (OPT_STEPS, K, 4))
    return x, y


def init_params():
    return {"w": jnp.array([0.5, -0.2, 0.1]), "b": jnp.array(0.3)}


def _cases():
    """Every optimizer jitted; eagerly, sgd in the default run, the others
    (seconds each: eager dispatch per leaf and step) with the slow checks."""
    for name in sorted(OPTIMIZERS):
        yield pytest.param(name, True, id=f"jit-{name}")
        marks = () if name == "sgd momentum" else pytest.mark.slow
        yield pytest.param(name, False, id=f"eager-{name}", marks=marks)


@pytest.mark.parametrize("name, jit", list(_cases()))
def test_accumulated_steps_equal_steps_on_the_concatenated_batch(name, jit):
    x, y = data()
    grad = jax.grad(loss_fn)
    accumulated = optax.MultiSteps(OPTIMIZERS[name](), every_k_schedule=K)
    plain = OPTIMIZERS[name]()
    acc_update = jax.jit(accumulated.update) if jit else accumulated.update
    plain_update = jax.jit(plain.update) if jit else plain.update

    params_a = params_p = init_params()
    state_a, state_p = accumulated.init(params_a), plain.init(params_p)
    for t in range(OPT_STEPS):
        for i in range(K):
            g = grad(params_a, x[t, i], y[t, i])
            updates, state_a = acc_update(g, state_a, params_a)
            params_a = optax.apply_updates(params_a, updates)
            if i < K - 1:  # nothing applied between optimizer steps
                chex.assert_trees_all_close(
                    updates, jax.tree.map(jnp.zeros_like, updates)
                )
        # The concatenated batch: equal sizes, so its mean loss's gradient is
        # the mean of the micro-batch gradients.
        g = grad(params_p, x[t].reshape(K * 4, 3), y[t].reshape(K * 4))
        updates, state_p = plain_update(g, state_p, params_p)
        params_p = optax.apply_updates(params_p, updates)
        chex.assert_trees_all_close(params_a, params_p, rtol=1e-5, atol=1e-6)
        # The rate of the last applied step: the schedule at optimizer step t.
        np.testing.assert_allclose(
            float(lrjax.get_learning_rate(state_a)), float(SCHEDULE(t)), rtol=1e-6
        )
        np.testing.assert_allclose(
            float(lrjax.get_learning_rate(state_a)),
            float(lrjax.get_learning_rate(state_p)),
            rtol=1e-6,
        )


def test_rate_between_optimizer_steps_is_the_last_applied_one():
    """Mid-accumulation the schedule has not moved: micro-batches 1 and 2 of
    the second optimizer step still report the first step's rate."""
    schedule = lrjax.linear_schedule(1.0, 0.0, 10)
    tx = optax.MultiSteps(lrjax.sgd(schedule), every_k_schedule=K)
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    seen = []
    for _ in range(2 * K):
        _, state = tx.update({"w": jnp.ones(2)}, state, params)
        seen.append(float(lrjax.get_learning_rate(state)))
    # calls 1..3: the first applied step (rate 1.0) at call 3; calls 4..6: the
    # second (0.9) at call 6.
    np.testing.assert_allclose(seen, [1.0, 1.0, 1.0, 1.0, 1.0, 0.9], rtol=1e-6)
