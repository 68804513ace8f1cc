"""Constructors called inside a trace (``jit``, ``eval_shape``) with concrete
hyperparameters: values known at construction must be read through NumPy, as
``jnp`` values inside a trace are tracers.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import lrjax


def test_warmup_cosine_built_inside_jit():
    @jax.jit
    def rate(step):
        s = lrjax.warmup_cosine_decay_schedule(0.0, 0.05, 3, 20, end_value=1e-3)
        return s(step)

    # Step 5: 2 of 17 decay steps done, from 0.05 to 1e-3.
    want = 1e-3 + (0.05 - 1e-3) * 0.5 * (1 + math.cos(math.pi * 2 / 17))
    np.testing.assert_allclose(rate(5), want, rtol=1e-6)


def test_zero_dampening_and_weight_decay_as_jax_arrays_inside_jit():
    params = jnp.asarray([1.0, -2.0, 3.0])
    grads = jnp.asarray([0.5, 0.5, -1.0])

    @jax.jit
    def steps(params, grads):
        sgd = lrjax.sgd(0.1, 0.9, dampening=jnp.float32(0))
        adamw = lrjax.adamw(0.1, weight_decay=jnp.float32(0))
        u1, _ = sgd.update(grads, sgd.init(params), params)
        u2, _ = adamw.update(grads, adamw.init(params), params)
        return u1, u2

    u1, u2 = steps(params, grads)
    np.testing.assert_allclose(u1, -0.1 * np.asarray(grads), rtol=1e-6)
    # First AdamW step without decay: -lr * sign(g) (|g| >> eps).
    np.testing.assert_allclose(u2, -0.1 * np.sign(grads), rtol=1e-5)
