"""Shared-test cases for layer-wise DoG (scale_by_distance_over_gradients).

optax has the block but no optimizer around it: both sides chain it with
``scale_by_learning_rate`` (a rate of 1 is the paper's method). The state
keeps the initial parameters (``state_holds_params``). optax's complex
steps are wrong (it squares complex gradients and drops the imaginary part
of the initial values), so the complex check is the NumPy reference
``ldog_complex_reference`` (registered in test_number_kinds.py).
"""

import numpy as np
import optax
from hypothesis import strategies as st
from number_kinds import complex_problem
from optimizer_case import OptimizerCase

import lrjax


def ldog(learning_rate, reps_rel=1e-6, eps=1e-8, global_scale=1.0):
    return lrjax.chain(
        lrjax.scale_by_distance_over_gradients(
            reps_rel, eps, global_scale=global_scale
        ),
        lrjax.scale_by_learning_rate(learning_rate),
    )


def optax_ldog(learning_rate, reps_rel=1e-6, eps=1e-8, global_scale=1.0):
    return optax.chain(
        optax.scale_by_distance_over_gradients(
            reps_rel, eps, global_scale=global_scale
        ),
        optax.scale_by_learning_rate(learning_rate),
    )


def ldog_complex_reference(case, steps=20):
    """NumPy complex LDoG in float64: per-leaf ``r_bar / sqrt(G + eps)``."""
    kw = {**case.kwargs, **case.lrjax_kwargs}
    reps, eps = kw.get("reps_rel", 1e-6), kw.get("eps", 1e-8)
    scale, lr = kw.get("global_scale", 1.0), case.learning_rate
    params, _, grads = complex_problem()
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    p0 = {k: v.copy() for k, v in p.items()}
    d = {k: reps * (1 + np.linalg.norm(v)) for k, v in p.items()}
    gsos = {k: 0.0 for k in p}
    out = []
    for _ in range(steps):
        g = {k: np.asarray(x, np.complex128) for k, x in grads(p).items()}
        u = {}
        for k in p:
            d[k] = max(d[k], np.linalg.norm(p[k] - p0[k]))
            gsos[k] += np.sum(np.abs(g[k]) ** 2)
            u[k] = -lr * scale * d[k] / np.sqrt(gsos[k] + eps) * g[k]
        out.append((u, [p0["m"], p0["w"]]))
        p = {k: p[k] + u[k] for k in p}
    return out


CASES = [
    OptimizerCase(
        id="distance_over_gradients",
        name="scale_by_distance_over_gradients",
        factory=ldog,
        optax_factory=optax_ldog,
        kwargs={"reps_rel": 1e-3},
        learning_rate=1.0,
        state_holds_params=True,
        # optax keeps a real copy of complex initial values (it casts them to
        # its real param_dtype): the complex states differ.
        optax_state_twin=False,
        # The initial values are kept in param_dtype, float32 by default (as
        # in optax), so float64 parameters get float32 distances.
        float64_exact=False,
        converge_lr=1.0,
        converge_steps=300,
        hyperparams={"reps_rel": st.floats(1e-8, 1e-2), "eps": st.floats(0.0, 1e-4)},
        invalid=(
            ({"reps_rel": 0.0}, "reps_rel"),
            ({"eps": -1.0}, "eps"),
            ({"global_scale": float("nan")}, "global_scale"),
        ),
    ),
]
