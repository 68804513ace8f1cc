"""Shared-test cases for optax.contrib's research optimizers (see optimizer_case.py).

ADOPT, AdEMAMix, simplified AdEMAMix and MADGRAD, each against its
``optax.contrib`` twin of the same name and arguments.
"""

import jax
import jax.numpy as jnp
import optax.contrib
from hypothesis import strategies as st
from optimizer_case import OptimizerCase

import lrjax

_unit = st.floats(0.0, 0.999)


def _separable_objective(params):
    """A loss for any params tree: sum of |x|**2 / 2 + |x|**4 / 20.

    Sophia's estimator differentiates it twice; its Hessian is diagonal
    (``1 + 0.6 x**2`` for real ``x``), so Hutchinson's estimate is exact.
    """
    total = 0.0
    for x in jax.tree_util.tree_leaves(params):
        sq = jnp.real(x * jnp.conj(x)).astype(jnp.float32)
        total = total + jnp.sum(0.5 * sq + 0.05 * sq**2)
    return total


# A pytree-compatible callable, so it passes through jax.jit as an argument.
_OBJ_FN = {"obj_fn": jax.tree_util.Partial(_separable_objective)}

CASES = [
    OptimizerCase(
        id="adopt",
        name="adopt",
        optax_module=optax.contrib,
        zero_first_updates=1,
        # optax.contrib's jnp.clip rejects complex values: no complex twin.
        complex_checked=False,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "eps": st.floats(1e-8, 1e-3)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.5}, "b2"),
            ({"eps": -1e-6}, "eps"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
            ({"nesterov": 1}, "nesterov"),
            ({"use_clipping": "yes"}, "use_clipping"),
            ({"clip_value_fn": -1.0}, "clip_value_fn"),
            ({"clip_value_fn": "sqrt"}, "clip_value_fn"),
        ),
    ),
    OptimizerCase(
        id="adopt_nesterov_unclipped",
        name="adopt",
        kwargs={"nesterov": True, "use_clipping": False, "b2": 0.999},
        optax_module=optax.contrib,
        zero_first_updates=1,
        converge_lr=0.1,
        converge_steps=300,
    ),
]

CASES += [
    OptimizerCase(
        id="ademamix",
        name="ademamix",
        kwargs={"weight_decay": 1e-3},
        optax_module=optax.contrib,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "b3": _unit, "alpha": st.floats(0, 10)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.5}, "b2"),
            ({"b3": 1.5}, "b3"),
            ({"alpha": -1.0}, "alpha"),
            ({"eps": -1e-8}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
            ({"weight_decay": -1.0}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="ademamix_short_b3_f32",
        name="ademamix",
        kwargs={"b3": 0.99, "alpha": 2.0, "mu_dtype": "float32", "eps_root": 1e-8},
        optax_module=optax.contrib,
        # mu_dtype="float32" keeps the moments in float32 under float64 params.
        float64_exact=False,
        converge_lr=0.1,
        converge_steps=300,
    ),
    OptimizerCase(
        id="simplified_ademamix",
        name="simplified_ademamix",
        kwargs={"alpha": 2.0, "weight_decay": 1e-3},
        learning_rate=1e-3,
        optax_module=optax.contrib,
        # optax.contrib squares complex gradients (g * g, not |g|**2): no twin.
        complex_checked=False,
        converge_lr=0.01,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "alpha": st.floats(0, 10)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": 1.0}, "b2"),
            ({"alpha": -1.0}, "alpha"),
            ({"eps": -1e-8}, "eps"),
            ({"eps_root": -1.0}, "eps_root"),
        ),
    ),
]

CASES += [
    OptimizerCase(
        id="madgrad",
        name="madgrad",
        # optax.contrib's cbrt rejects complex values: no complex twin.
        complex_checked=False,
        # optax.contrib computes sqrt(count + 1) in float32, so *it* is off
        # by 5e-9 in float64; lrjax's float64 steps are checked against
        # NumPy instead (test_research.py::test_madgrad_float64).
        float64_exact=False,
        optax_module=optax.contrib,
        state_holds_params=True,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"momentum": _unit, "weight_decay": st.floats(0.0, 0.1)},
        invalid=(
            ({"momentum": 1.0}, "momentum"),
            ({"momentum": -0.1}, "momentum"),
            ({"eps": -1e-6}, "eps"),
            ({"weight_decay": -1.0}, "weight_decay"),
        ),
    ),
    OptimizerCase(
        id="madgrad_decay",
        name="madgrad",
        # optax.contrib's cbrt rejects complex values: no complex twin.
        complex_checked=False,
        # optax.contrib computes sqrt(count + 1) in float32, so *it* is off
        # by 5e-9 in float64; lrjax's float64 steps are checked against
        # NumPy instead (test_research.py::test_madgrad_float64).
        float64_exact=False,
        kwargs={"momentum": 0.5, "weight_decay": 1e-2},
        optax_module=optax.contrib,
        state_holds_params=True,
        converge_lr=0.1,
        converge_steps=300,
    ),
]

