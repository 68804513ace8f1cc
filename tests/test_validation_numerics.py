"""Argument checks and numeric rules shared by every block."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrjax
from lrjax import _numerics as num
from lrjax import _validation as val


@pytest.mark.parametrize(
    "make, arg, value",
    [
        (lambda v: lrjax.adam(v), "learning_rate", -1.0),
        (lambda v: lrjax.adam(0.1, b1=v), "b1", 1.0),
        (lambda v: lrjax.adam(0.1, b2=v), "b2", 1.2),
        (lambda v: lrjax.adam(0.1, eps=v), "eps", -1e-9),
        (lambda v: lrjax.sgd(0.1, momentum=v), "momentum", -0.3),
        (lambda v: lrjax.clip(v), "max_delta", 0.0),
        (lambda v: lrjax.clip_by_global_norm(v), "max_norm", -1.0),
        (lambda v: lrjax.ema(v), "decay", 1.0),
        (lambda v: lrjax.add_decayed_weights(v), "weight_decay", -0.1),
    ],
)
def test_message_names_argument_value_and_range(make, arg, value):
    with pytest.raises(ValueError) as info:
        make(value)
    msg = str(info.value)
    assert arg in msg and repr(float(value)) in msg
    assert any(s in msg for s in ("[", "(", ">")), msg


@pytest.mark.parametrize("bad", ["0.1", True, 1 + 2j, [0.1, "x"]])
def test_non_numbers_are_type_errors(bad):
    with pytest.raises(TypeError, match="learning_rate"):
        lrjax.sgd(bad)


def test_nan_hyperparameter_is_rejected():
    with pytest.raises(ValueError, match="b1"):
        lrjax.adam(0.1, b1=float("nan"))


def test_tracers_and_schedules_pass_through():
    @jax.jit
    def build_and_step(b1, lr):
        opt = lrjax.adam(lr, b1=b1)
        u, _ = opt.update(jnp.ones(2), opt.init(jnp.ones(2)))
        return u

    assert build_and_step(1.5, -1.0).shape == (2,)  # unchecked when traced
    lrjax.sgd(lambda step: -1.0)  # schedules are not evaluated at construction


def test_check_helpers():
    val.check_increasing("milestones", [1, 2, 3])
    with pytest.raises(ValueError, match="milestones"):
        val.check_increasing("milestones", [1, 3, 3])
    with pytest.raises(ValueError, match="mode"):
        val.check_one_of("mode", "tri", ["triangular"])
    with pytest.raises(TypeError, match="steps"):
        val.check_positive_int("steps", 2.5)
    with pytest.raises(ValueError, match="steps"):
        val.check_positive_int("steps", 0)
    # A negative count names this check's range, not the >= 0 it builds on.
    for bad in (-1, np.int64(-3)):
        with pytest.raises(ValueError, match=r"steps must be an integer > 0, got"):
            val.check_positive_int("steps", bad)
    with pytest.raises(ValueError, match="mu_dtype"):
        val.check_dtype("mu_dtype", jnp.int32)


def test_safe_increment_saturates():
    c = jnp.asarray(2**31 - 2, jnp.int32)
    c = num.safe_increment(c)
    assert int(c) == 2**31 - 1
    c = num.safe_increment(c)
    assert int(c) == 2**31 - 1 and c.dtype == jnp.int32


def test_schedule_sees_saturated_count():
    seen = []
    opt = lrjax.sgd(lambda t: jax.debug.callback(seen.append, t) or 0.1)
    state = opt.init(jnp.ones(1))
    state = (state[0], state[1]._replace(count=jnp.asarray(2**31 - 1, jnp.int32)))
    _, state = opt.update(jnp.ones(1), state)
    _, state = opt.update(jnp.ones(1), state)
    # init evaluates the schedule at step 0; both updates see the saturated count
    assert [int(s) for s in seen] == [0, 2**31 - 1, 2**31 - 1]


@settings(max_examples=25, deadline=None)
@given(decay=st.floats(0.0, 0.999), count=st.integers(1, 2**31 - 1))
def test_bias_correction_is_finite_and_matches_formula(decay, count):
    got = float(num.bias_correction(decay, jnp.asarray(count, jnp.int32)))
    want = 1.0 / (1.0 - np.float32(decay) ** np.float32(count))
    assert np.isfinite(got)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_buffers_take_requested_dtype_and_fill():
    params = {"a": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.float32(1.0)}
    bufs = num.tree_buffers(params, jnp.float32, fill=0.25)
    assert bufs["a"].dtype == jnp.float32 and bufs["a"].shape == (2, 3)
    np.testing.assert_array_equal(bufs["a"], 0.25)
    same = num.tree_buffers(params)
    assert same["a"].dtype == jnp.bfloat16
    # a NaN parameter still gets a clean buffer
    nan_buf = num.buffer_like(jnp.array([jnp.nan, 1.0]))
    np.testing.assert_array_equal(nan_buf, [0.0, 0.0])


@pytest.mark.parametrize("dtype", [jnp.bfloat16, "bfloat16", jnp.float16, jnp.float32])
def test_low_precision_moment_dtypes_are_accepted(dtype):
    opt = lrjax.adam(0.1, mu_dtype=dtype, nu_dtype=dtype)
    state = opt.init(jnp.ones(2))
    assert state[0].mu.dtype == jnp.dtype(dtype) == state[0].nu.dtype
