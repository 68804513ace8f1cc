"""Shared-test cases for AdaDelta (see optimizer_case.py)."""

import dataclasses
from typing import Any

from hypothesis import strategies as st
from optimizer_case import UNIT, OptimizerCase

import lrjax


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


CASES = [
    OptimizerCase(
        id="adadelta",
        name="adadelta",
        kwargs={"weight_decay": 1e-2},
        learning_rate=1.0,
        converge_lr=1.0,
        converge_steps=800,
        hyperparams={
            "rho": UNIT,
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
    # (test_adadelta.py compares it with optax.adadelta(1.0) instead).
    _DefaultRateCase(
        id="adadelta_default_rate",
        name="adadelta",
        learning_rate=1.0,
        optax_parity=False,
        converge_lr=None,
        converge_steps=800,
        hyperparams={"rho": UNIT},
    ),
]
