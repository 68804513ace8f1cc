"""examples/multiprocess_data_parallel.py as two real processes (jax.distributed).

Each process is a fresh interpreter with its own 2 simulated CPU devices (the
test runner's ``XLA_FLAGS`` asks for 8: the children get their own), joined
through a coordinator on 127.0.0.1 and a free port, collectives over gloo.
The reference is the same training in this process, on a mesh of 4 of its
devices, over the same global batches: bit-identical with the script's
``ordered`` gradient reduction, within float32 rounding with XLA's all-reduce.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "multiprocess_data_parallel.py"
STEPS = 12
TIMEOUT_S = 120

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _load():
    spec = importlib.util.spec_from_file_location(SCRIPT.stem, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    return env


def _run_all(
    cmds: list[list[str]], logs: list[Path], envs: list[dict] | None = None
) -> list[int]:
    """Start every command, wait up to TIMEOUT_S, kill all on any failure."""
    procs = []
    envs = envs or [{} for _ in cmds]
    try:
        for cmd, log, extra in zip(cmds, logs, envs, strict=True):
            with open(log, "w") as f:
                # A session of its own: killing its group also ends the
                # processes a launcher started.
                procs.append(
                    subprocess.Popen(
                        cmd,
                        stdout=f,
                        stderr=subprocess.STDOUT,
                        env={**_child_env(), **extra},
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + TIMEOUT_S
        while any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one failed: the others would wait for it forever
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return [p.returncode for p in procs]


def _explain(logs: list[Path]) -> str:
    return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)


def test_two_processes_train_like_one_process_on_the_same_batches(tmp_path):
    coordinator = f"127.0.0.1:{_free_port()}"
    outs = [tmp_path / f"p{i}.npz" for i in range(2)]
    logs = [tmp_path / f"p{i}.log" for i in range(2)]
    common = [
        sys.executable,
        str(SCRIPT),
        f"--steps={STEPS}",
        f"--timeout={TIMEOUT_S}",
        "--reduction=ordered",
    ]
    # Process 0 is told by arguments, process 1 by the environment variables
    # a cluster launcher would set.
    cmds = [
        [
            *common,
            "--num-processes=2",
            "--process-id=0",
            f"--coordinator={coordinator}",
            f"--out={outs[0]}",
        ],
        [*common, f"--out={outs[1]}"],
    ]
    envs = [
        {},
        {
            "JAX_COORDINATOR_ADDRESS": coordinator,
            "JAX_NUM_PROCESSES": "2",
            "JAX_PROCESS_ID": "1",
        },
    ]
    codes = _run_all(cmds, logs, envs)
    assert codes == [0, 0], _explain(logs)
    for i, log in enumerate(logs):
        assert f"process {i}/2: 2 local of 4 devices" in log.read_text()

    mp = _load()
    ref_params, ref_losses = mp.train(_reference_mesh(), STEPS, "ordered")
    results = [np.load(out) for out in outs]
    assert set(results[0].files) == {*ref_params, "losses"}
    for result in results:
        for name, value in ref_params.items():
            np.testing.assert_array_equal(result[name], value, name)
        np.testing.assert_array_equal(result["losses"], ref_losses)
    # It trained: the parameters moved and the loss fell.
    for name, value in ref_params.items():
        assert not np.allclose(value, mp.init_params()[name], atol=1e-3), name
    assert ref_losses[-1] < 0.7 * ref_losses[0]


def _reference_mesh():
    return jax.make_mesh((4,), ("data",), devices=jax.devices()[:4])


def test_launch_mode_starts_processes_that_agree_with_one_process(tmp_path):
    out = tmp_path / "params.npz"
    log = tmp_path / "launch.log"
    cmd = [sys.executable, str(SCRIPT), "--launch=2", f"--steps={STEPS}"]
    codes = _run_all([cmd + [f"--out={out}", f"--timeout={TIMEOUT_S}"]], [log])
    assert codes == [0], _explain([log])
    assert "2 processes finished; parameters identical on all: True" in log.read_text()
    a, b = (np.load(tmp_path / f"params.{i}.npz") for i in range(2))
    # The all-reduce hands every participant the same sum.
    assert a.files == b.files
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], name)
    # Against one process: gloo adds the 4 devices' partial gradients in
    # another order than the in-process all-reduce, so the last float32 bits
    # differ (measured: 1.8e-7 at most after 20 steps): rounding only, far
    # below what a wrong mean (a factor 2 or 4) or a process training on the
    # other's rows would give.
    ref_params, ref_losses = _load().train(_reference_mesh(), STEPS, "allreduce")
    for name, value in ref_params.items():
        np.testing.assert_allclose(a[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(a["losses"], ref_losses, rtol=1e-5)


def test_launch_mode_stops_the_job_when_one_process_fails(tmp_path):
    # Process 1 cannot write its output (a folder is in the way) and exits
    # before joining; process 0 would wait for it in
    # jax.distributed.initialize for the whole --timeout (600 s, beyond this
    # test's wait): the launcher must stop it and report the failure.
    (tmp_path / "params.1.npz").mkdir()
    log = tmp_path / "launch.log"
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--launch=2",
        "--steps=1",
        f"--out={tmp_path / 'params.npz'}",
        "--timeout=600",
    ]
    codes = _run_all([cmd], [log])
    text = log.read_text()
    assert codes == [1], _explain([log])
    assert "process 1 failed; stopping the others" in text
    assert "not a file in an existing folder" in text
