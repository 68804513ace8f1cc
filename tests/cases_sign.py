"""Shared-test cases for signSGD, Signum and Rprop (see optimizer_case.py).

signSGD and Signum move every coordinate by exactly ``lr``, so with a
constant rate they circle the optimum; their convergence cases use a
cosine-decayed rate, as Lion's do. Rprop takes an initial step size, not a
schedule (``takes_schedule=False``), and reports the global factor 1 rather
than its per-element step sizes (``reports_learning_rate=False``).

optax 0.2.8's Rprop returns each update one step late (the first one 0;
optax pull request 1725). Its twin here is optax's own ``scale_by_rprop``
with the update it has just computed and stored (``prev_updates``) read
back, negated: optax's step-size arithmetic, without the lag. optax's
comparisons of complex numbers fail, so Rprop's complex check is the NumPy
reference ``rprop_complex_reference`` (registered in test_number_kinds.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from hypothesis import strategies as st
from number_kinds import complex_problem
from optimizer_case import OptimizerCase


def _cosine(peak, steps):
    """``peak * (1 + cos(pi * t / steps)) / 2``, 0 from ``steps`` on."""

    def schedule(t):
        frac = jnp.minimum(jnp.asarray(t, jnp.float32), steps) / steps
        return peak * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))

    return schedule


def optax_rprop_without_lag(learning_rate, **kwargs):
    """optax's ``scale_by_rprop``, returning the update it stores, negated."""
    inner = optax.scale_by_rprop(learning_rate, **kwargs)

    def update_fn(updates, state, params=None, **extra):
        del extra
        _, state = inner.update(updates, state, params)
        return jax.tree_util.tree_map(jnp.negative, state.prev_updates), state

    return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def rprop_complex_reference(case, steps=20):
    """NumPy iRprop- on complex params, real and imaginary parts separately.

    Returns ``[(updates, [step sizes and previous updates of "m", "w"]), ...]``
    in the state's leaf order, complex step sizes holding the real part's in
    their real part and the imaginary part's in their imaginary part.
    """
    kw = {**case.kwargs, **case.lrjax_kwargs}
    em, ep = kw.get("eta_minus", 0.5), kw.get("eta_plus", 1.2)
    lo, hi = kw.get("min_step_size", 1e-6), kw.get("max_step_size", 50.0)
    params, _, grads = complex_problem()
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    parts = ("real", "imag")
    delta = {
        (k, a): np.full(x.shape, case.learning_rate)
        for k, x in p.items()
        for a in parts
    }
    prev = {(k, a): np.zeros(x.shape) for k, x in p.items() for a in parts}
    out = []
    for _ in range(steps):
        g = {k: np.asarray(x, np.complex128) for k, x in grads(p).items()}
        for k in p:
            for a in parts:
                gk = getattr(g[k], a)
                s = gk * prev[k, a]
                d = delta[k, a]
                d = np.where(s > 0, np.minimum(d * ep, hi), d)
                d = np.where(s < 0, np.maximum(d * em, lo), d)
                delta[k, a] = d
                prev[k, a] = np.where(s < 0, 0.0, d * np.sign(gk))
        u = {k: -(prev[k, "real"] + 1j * prev[k, "imag"]) for k in p}
        both = {k: (delta[k, "real"] + 1j * delta[k, "imag"]) for k in p}
        ups = {k: -u[k] for k in p}
        out.append((u, [both["m"], both["w"], ups["m"], ups["w"]]))
        p = {k: p[k] + u[k] for k in p}
    return out


CASES = [
    OptimizerCase(
        id="sign_sgd",
        name="sign_sgd",
        learning_rate=1e-2,
        has_tree_state=False,
        converge_lr=_cosine(0.05, 200),
        converge_steps=200,
        invalid=(({"learning_rate": -1e-2}, "learning_rate"),),
    ),
    OptimizerCase(
        id="signum",
        name="signum",
        learning_rate=1e-2,
        converge_lr=_cosine(0.05, 200),
        converge_steps=200,
        hyperparams={"beta": st.floats(0.0, 0.999)},
        invalid=(
            ({"beta": 1.0}, "beta"),
            ({"beta": -0.1}, "beta"),
            ({"accumulator_dtype": "int32"}, "accumulator_dtype"),
        ),
    ),
    OptimizerCase(
        id="signum_float16_ema",
        name="signum",
        kwargs={"beta": 0.5, "accumulator_dtype": jnp.float16},
        learning_rate=1e-2,
        converge_lr=_cosine(0.05, 200),
        converge_steps=200,
    ),
    OptimizerCase(
        id="rprop",
        name="rprop",
        learning_rate=1e-2,
        optax_factory=optax_rprop_without_lag,
        takes_schedule=False,
        reports_learning_rate=False,
        converge_lr=0.1,
        converge_steps=100,
        hyperparams={
            "eta_minus": st.floats(0.1, 1.0),
            "eta_plus": st.floats(1.0, 2.0),
            "min_step_size": st.floats(0.0, 1e-3),
            "max_step_size": st.floats(1.0, 100.0),
        },
        invalid=(
            ({"learning_rate": -1.0}, "learning_rate"),
            ({"eta_minus": 0.0}, "eta_minus"),
            ({"eta_minus": 1.5}, "eta_minus"),
            ({"eta_plus": 0.9}, "eta_plus"),
            ({"min_step_size": -1.0}, "min_step_size"),
            ({"max_step_size": 0.0}, "max_step_size"),
            ({"min_step_size": 2.0, "max_step_size": 1.0}, "max_step_size"),
        ),
    ),
    # Narrow bounds, so that clipping at both ends is exercised.
    OptimizerCase(
        id="rprop_bounded",
        name="rprop",
        kwargs={
            "eta_minus": 0.3,
            "eta_plus": 1.5,
            "min_step_size": 1e-3,
            "max_step_size": 0.05,
        },
        learning_rate=1e-2,
        optax_factory=optax_rprop_without_lag,
        takes_schedule=False,
        reports_learning_rate=False,
        converge_lr=0.02,
        converge_steps=200,
    ),
]
