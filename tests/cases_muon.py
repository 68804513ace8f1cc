"""Shared-test cases for Muon against ``optax.contrib.muon`` (see optimizer_case.py)."""

import optax.contrib
from optimizer_case import UNIT, OptimizerCase

CASES = [
    OptimizerCase(
        id="muon",
        name="muon",
        optax_module=optax.contrib,
        # Newton-Schulz mixes every element of a matrix into each step.
        leaf_local=False,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"beta": UNIT, "adam_b1": UNIT, "adam_b2": UNIT},
        invalid=(
            ({"beta": 1.0}, "beta"),
            ({"ns_steps": 0}, "ns_steps"),
            ({"ns_coeffs": (1.0, 2.0)}, "ns_coeffs"),
            ({"ns_coeffs": "polar"}, "ns_coeffs"),
            ({"eps": -1.0}, "eps"),
            ({"preconditioning": "qr"}, "preconditioning"),
            ({"adam_b1": 1.0}, "adam_b1"),
            ({"adam_b2": -0.1}, "adam_b2"),
            ({"adam_eps_root": -1.0}, "adam_eps_root"),
            ({"adam_weight_decay": -1.0}, "adam_weight_decay"),
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"adam_learning_rate": -1.0}, "adam_learning_rate"),
            ({"consistent_rms": -0.2}, "consistent_rms"),
            ({"nesterov": 1}, "nesterov"),
        ),
    ),
    OptimizerCase(
        id="muon_variants",
        name="muon",
        kwargs={
            "nesterov": False,
            "adaptive": True,
            "preconditioning": "schatten",
            "ns_coeffs": "dion",
            # Static (an int): with one coefficient row per step it sets the
            # state's shape, so it cannot be an injected (traced) value.
            "ns_steps": 5,
            "consistent_rms": 0.2,
            "adam_weight_decay": 1e-2,
        },
        optax_module=optax.contrib,
        leaf_local=False,
        parity_steps=20,
        # optax.contrib's Schatten step forms x @ x.T without conjugating:
        # its complex steps are NaN, so there is no complex twin.
        complex_checked=False,
        converge_lr=0.1,
        converge_steps=300,
    ),
]
