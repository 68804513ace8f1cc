"""RAdam (Liu et al., 2020) against the paper's update rule and PyTorch's RAdam.

The references are float64 NumPy (``references.RAdam``): the paper's
Algorithm 2, and PyTorch's documented algorithm for the rectification's
precision over 100 steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import references
from fixed_gradients import LONG_GRADS, W0, assert_moment_dtypes, close, run_lrjax

import lrjax


def radam_reference_steps(lr, b1, b2, eps, threshold, nesterov=False):
    """Per-step updates of the paper's Algorithm 2."""
    ref = references.RAdam(lr, b1, b2, eps, threshold, nesterov=nesterov)
    return references.run(ref, LONG_GRADS, W0)[1]


@pytest.mark.parametrize(
    "b2, threshold, nesterov",
    [(0.999, 5.0, False), (0.9, 4.0, False), (0.99, 5.0, True)],
)
def test_radam(b2, threshold, nesterov):
    opt = lrjax.radam(0.1, 0.8, b2, 1e-3, threshold=threshold, nesterov=nesterov)
    _, got, _ = run_lrjax(opt, LONG_GRADS)
    want = radam_reference_steps(0.1, 0.8, b2, 1e-3, threshold, nesterov)
    # rho_t subtracts two numbers near 2 / (1 - b2): in float32 it is exact to
    # ~4e-4, which moves r_t by ~1e-4 relative in the first rectified steps.
    np.testing.assert_allclose(np.stack(got), np.stack(want), rtol=3e-4, atol=1e-7)


def test_radam_switches_to_the_adaptive_step_after_five_steps():
    # b2 = 0.999: rho_5 = 4.996 < 5 <= rho_6 = 5.994 (float64).
    lr = 0.1
    _, got, _ = run_lrjax(lrjax.radam(lr), LONG_GRADS)
    m = np.zeros(3)
    for t, g in enumerate(LONG_GRADS[:6], start=1):
        m = 0.9 * m + 0.1 * g
        sgd_step = -lr * m / (1 - 0.9**t)
        if t <= 5:
            close(got[t - 1], sgd_step)
        else:
            assert not np.allclose(got[t - 1], sgd_step, rtol=1e-2)


def test_radam_gradients_through_the_update_stay_finite():
    # Steps 3-4 have 2 < rho_t < 4, where the paper's r_t is imaginary; the
    # unused branch must not poison derivatives taken through the optimizer.
    opt = lrjax.radam(0.1)

    def total_update(scale):
        state, total = opt.init(jnp.zeros(3)), 0.0
        for g in LONG_GRADS:
            u, state = opt.update(scale * jnp.asarray(g, jnp.float32), state)
            total = total + jnp.sum(u)
        return total

    assert np.isfinite(float(jax.grad(total_update)(1.0)))


def test_radam_rejects_a_threshold_where_r_is_undefined():
    with pytest.raises(ValueError, match=r"threshold.*3\.5"):
        lrjax.radam(0.1, threshold=3.5)
    lrjax.radam(0.1, threshold=4.0)  # the paper's own threshold is accepted


def test_moment_dtypes_are_honoured():
    assert_moment_dtypes(lrjax.scale_by_radam)


def _torch_radam_updates(grad_fn, x0, lr, b1, b2, eps, steps):
    """PyTorch's RAdam (torch.optim.RAdam docs, no weight decay) in float64."""
    ref = references.RAdam(lr, b1, b2, eps, pytorch=True)
    _, updates = references.train(ref, grad_fn, x0, steps)
    return np.array(updates), np.array(ref.rhos)


@pytest.mark.parametrize("b2", [0.9999, 0.999])
def test_radam_matches_float64_pytorch_reference(b2):
    # A quadratic far from its optimum: the gradients keep their sign.
    scale = np.array([0.5, 1.0, 2.0])
    x0 = np.array([1.0, -2.0, 3.0])

    def grad_fn(x):
        return scale * x

    lr, steps = 1e-3, 100
    want, rhos = _torch_radam_updates(grad_fn, x0, lr, 0.9, b2, 1e-8, steps)
    # For these b2 the adaptive step starts at step 6: rho_5 < 5 < rho_6.
    assert rhos[4] < 5 < rhos[5]
    opt = lrjax.radam(lr, b1=0.9, b2=b2, eps=1e-8, threshold=5.0)
    x = jnp.asarray(x0, jnp.float32)
    state = opt.init(x)
    update = jax.jit(opt.update)
    got = []
    for _ in range(steps):
        u, state = update(
            jnp.asarray(grad_fn(np.asarray(x, np.float64)), jnp.float32), state, x
        )
        got.append(np.asarray(u, np.float64))
        x = optax.apply_updates(x, u)
    got = np.array(got)
    # PyTorch adds eps to sqrt(v) before debiasing (lrjax after): with
    # sqrt(v) ~ 1 that moves the update by ~1e-8 relative, far below 1e-5.
    np.testing.assert_allclose(got, want, rtol=1e-5)
