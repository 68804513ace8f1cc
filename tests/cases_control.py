"""Shared-test cases for hypergradient descent, Mechanic and the controllers.

Hypergradient descent takes a starting rate, not a schedule
(``takes_schedule=False``); with ``hypergrad_lr=0`` it is SGD/Adam at a fixed
rate, its optax parity. ``mechanize`` wraps ``lrjax.sgd`` (parity:
``optax.contrib.mechanize(optax.sgd)``, 20 steps as for the other
learning-rate-free methods). The controllers are chained after an optimizer,
as documented, and get ``value=`` on every update (``extra_args``; the loss
itself in the parity and convergence runs). ``reduce_on_plateau(patience=p)``
reduces one decision later than optax.contrib's (PyTorch's rule), so its
twin is optax's with ``patience=p + 1``; ``rtol=0.01`` makes the parity run's
slowly falling loss a plateau, so the reductions are compared. The averaging
blocks leave the updates unchanged: their twin is the bare optax optimizer.
``stale_gradients`` around a staleness-aware SGD is ``optax.sgd`` with
``max_delay=0``; with a delay its reference is the NumPy one in
``test_number_kinds.py``. Its ring buffers hold gradients, not moments: a
Python-scalar gradient leaf leaves as a float32 scalar, as from plain SGD.
"""

import inspect

import optax
import optax.contrib
from hypothesis import strategies as st
from optimizer_case import OptimizerCase

import lrjax


