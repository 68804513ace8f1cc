"""Checkpoints resume exactly: stop at step k, save, restore, continue, compare.

For every optimizer of the case-driven suite the state ``(params, opt_state)``
saved at step ``SAVE_AT`` goes through orbax (restored into the abstract
``eval_shape`` target) and through Flax's msgpack serialization (restored
into ``opt.init(params)``); the continuation to ``TOTAL`` must equal the
uninterrupted run bit for bit (``==``), as must every restored leaf, its
dtype and the tree structure. A schedule-driven, a plateau-controlled and an
8-way sharded state are also restored in a fresh process
(``checkpoint_resume_runs.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from checkpoint_resume_runs import (
    FRESH_PROCESS_RUNS,
    SAVE_AT,
    TOTAL,
    abstract_checkpoint,
    leaves,
    shardings,
    small_params,
    train_fn,
)
from flax import serialization
from optimizer_case import all_cases

import lrjax

CASES = all_cases()
ROOT = Path(__file__).resolve().parents[1]


def _case_run(case):
    """The case's optimizer (under a schedule where it takes one) and its run."""
    schedule = lrjax.cosine_decay_schedule(case.learning_rate, TOTAL, alpha=0.1)
    opt = case.make(case.rate(schedule))
    make_params = case.params_for_variants or small_params
    run = train_fn(opt, extra=case.extra)
    return opt, make_params, run


def _assert_same(got, want):
    """Same structure, dtypes and bits."""
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    for a, b in zip(leaves(got), leaves(want), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def _interrupted(case):
    opt, make_params, run = _case_run(case)
    params = make_params()
    start = (params, opt.init(params))
    saved = run(*start, 0, SAVE_AT)
    uninterrupted = run(*start, 0, TOTAL)
    for leaf in leaves(uninterrupted):
        assert np.all(np.isfinite(leaf))
    # The run actually moved past the checkpoint (else == proves nothing).
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(leaves(saved[0]), leaves(uninterrupted[0]), strict=True)
    )
    return opt, make_params, run, saved, uninterrupted


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=str)
def test_orbax_and_msgpack_restores_continue_bit_identically(case, tmp_path):
    opt, make_params, run, saved, uninterrupted = _interrupted(case)

    # orbax, into the abstract target (no values: shapes, dtypes, structure).
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", {"params": saved[0], "opt_state": saved[1]})
    checkpointer.wait_until_finished()
    restored = checkpointer.restore(
        tmp_path / "ckpt", abstract_checkpoint(opt, make_params, sharded=False)
    )
    restored = (restored["params"], restored["opt_state"])
    _assert_same(restored, saved)
    _assert_same(run(*restored, SAVE_AT, TOTAL), uninterrupted)

    # Flax msgpack, into a freshly initialized state as the template.
    params = make_params()
    template = (params, opt.init(params))
    restored = serialization.from_bytes(template, serialization.to_bytes(saved))
    _assert_same(restored, saved)
    _assert_same(run(*restored, SAVE_AT, TOTAL), uninterrupted)


def test_fresh_process_restores_schedule_plateau_and_sharded_states(tmp_path):
    checkpointer = ocp.StandardCheckpointer()
    expected = {}
    for name, make in FRESH_PROCESS_RUNS.items():
        opt, make_params, run = make()
        params = make_params()
        state = jax.jit(opt.init)(params)
        saved = run(params, state, 0, SAVE_AT)
        final = run(params, state, 0, TOTAL)
        checkpointer.save(tmp_path / name, {"params": saved[0], "opt_state": saved[1]})
        checkpointer.wait_until_finished()
        for i, leaf in enumerate(leaves(final)):
            expected[f"{name}/leaf{i}"] = leaf
        expected[f"{name}/learning_rate"] = np.asarray(
            lrjax.get_learning_rate(final[1])
        )
        if name == "plateau":
            # The scale fell before the checkpoint and again after it.
            scale = lambda s: float(s[1].learning_rate_scale)  # noqa: E731
            assert scale(saved[1]) < 1.0 and scale(final[1]) < scale(saved[1])
        if name == "sharded":
            # Moments are split over the 8 devices like their parameters.
            expected[f"{name}/restored_shardings"] = np.asarray(shardings(saved))
            expected[f"{name}/shardings"] = np.asarray(shardings(final))
            split = [x for x in jax.tree_util.tree_leaves(saved) if x.ndim]
            assert len(split) == 4  # w, b and their momentum
            for x in split:
                assert len({str(s.index) for s in x.addressable_shards}) == 8

    out = tmp_path / "continued.npz"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "checkpoint_resume_runs.py"),
            str(tmp_path),
            str(out),
        ],
        check=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    fresh = np.load(out)
    assert set(fresh.files) == set(expected)
    for name, value in expected.items():
        assert fresh[name].dtype == value.dtype, name
        np.testing.assert_array_equal(fresh[name], value, err_msg=name)
    # The schedule's rate at the last update (step 10): warmup 3, cosine to 11.
    cosine = 0.5 * (1 + np.cos(np.pi * 7 / 8))
    np.testing.assert_allclose(
        expected["schedule/learning_rate"], 1e-3 + (0.1 - 1e-3) * cosine, rtol=1e-5
    )
