"""RAdam's rectification against a float64 reference of PyTorch's RAdam."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import references

import lrjax


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