def _after(optimizer, controller):
    """``factory(learning_rate, **controller_kwargs)``: controller chained last.

    Carries the controller's signature (plus ``learning_rate``) so that
    ``optax.inject_hyperparams`` can bind its arguments.
    """

    def factory(learning_rate, **kwargs):
        return optax.chain(optimizer(learning_rate), controller(**kwargs))

    sig = inspect.signature(controller)
    lr = inspect.Parameter("learning_rate", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    factory.__signature__ = sig.replace(parameters=[lr, *sig.parameters.values()])
    return factory


def _mechanized_sgd(
    learning_rate, weight_decay=1e-2, eps=1e-8, s_init=1e-6, num_betas=6
):
    return lrjax.mechanize(
        lrjax.sgd(learning_rate),
        weight_decay=weight_decay,
        eps=eps,
        s_init=s_init,
        num_betas=num_betas,
    )


def _optax_mechanized_sgd(learning_rate, **kwargs):
    return optax.contrib.mechanize(optax.sgd(learning_rate), **kwargs)


def _optax_adamw_then_plateau(learning_rate, patience=10, **kwargs):
    return optax.chain(
        optax.adamw(learning_rate),
        optax.contrib.reduce_on_plateau(patience=patience + 1, **kwargs),
    )


def _stale_sgd(learning_rate, max_delay=2):
    """SGD fed gradients ``max_delay`` steps old, at the staleness-aware rate."""
    return lrjax.stale_gradients(
        lrjax.staleness_aware(lrjax.sgd(learning_rate)), max_delay
    )


_VALUE = {"value": 1.0}

CASES = [
    OptimizerCase(
        id="stale_sgd_fresh",
        name="stale_gradients",
        factory=_stale_sgd,
        kwargs={"max_delay": 0},
        learning_rate=1e-2,
        optax_factory=lambda learning_rate, max_delay: optax.sgd(learning_rate),
        optax_state_twin=False,
        scalar_leaf_takes_state_dtype=False,
        converge_lr=0.1,
        converge_steps=100,
        invalid=(({"max_delay": -1}, "max_delay"), ({"max_delay": 1.5}, "max_delay")),
    ),
    OptimizerCase(
        id="stale_sgd_delay2",
        name="stale_gradients",
        factory=_stale_sgd,
        kwargs={"max_delay": 2},
        learning_rate=1e-2,
        optax_parity=False,
        reports_learning_rate=False,
        scalar_leaf_takes_state_dtype=False,
        converge_lr=0.1,
        converge_steps=400,
        hyperparams={"max_delay": st.integers(0, 4)},
    ),
    OptimizerCase(
        id="sgd_hd",
        complex_checked=False,
        name="sgd_hd",
        kwargs={"hypergrad_lr": 1e-3, "momentum": 0.9},
        learning_rate=1e-2,
        optax_parity=False,
        takes_schedule=False,
        has_step_count=False,
        reports_learning_rate=False,
        leaf_local=False,
        float64_exact=False,
        converge_lr=0.05,
        converge_steps=200,
        hyperparams={
            "hypergrad_lr": st.floats(0.0, 1e-3),
            "momentum": st.floats(0.0, 0.99),
        },
        invalid=(
            ({"hypergrad_lr": -1.0}, "hypergrad_lr"),
            ({"hypergrad_lr": lambda s: 0.1}, "hypergrad_lr"),
            ({"momentum": 1.5}, "momentum"),
        ),
    ),
    OptimizerCase(
        id="sgd_hd_frozen",
        name="sgd_hd",
        kwargs={"hypergrad_lr": 0.0},
        learning_rate=1e-2,
        optax_factory=lambda learning_rate, hypergrad_lr: optax.sgd(learning_rate),
        optax_state_twin=False,
        takes_schedule=False,
        has_step_count=False,
        leaf_local=False,
        float64_exact=False,
        converge_lr=0.1,
        converge_steps=100,
    ),
    OptimizerCase(
        id="adam_hd",
        complex_checked=False,
        name="adam_hd",
        kwargs={"hypergrad_lr": 1e-4},
        learning_rate=1e-2,
        optax_parity=False,
        takes_schedule=False,
        reports_learning_rate=False,
        leaf_local=False,
        float64_exact=False,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"hypergrad_lr": st.floats(0.0, 1e-4), "b1": st.floats(0.0, 0.999)},
        invalid=(
            ({"hypergrad_lr": -1.0}, "hypergrad_lr"),
            ({"b2": 1.0}, "b2"),
            ({"eps": -1.0}, "eps"),
        ),
    ),
    OptimizerCase(
        id="adam_hd_frozen",
        name="adam_hd",
        kwargs={"hypergrad_lr": 0.0},
        learning_rate=1e-2,
        optax_factory=lambda learning_rate, hypergrad_lr: optax.adam(learning_rate),
        optax_state_twin=False,
        takes_schedule=False,
        leaf_local=False,
        float64_exact=False,
        converge_lr=0.1,
        converge_steps=300,
    ),
    OptimizerCase(
        id="mechanize_sgd",
        name="mechanize",
        # An int: static under inject_hyperparams (it sets the state's shape).
        kwargs={"num_betas": 6, "s_init": 1e-2},
        learning_rate=1e-2,
        factory=_mechanized_sgd,
        optax_factory=_optax_mechanized_sgd,
        complex_checked=False,
        parity_steps=20,
        reports_learning_rate=False,
        leaf_local=False,
        state_holds_params=True,
        float64_exact=False,
        converge_lr=1.0,
        converge_steps=300,
        hyperparams={"weight_decay": st.floats(0.0, 0.1)},
        invalid=(
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"eps": 0.0}, "eps"),
            ({"s_init": 0.0}, "s_init"),
            ({"num_betas": 0}, "num_betas"),
        ),
    ),
    OptimizerCase(
        id="adamw_reduce_on_plateau",
        name="reduce_on_plateau",
        kwargs={"factor": 0.5, "patience": 2, "rtol": 1e-2},
        learning_rate=1e-2,
        factory=_after(lrjax.adamw, lrjax.reduce_on_plateau),
        optax_factory=_optax_adamw_then_plateau,
        parity_steps=30,
        extra_args=_VALUE,
        resetting_counts=1,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"factor": st.floats(0.01, 0.99), "rtol": st.floats(0.0, 1.0)},
        invalid=(
            ({"factor": 1.0}, "factor"),
            ({"patience": -1}, "patience"),
            ({"rtol": 2.0}, "rtol"),
            ({"atol": -1.0}, "atol"),
            ({"accumulation_size": 0}, "accumulation_size"),
            ({"mode": "up"}, "mode"),
        ),
    ),
    OptimizerCase(
        id="adamw_loss_adaptive_scale",
        complex_checked=False,
        name="loss_adaptive_scale",
        learning_rate=1e-2,
        factory=_after(lrjax.adamw, lrjax.loss_adaptive_scale),
        optax_parity=False,
        extra_args=_VALUE,
        float64_exact=False,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={
            "increase": st.floats(1.0, 2.0),
            "decrease": st.floats(0.1, 1.0),
        },
        invalid=(
            ({"increase": 0.5}, "increase"),
            ({"decrease": 0.0}, "decrease"),
            ({"min_scale": 0.0}, "min_scale"),
            ({"max_scale": 0.5}, "max_scale"),
            ({"tolerance": -1.0}, "tolerance"),
        ),
    ),
    OptimizerCase(
        id="sgd_ema_params",
        name="ema_params",
        kwargs={"decay": 0.9},
        learning_rate=1e-2,
        factory=_after(lrjax.sgd, lrjax.ema_params),
        scalar_leaf_takes_state_dtype=False,
        optax_factory=lambda learning_rate, decay: optax.sgd(learning_rate),
        optax_state_twin=False,
        state_holds_params=True,
        converge_lr=0.1,
        converge_steps=100,
        hyperparams={"decay": st.floats(0.0, 1.0)},
        invalid=(
            ({"decay": 1.5}, "decay"),
            ({"accumulator_dtype": "int32"}, "accumulator_dtype"),
        ),
    ),
    OptimizerCase(
        id="adam_polyak_averaging",
        name="polyak_averaging",
        kwargs={"start_step": 2},
        learning_rate=1e-2,
        factory=_after(lrjax.adam, lrjax.polyak_averaging),
        optax_factory=lambda learning_rate, start_step: optax.adam(learning_rate),
        optax_state_twin=False,
        state_holds_params=True,
        converge_lr=0.1,
        converge_steps=300,
        invalid=(
            ({"start_step": -1}, "start_step"),
            ({"start_step": 1.5}, "start_step"),
        ),
    ),
]
