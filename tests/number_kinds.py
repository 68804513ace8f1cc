"""Problems and comparisons shared by the number-kind tests (lrjax issue 7)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax


def complex_problem():
    """A real loss ``sum |A p - t|**2`` of complex params, far from its optimum.

    The targets are out of reach in 20 steps, so gradients keep their
    direction and optimizers that amplify rounding near an optimum (Adam,
    Lion) stay comparable.
    """
    r = np.random.RandomState(11)

    def cplx(*shape):
        return jnp.asarray(r.rand(*shape) + 1j * r.rand(*shape), jnp.complex64)

    params = {"w": 1.0 + cplx(3), "m": 0.5 + cplx(2, 4)}
    mats = {k: 0.5 + cplx(5, p.size) for k, p in params.items()}
    targets = {k: jnp.full((5,), 100.0 - 50.0j, jnp.complex64) for k in params}

    def loss(p):
        return sum(
            jnp.sum(jnp.abs(mats[k] @ p[k].ravel() - targets[k]) ** 2) for k in p
        )

    def grads(p):
        # jax.grad of a real function of complex inputs is the conjugate of
        # the steepest-ascent direction; optax and lrjax both descend along
        # conj(jax.grad) (optax's complex-number convention).
        return jax.tree_util.tree_map(jnp.conj, jax.grad(loss)(p))

    return params, loss, grads


def per_param_leaves(state, params):
    """The state leaves shaped like a parameter (moments, traces), in order."""
    shapes = {p.shape for p in jax.tree_util.tree_leaves(params)}
    return [
        leaf
        for leaf in jax.tree_util.tree_leaves(state)
        if jnp.ndim(leaf) and jnp.shape(leaf) in shapes
    ]


def run_complex(opt, steps=20, extra=None):
    params, loss, grads = complex_problem()
    state = opt.init(params)
    update = jax.jit(opt.update)
    history = []
    for _ in range(steps):
        u, state = update(grads(params), state, params, **(extra or {}))
        history.append((u, state))
        params = optax.apply_updates(params, u)
    return params, loss, history


# Two units in the last place: the step is computed in float32 and rounded
# once, so it may differ from the rounded float32 step by one ulp.
RTOL = {jnp.float16: 2e-3, jnp.bfloat16: 1.6e-2}


def low_precision_problem(dtype, scale, steps=3):
    r = np.random.RandomState(5)
    params = {
        "w": jnp.asarray(r.randn(3, 4), dtype),
        "b": jnp.asarray(0.5 + r.rand(4), dtype),
    }
    grads = [
        jax.tree_util.tree_map(
            lambda p: jnp.asarray(
                scale * (0.5 + r.rand(*p.shape)) * np.sign(r.randn(*p.shape)), dtype
            ),
            params,
        )
        for _ in range(steps)
    ]
    return params, grads


def to_float32(tree):
    return jax.tree_util.tree_map(
        lambda x: x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) else x,
        tree,
    )


def close_in(dtype, got, want):
    """``got`` equals ``want`` rounded to ``got``'s dtypes, to ``dtype``'s rtol.

    The absolute tolerance is two subnormal steps of each leaf's dtype:
    float16 holds 1e-6 in steps of 6e-8.
    """
    got_leaves, treedef = jax.tree_util.tree_flatten(got)
    want_leaves = treedef.flatten_up_to(want)
    for path_got, w in zip(
        jax.tree_util.tree_flatten_with_path(got)[0], want_leaves, strict=True
    ):
        path, g = path_got
        g = jnp.asarray(g)
        w = jnp.asarray(w).astype(g.dtype)
        tiny = (
            jnp.finfo(g.dtype).smallest_subnormal
            if jnp.issubdtype(g.dtype, jnp.floating)
            else 0
        )
        np.testing.assert_allclose(
            np.asarray(g, np.float32),
            np.asarray(w, np.float32),
            rtol=RTOL[dtype],
            atol=2 * float(tiny),
            err_msg=jax.tree_util.keystr(path),
        )


def complex_grads(steps=5, seed=2):
    """Random complex64 gradients of shape (4,)."""
    r = np.random.RandomState(seed)
    return [
        jnp.asarray(r.randn(4) + 1j * r.randn(4), jnp.complex64) for _ in range(steps)
    ]


# RAdam's float32 r_t: rho_t is ~2000 minus ~2000 (for b2 = 0.999), so float32
# puts it ~2e-4 off, and r_t ~ sqrt(rho_t - 4) amplifies that to ~1e-4 just
# after the switch, whatever the parameters' kind.
RADAM_RTOL = 5e-4
