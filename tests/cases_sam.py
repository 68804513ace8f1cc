"""Shared-test cases for SAM against ``optax.contrib.sam`` (see optimizer_case.py)."""

import optax
import optax.contrib
from hypothesis import strategies as st
from optimizer_case import OptimizerCase

import lrjax


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


CASES = [
    OptimizerCase(
        id="sam",
        name="sam",
        # reset_state=False: the adversarial optimizer's counter then counts
        # steps (reset, it restarts at every outer step); the default reset
        # and the opaque mode are checked in test_sam.py.
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
