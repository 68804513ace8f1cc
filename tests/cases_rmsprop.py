"""Shared-test cases for RMSProp, plain, centered and with momentum (see
optimizer_case.py).
"""

from hypothesis import strategies as st
from optimizer_case import EPS, UNIT, OptimizerCase

_non_negative = st.floats(0.0, 1.0)

_RMS_INVALID = (
    ({"decay": 1.0}, "decay"),
    ({"decay": -0.1}, "decay"),
    ({"eps": -1e-8}, "eps"),
    ({"initial_scale": -1.0}, "initial_scale"),
    ({"eps_in_sqrt": 1}, "eps_in_sqrt"),
    ({"bias_correction": "no"}, "bias_correction"),
    ({"centered": "yes"}, "centered"),
    ({"nu_dtype": "int32"}, "nu_dtype"),
    ({"mu_dtype": "int32"}, "mu_dtype"),
)
_RMS_HP = {"decay": UNIT, "eps": EPS, "initial_scale": _non_negative}

CASES = [
    OptimizerCase(
        id="rmsprop",
        name="rmsprop",
        converge_lr=0.05,
        converge_steps=100,
        hyperparams=_RMS_HP,
        invalid=(*_RMS_INVALID, ({"nesterov": True}, "nesterov")),
    ),
    OptimizerCase(
        id="rmsprop_centered",
        name="rmsprop",
        kwargs={"centered": True},
        converge_lr=0.05,
        converge_steps=100,
        hyperparams=_RMS_HP,
    ),
    OptimizerCase(
        id="rmsprop_momentum_nesterov",
        name="rmsprop",
        kwargs={"momentum": 0.9, "nesterov": True},
        converge_lr=0.01,
        converge_steps=100,
        hyperparams={**_RMS_HP, "momentum": UNIT},
        invalid=(({"momentum": 1.5}, "momentum"), ({"momentum": -0.1}, "momentum")),
    ),
    OptimizerCase(
        id="rmsprop_eps_outside",
        name="rmsprop",
        kwargs={"eps_in_sqrt": False},
        converge_lr=0.05,
        converge_steps=100,
        hyperparams=_RMS_HP,
    ),
    OptimizerCase(
        id="rmsprop_bias_correction",
        name="rmsprop",
        kwargs={"bias_correction": True, "decay": 0.99},
        converge_lr=0.05,
        converge_steps=150,
        hyperparams=_RMS_HP,
    ),
]
