"""Shared-test cases for the optimistic methods (see optimizer_case.py).

``optimistic_adam`` takes a constant rate only, as optax's
(``takes_schedule=False``), and its rate is a weight of the optimistic
block, so it reports the global factor 1 (``reports_learning_rate=False``);
``optimistic_adam_v2`` reports its rate. Optimistic gradient descent's step
``2 g_t - g_{t-1}`` is twice SGD's: at 1e-2 it diverges on the complex
test problem, so its cases use 1e-3.
"""

from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

_weight = st.floats(0.0, 2.0)

CASES = [
    OptimizerCase(
        id="optimistic_gradient_descent",
        name="optimistic_gradient_descent",
        learning_rate=1e-3,
        converge_lr=0.1,
        converge_steps=200,
        hyperparams={"alpha": _weight, "beta": _weight},
        invalid=(
            ({"alpha": -1.0}, "alpha"),
            ({"beta": -0.5}, "beta"),
            ({"alpha": lambda t: 1.0}, "alpha"),
        ),
    ),
    OptimizerCase(
        id="optimistic_gradient_descent_weighted",
        name="optimistic_gradient_descent",
        kwargs={"alpha": 0.5, "beta": 0.3},
        learning_rate=1e-3,
        converge_lr=0.2,
        converge_steps=200,
    ),
    OptimizerCase(
        id="optimistic_adam",
        name="optimistic_adam",
        learning_rate=1e-2,
        takes_schedule=False,
        reports_learning_rate=False,
        converge_lr=0.05,
        converge_steps=300,
        hyperparams={"b1": UNIT, "b2": UNIT},
        invalid=(
            ({"optimism": -1.0}, "optimism"),
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.1}, "b2"),
            ({"eps": -1.0}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
            ({"nesterov": 1}, "nesterov"),
            ({"learning_rate": lambda t: 0.1}, "learning_rate"),
        ),
    ),
    OptimizerCase(
        id="optimistic_adam_plain_momentum",
        name="optimistic_adam",
        kwargs={"optimism": 0.005, "nesterov": False},
        learning_rate=1e-2,
        takes_schedule=False,
        reports_learning_rate=False,
        converge_lr=0.05,
        converge_steps=300,
        hyperparams={"optimism": st.floats(0.0, 0.01)},
    ),
    OptimizerCase(
        id="optimistic_adam_v2",
        name="optimistic_adam_v2",
        kwargs={"alpha": 1.0, "beta": 0.5},
        learning_rate=1e-2,
        converge_lr=0.05,
        converge_steps=300,
        hyperparams={"alpha": _weight, "beta": _weight, "b1": UNIT},
        invalid=(({"alpha": -1.0}, "alpha"), ({"b2": 1.0}, "b2")),
    ),
]
