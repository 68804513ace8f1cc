"""Shared-test cases for SM3 (see optimizer_case.py); optax's twin.

optax's sm3 rejects complex parameters and fails on 0-d ones (lrjax gives
those Adagrad's per-element accumulator); the shared tests that run optax on
such trees exclude SM3 by name, the complex tests by ``complex_checked``.
"""

from hypothesis import strategies as st
from optimizer_case import OptimizerCase

CASES = [
    # Adagrad-like: the effective rate decays as 1/sqrt(t).
    OptimizerCase(
        id="sm3",
        name="sm3",
        learning_rate=0.1,
        converge_lr=1.0,
        converge_steps=300,
        hyperparams={"momentum": st.floats(0.0, 0.999)},
        invalid=(({"momentum": 1.0}, "momentum"), ({"momentum": -0.1}, "momentum")),
        complex_checked=False,
    ),
    OptimizerCase(
        id="sm3_no_momentum",
        name="sm3",
        kwargs={"momentum": 0.0},
        learning_rate=0.1,
        converge_lr=1.0,
        converge_steps=300,
        complex_checked=False,
    ),
]
