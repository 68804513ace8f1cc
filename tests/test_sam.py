"""SAM (Foret et al., 2021) against the paper's two-step update and optax.contrib.

The reference ascends to ``w + rho g / ||g||``, then steps from ``w`` with
the gradient taken there; ``optax.contrib.sam`` is compared in both modes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fixed_gradients import GRADS, W0, close

import lrjax


def _sam(lr, rho, **kwargs):
    adv = optax.chain(lrjax.normalize(), lrjax.sgd(rho))
    return lrjax.sam(lrjax.sgd(lr), adv, **kwargs)


def test_sam_transparent_steps():
    lr, rho = 0.1, 0.05
    w = W0.copy()
    want = [w + rho * GRADS[0] / np.linalg.norm(GRADS[0])]  # ascent
    want.append(w - lr * GRADS[1])  # outer step with the gradient there
    want.append(want[1] + rho * GRADS[2] / np.linalg.norm(GRADS[2]))
    opt = _sam(lr, rho)
    x = jnp.asarray(W0, jnp.float32)
    state = opt.init(x)
    for g, expected in zip(GRADS, want, strict=True):
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, x)
        x = optax.apply_updates(x, u)
        close(np.asarray(x), expected)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), lr)  # the outer rate


def _quadratic(p):
    return jnp.sum(
        (p - jnp.asarray([3.0, -1.0, 2.0])) ** 2 * jnp.asarray([1.0, 2.0, 0.5])
    )


@pytest.mark.parametrize("sync_period,reset_state", [(2, True), (3, True), (3, False)])
def test_sam_matches_optax(sync_period, reset_state):
    def run(opt, opaque):
        x = jnp.asarray(W0, jnp.float32)
        state = opt.init(x)
        kw = {"grad_fn": lambda p, i: jax.grad(_quadratic)(p)} if opaque else {}
        for _ in range(12):
            u, state = opt.update(jax.grad(_quadratic)(x), state, x, **kw)
            x = optax.apply_updates(x, u)
        return np.asarray(x)

    for opaque in (False, True):
        ours = lrjax.sam(
            lrjax.adam(0.05),
            optax.chain(lrjax.normalize(), lrjax.sgd(0.1)),
            sync_period,
            reset_state,
            opaque,
        )
        theirs = optax.contrib.sam(
            optax.adam(0.05),
            optax.chain(optax.contrib.normalize(), optax.sgd(0.1)),
            sync_period,
            reset_state,
            opaque,
        )
        close(run(ours, opaque), run(theirs, opaque))


def test_sam_opaque_needs_grad_fn():
    opt = _sam(0.1, 0.05, opaque_mode=True)
    x = jnp.ones(3)
    with pytest.raises(ValueError, match="grad_fn"):
        opt.update(jnp.ones(3), opt.init(x), x)
