"""Shared-test cases for AdaGrad, RMSProp and AdaDelta (see optimizer_case.py)."""

import dataclasses
from typing import Any

from hypothesis import strategies as st
from optimizer_case import OptimizerCase

import lrjax

_unit = st.floats(0.0, 0.999)
_eps = st.floats(1e-10, 1e-3)
_non_negative = st.floats(0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class _DefaultRateCase(OptimizerCase):
    """A case whose ``make()`` leaves ``learning_rate`` at its default (None).

    ``learning_rate`` still holds the rate that default stands for (1.0), so
    the shared tests that pass an explicit rate, or read it back, work as for
    any other case.
    """

    def make(self, learning_rate: Any = None, **overrides: Any):
        kw = {**self.kwargs, **self.lrjax_kwargs, **overrides}
        if learning_rate is None:
            return getattr(lrjax, self.name)(**kw)
        return getattr(lrjax, self.name)(learning_rate=learning_rate, **kw)


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
_RMS_HP = {"decay": _unit, "eps": _eps, "initial_scale": _non_negative}

CASES = [
    OptimizerCase(
        id="adagrad",
        name="adagrad",
        converge_lr=0.5,
        converge_steps=50,
        hyperparams={"initial_accumulator_value": _non_negative, "eps": _eps},
        invalid=(
            ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
            ({"eps": -1e-7}, "eps"),
            ({"eps_in_sqrt": "yes"}, "eps_in_sqrt"),
            ({"nu_dtype": "int32"}, "nu_dtype"),
        ),
    ),
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
        hyperparams={**_RMS_HP, "momentum": _unit},
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
    OptimizerCase(
        id="adadelta",
        name="adadelta",
        kwargs={"weight_decay": 1e-2},
        learning_rate=1.0,
        converge_lr=1.0,
        converge_steps=800,
        hyperparams={
            "rho": _unit,
            "eps": st.floats(1e-8, 1e-3),
            "weight_decay": st.floats(0.0, 0.1),
        },
        invalid=(
            ({"rho": 1.0}, "rho"),
            ({"rho": -0.5}, "rho"),
            ({"eps": 0.0}, "eps"),
            ({"weight_decay": -1e-3}, "weight_decay"),
            ({"nu_dtype": "int32"}, "nu_dtype"),
        ),
    ),
    # lrjax.adadelta(None) is a rate of 1.0 with the descent sign; optax's None
    # climbs the gradient by design, so there is no same-named optax twin
    # (test_adaptive.py compares it with optax.adadelta(1.0) instead).
    _DefaultRateCase(
        id="adadelta_default_rate",
        name="adadelta",
        learning_rate=1.0,
        optax_parity=False,
        converge_lr=None,
        converge_steps=800,
        hyperparams={"rho": _unit},
    ),
]