CASES += [
    OptimizerCase(
        id="muon",
        name="muon",
        optax_module=optax.contrib,
        # Newton-Schulz mixes every element of a matrix into each step.
        leaf_local=False,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"beta": _unit, "adam_b1": _unit, "adam_b2": _unit},
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

CASES += [
    OptimizerCase(
        id="sophia",
        name="sophia",
        # gamma, b2 and the interval make h large enough that most steps are
        # not clipped on the parity problem (gradients ~ -100).
        kwargs={"gamma": 100.0, "b2": 0.5, "update_interval": 2},
        optax_module=optax.contrib,
        extra_args=_OBJ_FN,
        # optax.contrib's jnp.clip rejects complex values: no complex twin.
        complex_checked=False,
        # |u| ~ |g| / (gamma * h) ~ 0.01 |g| unclipped: a larger rate.
        converge_lr=3.0,
        converge_steps=300,
        hyperparams={"b1": _unit, "b2": _unit, "gamma": st.floats(0.0, 100.0)},
        invalid=(
            ({"b1": 1.0}, "b1"),
            ({"b2": -0.5}, "b2"),
            ({"eps": 0.0}, "eps"),
            ({"gamma": -1.0}, "gamma"),
            ({"clip_threshold": 0.0}, "clip_threshold"),
            ({"update_interval": 0}, "update_interval"),
            ({"update_interval": 2.5}, "update_interval"),
            ({"hessian_diagonal_fn": "hutchinson"}, "hessian_diagonal_fn"),
            ({"verbose": True}, "print_win_rate_every_n_steps"),
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"mu_dtype": "int32"}, "mu_dtype"),
        ),
    ),
    OptimizerCase(
        id="sophia_default",
        name="sophia",
        optax_module=optax.contrib,
        extra_args=_OBJ_FN,
        complex_checked=False,
        converge_lr=0.1,
        converge_steps=300,
    ),
]


def _lrjax_sam(
    learning_rate, rho=0.05, sync_period=2, reset_state=True, opaque_mode=False
):
    """The paper's SAM around Adam: normalised ascent of radius ``rho``."""
    adv = optax.chain(lrjax.normalize(), lrjax.sgd(rho))
    return lrjax.sam(
        lrjax.adam(learning_rate), adv, sync_period, reset_state, opaque_mode
    )


def _optax_sam(
    learning_rate, rho=0.05, sync_period=2, reset_state=True, opaque_mode=False
):
    adv = optax.chain(optax.contrib.normalize(), optax.sgd(rho))
    return optax.contrib.sam(
        optax.adam(learning_rate), adv, sync_period, reset_state, opaque_mode
    )


CASES += [
    OptimizerCase(
        id="sam",
        name="sam",
        # reset_state=False: the adversarial optimizer's counter then counts
        # steps (reset, it restarts at every outer step); the default reset
        # and the opaque mode are checked in test_research.py.
        kwargs={"rho": 0.05, "reset_state": False},
        # Its schedule runs in outer steps (one per sync_period updates), so
        # the rate reported after k updates is the schedule's at k // 2.
        reports_learning_rate=False,
        factory=_lrjax_sam,
        optax_factory=_optax_sam,
        optax_module=optax.contrib,
        # The adversarial direction is normalised by the whole tree's norm.
        leaf_local=False,
        state_holds_params=True,
        converge_lr=0.1,
        converge_steps=300,
        hyperparams={"rho": st.floats(0.0, 1.0)},
        invalid=(
            ({"sync_period": 0}, "sync_period"),
            ({"sync_period": 1.5}, "sync_period"),
            ({"reset_state": 1}, "reset_state"),
        ),
    ),
]
