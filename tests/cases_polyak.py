"""Shared-test cases for SGD with Polyak's step size (see optimizer_case.py).

``polyak_sgd`` takes no ``learning_rate``: the cases build it with the
shared tests' rate as its ``scaling`` (``factory``). Its update needs the
loss (``extra_args={"value": ...}``; the training tests pass the current
loss). It reports the step size it chose (``reports_learning_rate=False``)
and normalises by the whole tree's gradient norm (``leaf_local=False``).
Parity with optax holds at ``scaling = 1`` only (see ``polyak_sgd``):
the cases with another scaling are checked against the formula in
test_polyak.py.
"""

import numpy as np
import optax
from hypothesis import strategies as st
from number_kinds import complex_problem
from optimizer_case import OptimizerCase

import lrjax
from lrjax import _validation


def polyak_sgd_scaled(
    learning_rate, max_learning_rate=1.0, f_min=0.0, eps=0.0, variant="sps"
):
    """``lrjax.polyak_sgd`` with the shared tests' rate as its ``scaling``.

    The shared negative-rate test looks for the name the case's rate has
    here, ``learning_rate``; polyak_sgd's own check, which names
    ``scaling``, is tested in test_polyak.py.
    """
    _validation.check_learning_rate("learning_rate", learning_rate)
    return lrjax.polyak_sgd(max_learning_rate, learning_rate, f_min, eps, variant)


def polyak_complex_reference(case, steps=20):
    """NumPy complex SGD with Polyak's step, ``value`` the case's constant."""
    kw = {**case.kwargs, **case.lrjax_kwargs}
    gmax, f_min = kw.get("max_learning_rate", 1.0), kw.get("f_min", 0.0)
    eps, plus = kw.get("eps", 0.0), kw.get("variant", "sps") == "sps+"
    value, s = case.extra_args["value"], case.learning_rate
    params, _, grads = complex_problem()
    p = {k: np.asarray(v, np.complex128) for k, v in params.items()}
    out = []
    for _ in range(steps):
        g = {k: np.asarray(x, np.complex128) for k, x in grads(p).items()}
        sq = sum(np.sum(np.abs(x) ** 2) for x in g.values())
        gap = max(value - f_min, 0.0) if plus else value - f_min
        gamma = s * min(gap / (sq + eps), gmax)
        u = {k: -gamma * g[k] for k in p}
        out.append((u, []))
        p = {k: p[k] + u[k] for k in p}
    return out


def optax_polyak_sgd_scaled(
    learning_rate, max_learning_rate=1.0, f_min=0.0, eps=0.0, variant="sps"
):
    return optax.polyak_sgd(max_learning_rate, learning_rate, f_min, eps, variant)


_COMMON = {
    "name": "polyak_sgd",
    "factory": polyak_sgd_scaled,
    "optax_factory": optax_polyak_sgd_scaled,
    "extra_args": {"value": 1.0},
    "reports_learning_rate": False,
    "leaf_local": False,
    "has_tree_state": False,
}

CASES = [
    # The far quadratic's loss is ~1e5: the cap decides every step there.
    OptimizerCase(
        id="polyak_sgd",
        learning_rate=1.0,
        kwargs={"max_learning_rate": 0.05},
        converge_lr=1.0,
        converge_steps=100,
        hyperparams={
            "max_learning_rate": st.floats(0.0, 10.0),
            "f_min": st.floats(-10.0, 0.0),
            "eps": st.floats(0.0, 1.0),
        },
        invalid=(
            ({"max_learning_rate": -1.0}, "max_learning_rate"),
            ({"eps": -1e-3}, "eps"),
            ({"variant": "sgd"}, "variant"),
            ({"f_min": float("nan")}, "f_min"),
        ),
        **_COMMON,
    ),
    # A large cap and an eps: the Polyak ratio itself decides the steps. It
    # reaches the optimum within 20 steps, where steps amplify rounding
    # (5e-4 apart from optax at 200 steps): parity over 20 steps.
    OptimizerCase(
        id="polyak_sgd_plus",
        learning_rate=1.0,
        parity_steps=20,
        kwargs={
            "max_learning_rate": 10.0,
            "eps": 1e-3,
            "variant": "sps+",
            "f_min": -1.0,
        },
        converge_lr=1.0,
        converge_steps=100,
        **_COMMON,
    ),
    OptimizerCase(
        id="polyak_sgd_scaling_half",
        learning_rate=0.5,
        optax_parity=False,
        converge_lr=0.5,
        converge_steps=200,
        **_COMMON,
    ),
]
