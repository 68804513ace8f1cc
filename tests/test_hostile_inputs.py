"""Hostile inputs that used to fail deep inside JAX now fail early and clearly.

* a concrete array where a scalar hyperparameter is expected: refused at
  construction (a batch of values under ``jax.vmap`` is still welcome);
* a schedule step that is no int32 step (``2**31``, a string): refused,
  naming ``step``;
* another optimizer's state passed to ``update``: refused, naming what the
  optimizer's ``init`` makes and what it got.

Each error names the argument and the value given.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optimizer_case import REPRESENTATIVE_IDS, all_cases

import lrjax

PARAMS = {"w": jnp.asarray([1.0, -2.0, 0.5]), "b": jnp.asarray([0.3])}
GRADS = {"w": jnp.asarray([0.5, -1.0, 2.0]), "b": jnp.asarray([1.5])}


# --------------------------------------------------------------------------
# 1. Concrete non-scalar hyperparameters.

NON_SCALAR = [
    (lambda: lrjax.adam(jnp.array([1e-3, 1e-2])), "learning_rate", "0.001"),
    (lambda: lrjax.adam(1e-3, b1=np.array([0.9, 0.8])), "b1", "0.9"),
    (lambda: lrjax.adam(1e-3, b2=[0.99, 0.999]), "b2", "0.99"),
    (lambda: lrjax.sgd(0.1, momentum=jnp.full((2, 2), 0.9)), "momentum", "0.9"),
    (
        lambda: lrjax.adamw(1e-3, weight_decay=np.array([1e-4, 0.0])),
        "weight_decay",
        "0.0001",
    ),
    (lambda: lrjax.rmsprop(1e-3, eps=np.ones(3)), "eps", "1.0"),
    (lambda: lrjax.lion(np.array([1e-4]), b1=0.9), "learning_rate", "0.0001"),
    (
        lambda: lrjax.cosine_decay_schedule(np.array([0.1, 0.2]), 100),
        "init_value",
        "0.1",
    ),
    (lambda: lrjax.reduce_on_plateau(factor=np.array([0.5, 0.1])), "factor", "0.5"),
]


@pytest.mark.parametrize(
    "build, name, shown", NON_SCALAR, ids=[n for _, n, _ in NON_SCALAR]
)
def test_a_concrete_array_hyperparameter_is_refused_at_construction(build, name, shown):
    with pytest.raises(TypeError) as info:
        build()
    message = str(info.value)
    assert message.startswith(f"{name} must be a scalar"), message
    assert "shape (" in message and shown in message, message


def test_a_large_array_is_not_printed_whole():
    with pytest.raises(
        TypeError,
        match=r"shape \(1000,\) with values \[0\.5, 0\.5, 0\.5, 0\.5, \.\.\.\]",
    ):
        lrjax.adam(np.full(1000, 0.5))


@pytest.mark.parametrize(
    "value",
    [
        np.float32(1e-3),
        jnp.asarray(1e-3),
        np.asarray(1e-3),
        jnp.asarray(1e-3, jnp.bfloat16),
    ],
    ids=["np_scalar", "jax_0d", "np_0d", "bf16_0d"],
)
def test_zero_dimensional_arrays_are_scalars(value):
    opt = lrjax.adam(value, b1=value * 0 + 0.9)
    u, _ = opt.update(GRADS, opt.init(PARAMS), PARAMS)
    assert np.all(np.isfinite(np.asarray(u["w"], np.float32)))


def test_arguments_that_take_arrays_still_do():
    # Masks, betas tuples, milestones, boundaries, keys: not scalar arguments.
    mask = {"w": True, "b": False}
    for opt in (
        lrjax.adamw(1e-3, mask=mask),
        lrjax.prodigy(betas=(0.9, 0.99)),
        lrjax.noisy_sgd(0.1, key=jax.random.PRNGKey(0)),
    ):
        u, _ = opt.update(GRADS, opt.init(PARAMS), PARAMS)
        assert set(u) == {"w", "b"}
    lrjax.multistep_decay_schedule(0.1, [10, 20], 0.5)(15)
    lrjax.piecewise_constant_schedule(0.1, {10: 0.5, 20: 0.5})(15)
    lrjax.join_schedules([lrjax.constant_schedule(0.1)] * 2, np.array([5]))(7)


def _adam_step(lr):
    opt = lrjax.adam(lr)
    return opt.update(GRADS, opt.init(PARAMS), PARAMS)[0]


def test_a_batched_hyperparameter_under_vmap_equals_separate_runs():
    rates = jnp.array([1e-3, 1e-2])
    batched = jax.vmap(_adam_step)(rates)
    for i, lr in enumerate([1e-3, 1e-2]):
        single = _adam_step(lr)
        for key in PARAMS:
            np.testing.assert_allclose(batched[key][i], single[key], rtol=1e-6)
    # Also several steps of a batch of (lr, b1) pairs, with the state vmapped.

    def three_steps(lr, b1):
        opt = lrjax.adam(lr, b1=b1)
        state = opt.init(PARAMS)
        for _ in range(3):
            u, state = opt.update(GRADS, state, PARAMS)
        return u

    b1s = jnp.array([0.9, 0.5])
    batched = jax.jit(jax.vmap(three_steps))(rates, b1s)
    for i in range(2):
        single = three_steps(float(rates[i]), float(b1s[i]))
        for key in PARAMS:
            np.testing.assert_allclose(batched[key][i], single[key], rtol=1e-5)


# --------------------------------------------------------------------------
# 2. Schedule steps.

SCHEDULES = {
    "cosine_decay": lambda: lrjax.cosine_decay_schedule(0.1, 100),
    "constant": lambda: lrjax.constant_schedule(0.1),
    "step_decay": lambda: lrjax.step_decay_schedule(0.1, 10, 0.5),
    "piecewise_constant": lambda: lrjax.piecewise_constant_schedule(0.1, {10: 0.5}),
    "join": lambda: lrjax.join_schedules(
        [lrjax.constant_schedule(0.1), lrjax.linear_schedule(0.1, 0.0, 10)], [5]
    ),
    "warmup": lambda: lrjax.warmup_schedule(lrjax.cosine_decay_schedule(0.1, 100), 10),
    "warmup_constant_rate": lambda: lrjax.warmup_schedule(0.1, 10),
    "per_epoch": lambda: lrjax.per_epoch_schedule(
        lrjax.linear_schedule(0.1, 0.0, 10), 5
    ),
    "random": lambda: lrjax.random_schedule(jax.random.PRNGKey(0), 0.01, 0.1),
}

TOO_LARGE = [
    2**31,
    -(2**31) - 1,
    np.int64(2**31),
    np.uint32(2**31),
    np.array([0, 2**33]),
]
NOT_A_STEP = ["5", b"5", None, True, 1 + 2j, np.array(["5"])]


@pytest.mark.parametrize("make", SCHEDULES.values(), ids=SCHEDULES.keys())
@pytest.mark.parametrize("step", TOO_LARGE, ids=repr)
def test_a_step_outside_int32_is_a_value_error(make, step):
    shown = str(int(np.max(np.abs(step))) * (1 if np.max(step) > 0 else -1))
    with pytest.raises(ValueError) as info:
        make()(step)
    message = str(info.value)
    assert message.startswith("step must be an integer in [0, 2**31 - 1]"), message
    assert shown in message, message


@pytest.mark.parametrize("make", SCHEDULES.values(), ids=SCHEDULES.keys())
@pytest.mark.parametrize("step", NOT_A_STEP, ids=repr)
def test_a_step_that_is_not_a_number_is_a_type_error(make, step):
    with pytest.raises(TypeError) as info:
        make()(step)
    message = str(info.value)
    assert message.startswith("step must be"), message
    assert repr(step) in message or re.escape(str(step)) in message, message


@pytest.mark.parametrize("make", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_valid_steps_behave_as_before(make):
    schedule = make()
    at_zero = float(schedule(0))
    # Negative steps count as step 0, down to the int32 minimum.
    assert float(schedule(-3)) == at_zero
    assert float(schedule(-(2**31))) == at_zero
    assert np.isfinite(float(schedule(2**31 - 1)))
    assert np.isfinite(float(schedule(2.5)))  # float steps are accepted
    np.testing.assert_allclose(schedule(np.int64(7)), schedule(7))
    np.testing.assert_allclose(
        schedule(np.array([0, 7])), [at_zero, float(schedule(7))]
    )
    np.testing.assert_allclose(jax.jit(schedule)(7), schedule(7), rtol=1e-6)
    np.testing.assert_allclose(
        jax.vmap(schedule)(jnp.arange(3)),
        [float(schedule(t)) for t in range(3)],
        rtol=1e-6,
    )


def test_a_traced_step_of_a_wrong_dtype_is_refused():
    schedule = lrjax.cosine_decay_schedule(0.1, 100)
    with pytest.raises(TypeError, match="step must be.*dtype bool"):
        jax.jit(schedule)(jnp.asarray(True))


# --------------------------------------------------------------------------
# 3. Another optimizer's state.

FOREIGN_MESSAGE = "the state passed to update was not made by this optimizer's init"


def test_sgd_momentum_refuses_an_adam_state():
    adam_state = lrjax.adam(0.1).init(PARAMS)
    with pytest.raises(TypeError) as info:
        lrjax.sgd(0.1, momentum=0.9).update(GRADS, adam_state, PARAMS)
    message = str(info.value)
    assert message.startswith("sgd.update: " + FOREIGN_MESSAGE), message
    assert "expected a state of (TraceState, ScaleByLearningRateState)" in message
    assert "got (ScaleByAdamState, ScaleByLearningRateState)" in message
    # The original failure stays attached for debugging.
    assert isinstance(info.value.__cause__, AttributeError)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_after_init_a_foreign_state_is_refused_before_the_update(jit):
    opt = lrjax.sgd(0.1)  # plain SGD would silently accept Adam's state
    opt.init(PARAMS)
    update = jax.jit(opt.update) if jit else opt.update
    with pytest.raises(TypeError, match=re.escape(FOREIGN_MESSAGE)) as info:
        update(GRADS, lrjax.adam(0.1).init(PARAMS), PARAMS)
    assert "expected a state of (EmptyState, ScaleByLearningRateState)" in str(
        info.value
    )


@pytest.mark.parametrize(
    "state, shown",
    [
        (None, "got None"),
        ({"w": jnp.ones(3)}, "got a dict of arrays"),
        ((), "got an empty tuple"),
    ],
    ids=["none", "dict", "empty_tuple"],
)
def test_a_state_that_is_no_optimizer_state_is_refused(state, shown):
    opt = lrjax.adam(0.1)
    opt.init(PARAMS)
    with pytest.raises(TypeError, match=re.escape(FOREIGN_MESSAGE)) as info:
        opt.update(GRADS, state, PARAMS)
    assert shown in str(info.value)
    assert "expected a state of (ScaleByAdamState, ScaleByLearningRateState)" in str(
        info.value
    )


def test_wrappers_refuse_a_foreign_state_and_name_themselves():
    opt = lrjax.inject_hyperparams(lrjax.adam)(learning_rate=0.1)
    with pytest.raises(
        TypeError, match="inject_hyperparams.update: " + re.escape(FOREIGN_MESSAGE)
    ):
        opt.update(GRADS, lrjax.adam(0.1).init(PARAMS), PARAMS)
    opt = lrjax.stale_gradients(lrjax.adam(0.1), 2, key=jax.random.PRNGKey(0))
    with pytest.raises(
        TypeError, match="stale_gradients.update: " + re.escape(FOREIGN_MESSAGE)
    ):
        opt.update(GRADS, lrjax.adam(0.1).init(PARAMS), PARAMS)


def test_legitimate_states_are_accepted():
    opt = lrjax.adam(0.1)
    state = opt.init(PARAMS)
    # The same optimizer for a second model with other parameters.
    other = {"v": jnp.ones((2, 2))}
    u, _ = opt.update(other, opt.init(other), other)
    assert u["v"].shape == (2, 2)
    # A state for other parameters that this instance's init never saw.
    third = [jnp.ones(4)]
    u, _ = opt.update(third, lrjax.adam(0.1).init(third), third)
    # A state from an equal optimizer built elsewhere (a restored checkpoint).
    u, _ = lrjax.adam(0.1).update(GRADS, state, PARAMS)
    # Under jit, vmap and scan.
    u, state = jax.jit(opt.update)(GRADS, state, PARAMS)
    batched = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), state)
    jax.vmap(lambda s: opt.update(GRADS, s, PARAMS))(batched)

    def body(s, _):
        return opt.update(GRADS, s, PARAMS)[1], None

    jax.lax.scan(body, state, None, length=3)
    # Inside optax.chain and optax.masked.
    chained = optax.chain(optax.clip_by_global_norm(1.0), lrjax.adam(0.1))
    chained.update(GRADS, chained.init(PARAMS), PARAMS)
    masked = optax.masked(lrjax.sgd(0.1, momentum=0.9), {"w": True, "b": False})
    masked.update(GRADS, masked.init(PARAMS), PARAMS)


def test_the_elementwise_verdict_survives_the_guard():
    assert lrjax._base.elementwise_verdict(lrjax.adam(0.1)) is True
    verdict = lrjax._base.elementwise_verdict(lrjax.lamb(0.1))
    assert isinstance(verdict, str) and "trust ratio" in verdict


def _foreign_state_for(opt, params):
    """A state of another optimizer: SGD with momentum's, or Adam's."""
    own = jax.tree_util.tree_structure(opt.init(params))
    for other in (lrjax.sgd(0.1, momentum=0.9), lrjax.adam(0.1)):
        state = other.init(params)
        if jax.tree_util.tree_structure(state) != own:
            return state
    raise AssertionError("no foreign state")


@pytest.mark.parametrize(
    "case", [c for c in all_cases() if c.id in REPRESENTATIVE_IDS], ids=str
)
@pytest.mark.parametrize("after_init", [False, True], ids=["fresh", "after_init"])
def test_every_kind_of_optimizer_refuses_a_foreign_state(case, after_init):
    opt = case.make()
    foreign = _foreign_state_for(opt, PARAMS)
    if after_init:
        opt.init(PARAMS)
    with pytest.raises(TypeError, match=re.escape(FOREIGN_MESSAGE)):
        opt.update(GRADS, foreign, PARAMS, **case.extra())
