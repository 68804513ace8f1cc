"""Fixed gradient sequences and the float32 loops that feed them to lrjax.

Shared by the per-family reference tests (``test_adam.py``-style files named
for an optimizer family): each test transcribes its paper's update rule in
float64 NumPy and compares it with lrjax run here in float32.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

# Three steps on three coordinates, for the Adam family's references.
GRADS = [
    np.array([0.5, -1.0, 2.0]),
    np.array([0.1, 0.3, -0.7]),
    np.array([-1.2, 0.4, 0.9]),
]
W0 = np.array([1.0, -2.0, 0.5])
# RAdam needs more than 5 steps before its rectified step switches on.
LONG_GRADS = GRADS + [
    np.array([0.3, -0.2, 1.1]),
    np.array([-0.4, 0.8, 0.6]),
    np.array([0.7, 0.5, -0.3]),
    np.array([0.2, -0.9, 0.4]),
    np.array([-0.6, 0.1, 1.5]),
]

# Three steps on four coordinates for the squared-gradient methods (AdaGrad,
# RMSProp, AdaDelta): the tiny last coordinate makes eps placement show.
SQ_W0 = np.array([1.0, -0.5, 0.25, 2.0])
SQ_GRADS = np.array(
    [
        [0.5, -1.0, 2.0, 1e-3],
        [0.3, -0.2, 1.5, -2e-3],
        [-0.4, 0.6, 1.0, 1e-3],
    ]
)
SQ_RTOL = 1e-5


def run_lrjax(opt: Any, grads=GRADS, w0=W0) -> tuple[np.ndarray, list, Any]:
    """Final params, per-step updates and final state, in float32."""
    w = jnp.asarray(w0, jnp.float32)
    state = opt.init(w)
    steps = []
    for g in grads:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, w)
        steps.append(np.asarray(u))
        w = optax.apply_updates(w, u)
    return np.asarray(w), steps, state


def close(got: Any, want: Any, rtol: float = 1e-5) -> None:
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)


def params_per_step(opt: Any, steps: int = 3) -> np.ndarray:
    """Parameters after each of ``steps`` updates on ``SQ_GRADS`` (float32)."""
    params = jnp.asarray(SQ_W0, jnp.float32)
    state = opt.init(params)
    out = []
    for t in range(steps):
        g = jnp.asarray(SQ_GRADS[t], jnp.float32)
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(params))
    return np.stack(out)


def block_updates(block: Any, steps: int = 3) -> np.ndarray:
    """Updates of a bare building block on ``SQ_GRADS``."""
    params = jnp.asarray(SQ_W0, jnp.float32)
    state = block.init(params)
    out = []
    for t in range(steps):
        u, state = block.update(jnp.asarray(SQ_GRADS[t], jnp.float32), state, params)
        out.append(np.asarray(u))
    return np.stack(out)


def root(s: Any, eps: float, eps_in_sqrt: bool) -> Any:
    """The denominator ``sqrt(s + eps)`` or ``sqrt(s) + eps``, in NumPy."""
    return np.sqrt(s + eps) if eps_in_sqrt else np.sqrt(s) + eps


def assert_moment_dtypes(make_block: Any, nu_fields: tuple[str, ...] = ("nu",)) -> None:
    """``mu_dtype``/``nu_dtype`` reach the state; updates keep the params' dtypes.

    float16 rather than bfloat16 for ``mu_dtype``: lrjax._validation.check_dtype
    rejects bfloat16 (np.issubdtype(bfloat16, np.floating) is False); reported.
    """
    params = {"w": jnp.ones((2, 3), jnp.float32), "h": jnp.ones(4, jnp.bfloat16)}
    opt = make_block(mu_dtype=jnp.float16, nu_dtype=jnp.float32)
    state = opt.init(params)
    updates, state = opt.update(params, state)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    want_mu = jax.tree_util.tree_map(lambda p: p.astype(jnp.float16), params)
    want_nu = jax.tree_util.tree_map(lambda p: p.astype(jnp.float32), params)
    chex.assert_trees_all_equal_dtypes(state.mu, want_mu)
    for field in nu_fields:
        chex.assert_trees_all_equal_dtypes(getattr(state, field), want_nu)
    # Default: every buffer takes its parameter's dtype.
    default = make_block().init(params)
    for field in default[1:]:
        chex.assert_trees_all_equal_dtypes(field, params)


def assert_state_dtypes(block: Any, want: dict[str, Any]) -> None:
    """bf16 params and gradients: state fields in ``want``'s dtypes, bf16 updates."""
    params = {"w": jnp.ones((2, 3), jnp.bfloat16)}
    state = block.init(params)
    for _ in range(2):
        updates, state = block.update({"w": jnp.full((2, 3), 0.5, jnp.bfloat16)}, state)
        assert updates["w"].dtype == jnp.bfloat16
        for field, dtype in want.items():
            assert getattr(state, field)["w"].dtype == dtype, field
