"""Adamax and AdamaxW (Kingma & Ba, 2015, section 7.1) against the paper.

Each reference is a few lines of float64 NumPy transcribing the paper's
algorithm; none calls lrjax or optax.
"""

from __future__ import annotations

import numpy as np
import pytest
import references
from fixed_gradients import GRADS, W0, assert_moment_dtypes, close, run_lrjax

import lrjax


def adamax_reference(lr, b1, b2, eps, wd=0.0):
    return references.run(references.Adamax(lr, b1, b2, eps, wd), GRADS, W0)[0]


@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_adamax(eps):
    # eps=0 is the paper's rule exactly; eps=0.5 pins down where eps goes.
    got, _, _ = run_lrjax(lrjax.adamax(0.1, 0.8, 0.95, eps))
    close(got, adamax_reference(0.1, 0.8, 0.95, eps))


def test_adamaxw():
    got, _, _ = run_lrjax(lrjax.adamaxw(0.1, weight_decay=0.3))
    close(got, adamax_reference(0.1, 0.9, 0.999, 1e-8, wd=0.3))


def test_adamax_zero_gradients_give_zero_updates():
    opt = lrjax.adamax(0.1)
    _, steps, _ = run_lrjax(opt, [np.zeros(3)] * 2)
    np.testing.assert_array_equal(steps[-1], np.zeros(3))


def test_moment_dtypes_are_honoured():
    assert_moment_dtypes(lrjax.scale_by_adamax)
