"""RAdam's rectification against a float64 reference of PyTorch's RAdam."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax


def _torch_radam_updates(grad_fn, x0, lr, b1, b2, eps, steps):
    """PyTorch's RAdam (torch.optim.RAdam docs, no weight decay) in float64."""
    x = np.array(x0, np.float64)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    rho_inf = 2 / (1 - b2) - 1
    out, rhos = [], []
    for t in range(1, steps + 1):
        g = grad_fn(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        rhos.append(rho)
        if rho > 5:
            l_t = math.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r_t = math.sqrt(
                (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
            )
            step = -lr * m_hat * l_t * r_t
        else:
            step = -lr * m_hat
        out.append(step)
        x = x + step
    return np.array(out), np.array(rhos)


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
