"""NAdam and NAdamW (Dozat, 2016) against the paper's update rule.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm in optax's
constant-b1 form; none calls lrjax or optax.
"""

from __future__ import annotations

import references
from fixed_gradients import GRADS, W0, close, run_lrjax

import lrjax


def nadam_reference(lr, b1, b2, eps, wd=0.0, nesterov=True):
    ref = references.Adam(lr, b1, b2, eps, weight_decay=wd, nesterov=nesterov)
    return references.run(ref, GRADS, W0)[0]


def test_nadam():
    got, _, _ = run_lrjax(lrjax.nadam(0.1, 0.8, 0.95, 1e-3))
    close(got, nadam_reference(0.1, 0.8, 0.95, 1e-3))


def test_nadam_without_nesterov_is_adam():
    got, _, _ = run_lrjax(lrjax.nadam(0.1, nesterov=False))
    close(got, nadam_reference(0.1, 0.9, 0.999, 1e-8, nesterov=False))


def test_nadamw():
    got, _, _ = run_lrjax(lrjax.nadamw(0.1, weight_decay=0.3))
    close(got, nadam_reference(0.1, 0.9, 0.999, 1e-8, wd=0.3))
