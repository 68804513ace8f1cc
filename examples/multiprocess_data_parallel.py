"""Data-parallel training with lrjax across processes (``jax.distributed``).

Every process runs this script. Together they form one global mesh over all
processes' devices; the parameters and the optimizer state are replicated on
it, the global batch is split along its ``data`` axis, and one ``jax.jit``
step computes the loss on the whole batch: XLA averages the gradients across
every device of every process (an all-reduce over CPU collectives, gloo in
JAX 0.10, or NCCL on GPUs), so each process applies the same
``lrjax.adamw`` update with a warmup-cosine schedule. Each process feeds only
its own rows of a deterministic global batch
(``jax.make_array_from_process_local_data``) and writes the final parameters
it holds to ``--out``. ``--reduction ordered`` averages the gradients by an
``all_gather`` under ``shard_map`` and a sum in device order instead: the
parameters are then bit-identical to one process with as many devices (the
all-reduce's order of additions differs between gloo and one process, by
float32 rounding).

One machine, N processes (the launcher picks a free port on 127.0.0.1, starts
N copies of this script on the CPU with ``--local-devices`` simulated devices
each, waits, kills them all if one fails, and checks that they agree)::

    python examples/multiprocess_data_parallel.py --launch 2 --out params.npz

or by hand, one terminal per process::

    python examples/multiprocess_data_parallel.py --num-processes 2 \\
        --process-id 0 --coordinator 127.0.0.1:12355 --out p0.npz
    python examples/multiprocess_data_parallel.py --num-processes 2 \\
        --process-id 1 --coordinator 127.0.0.1:12355 --out p1.npz

A cluster: where an argument is absent it is read from the environment
variables ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0),
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; whatever is still unset is left
to ``jax.distributed.initialize``'s own detection of the cluster launcher:
SLURM (``srun``: ``SLURM_JOB_ID``, ``SLURM_STEP_NODELIST``, ``SLURM_NTASKS``,
``SLURM_PROCID``, ``SLURM_LOCALID``), Open MPI (``mpirun``:
``OMPI_MCA_orte_hnp_uri``, ``OMPI_COMM_WORLD_SIZE``, ``OMPI_COMM_WORLD_RANK``,
``OMPI_COMM_WORLD_LOCAL_RANK``), Kubernetes indexed Jobs/JobSets (with the
``kubernetes`` package) and Cloud TPU. There the coordinator's port is
derived from the job id unless ``JAX_COORDINATOR_PORT`` is set. So under
SLURM ``srun python examples/multiprocess_data_parallel.py --out p.npz``
needs no arguments at all. ``--local-devices`` (simulated CPU devices) only
applies to the CPU platform; on GPU hosts each process uses the accelerators
JAX sees (``--local-device-ids`` restricts them).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FEATURES, HIDDEN = 8, 16
ROWS_PER_DEVICE = 8  # the global batch grows with the device count
DEFAULT_PORT = 12355


# --------------------------------------------------------------------------
# The training, the same for one process or many.


def global_batch(step: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The step's whole batch, the same in every process (a fixed seed)."""
    rng = np.random.default_rng([1234, step])
    x = rng.standard_normal((rows, FEATURES)).astype(np.float32)
    w = np.linspace(-1.0, 1.0, FEATURES, dtype=np.float32)
    y = (np.sin(x @ w) + 0.5 * x[:, 0] * x[:, 1]).astype(np.float32)
    return x, y[:, None]


def init_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "w1": (rng.standard_normal((FEATURES, HIDDEN)) / FEATURES**0.5).astype(
            np.float32
        ),
        "b1": np.zeros(HIDDEN, np.float32),
        "w2": (rng.standard_normal((HIDDEN, 1)) / HIDDEN**0.5).astype(np.float32),
        "b2": np.zeros(1, np.float32),
    }


def make_optimizer(steps: int):
    import lrjax

    schedule = lrjax.warmup_cosine_decay_schedule(
        0.0, 0.05, max(1, steps // 10), max(2, steps), end_value=1e-3
    )
    return lrjax.adamw(schedule, weight_decay=1e-3)


def _squared_errors(params, x, y):
    import jax.numpy as jnp

    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.sum((h @ params["w2"] + params["b2"] - y) ** 2)


def _loss(params, x, y):
    return _squared_errors(params, x, y) / x.shape[0]


def _loss_and_grads(params, x, y, mesh, reduction: str):
    """The global batch's mean loss and gradients, on every device.

    ``allreduce``: ``jit`` sees the batch split over ``data`` and the
    replicated parameters, and XLA inserts the all-reduce of the partial
    gradients; the collective chooses the order of the additions (gloo's over
    processes, another within one), so the last bits depend on the layout.
    ``ordered``: under ``shard_map`` each device sums its rows' gradients,
    ``all_gather`` copies every device's sum to every device (no arithmetic)
    and each adds them in device order: the same bits for 1 process or N, at
    the cost of N gradient copies per device.
    """
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    if reduction == "allreduce":
        return jax.value_and_grad(_loss)(params, x, y)

    global_rows = x.shape[0]

    def per_device(params, local_x, local_y):
        partial = jax.value_and_grad(_squared_errors)(params, local_x, local_y)
        gathered = jax.lax.all_gather(partial, "data")
        return jax.tree_util.tree_map(
            lambda g: jnp.sum(g, axis=0) / global_rows, gathered
        )

    return jax.shard_map(
        per_device,
        mesh=mesh,
        in_specs=(P(), P("data"), P("data")),
        out_specs=P(),
        check_vma=False,
    )(params, x, y)


def _process_rows(sharding, rows: int) -> slice:
    """The contiguous rows of the global batch this process's devices hold."""
    index = sharding.addressable_devices_indices_map((rows, 1))
    starts = [i[0].start or 0 for i in index.values()]
    stops = [rows if i[0].stop is None else i[0].stop for i in index.values()]
    lo, hi = min(starts), max(stops)
    if sum(b - a for a, b in set(zip(starts, stops, strict=True))) != hi - lo:
        raise RuntimeError("this process's devices do not hold contiguous rows")
    return slice(lo, hi)


def train(
    mesh, steps: int, reduction: str = "allreduce"
) -> tuple[dict[str, np.ndarray], list[float]]:
    """``steps`` data-parallel adamw steps on ``mesh`` (axis ``data``).

    ``reduction`` is how the gradients are averaged over the devices:
    ``"allreduce"`` or ``"ordered"`` (see ``_loss_and_grads``).

    Returns this process's copy of the final (replicated) parameters and the
    loss of every step.
    """
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import lrjax

    optimizer = make_optimizer(steps)
    replicated = NamedSharding(mesh, P())
    batch_sharding = NamedSharding(mesh, P("data"))
    batch_rows = ROWS_PER_DEVICE * mesh.size
    rows = _process_rows(batch_sharding, batch_rows)

    # Every process holds the same host values; each passes its own copy.
    params = {
        k: jax.make_array_from_process_local_data(replicated, v)
        for k, v in init_params().items()
    }
    opt_state = jax.jit(optimizer.init, out_shardings=replicated)(params)

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = _loss_and_grads(params, x, y, mesh, reduction)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return lrjax.apply_updates(params, updates), opt_state, loss

    losses = []
    for t in range(steps):
        x, y = global_batch(t, batch_rows)
        # Only this process's rows leave the host.
        xs, ys = (
            jax.make_array_from_process_local_data(batch_sharding, a[rows], a.shape)
            for a in (x, y)
        )
        params, opt_state, loss = step(params, opt_state, xs, ys)
        losses.append(float(loss.addressable_data(0)))
    host = {k: np.asarray(v.addressable_data(0)) for k, v in params.items()}
    return host, losses


# --------------------------------------------------------------------------
# One process of the job.


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return None if value in (None, "") else int(value)


def run_process(args: argparse.Namespace) -> None:
    import jax

    if args.out is not None:
        # Fail before joining the job, not after training.
        out = Path(args.out)
        if out.is_dir() or not out.parent.is_dir():
            raise SystemExit(f"--out {args.out!r}: not a file in an existing folder")
    if args.local_devices is not None:
        # Simulated CPU devices (ignored by accelerator platforms); set before
        # the backend starts, like XLA_FLAGS' host device count.
        jax.config.update("jax_num_cpu_devices", args.local_devices)

    num_processes = args.num_processes
    if num_processes is None:
        num_processes = _env_int("JAX_NUM_PROCESSES")
    process_id = args.process_id
    if process_id is None:
        process_id = _env_int("JAX_PROCESS_ID")
    coordinator = args.coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if coordinator is None and num_processes is not None:
        coordinator = f"127.0.0.1:{DEFAULT_PORT}"

    if num_processes != 1:
        # None values are filled in by JAX's cluster detection (SLURM, Open
        # MPI, Kubernetes, Cloud TPU); the CPU collectives are gloo's.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            local_device_ids=args.local_device_ids,
            initialization_timeout=args.timeout,
        )

    devices = jax.devices()
    mesh = jax.make_mesh((len(devices),), ("data",), devices=devices)
    params, losses = train(mesh, args.steps, args.reduction)
    print(
        f"process {jax.process_index()}/{jax.process_count()}: "
        f"{jax.local_device_count()} local of {len(devices)} devices, "
        f"loss {losses[0]:.6g} -> {losses[-1]:.6g}",
        flush=True,
    )
    if args.out is not None:
        np.savez(args.out, losses=np.asarray(losses), **params)
    if num_processes != 1:
        jax.distributed.shutdown()


# --------------------------------------------------------------------------
# The one-machine launcher.


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_process_env(local_devices: int, base: dict[str, str] | None = None) -> dict:
    """An environment for one CPU process with ``local_devices`` devices.

    Replaces any host device count already in ``XLA_FLAGS`` (a test runner's
    8, say) and pins the platform to the CPU.
    """
    env = dict(os.environ if base is None else base)
    flags = re.sub(
        r"--xla_force_host_platform_device_count=\S+", "", env.get("XLA_FLAGS", "")
    ).split()
    flags.append(f"--xla_force_host_platform_device_count={local_devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    env["JAX_PLATFORMS"] = "cpu"
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    return env


def process_out(out: Path, process_id: int) -> Path:
    """Where process ``process_id`` of a launch writes ``out``."""
    return out.with_name(f"{out.stem}.{process_id}{out.suffix}")


def stop_all(procs: list[subprocess.Popen]) -> None:
    """Terminate every process still running, then kill the stubborn ones."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def launch(args: argparse.Namespace) -> int:
    """Start ``args.launch`` processes on 127.0.0.1 and wait for all of them."""
    n = args.launch
    out = Path(args.out if args.out is not None else "multiprocess_params.npz")
    coordinator = f"127.0.0.1:{free_port()}"
    env = cpu_process_env(args.local_devices or 2)
    procs: list[subprocess.Popen] = []
    # A launcher stopped by SIGTERM (a scheduler, `kill`) stops its processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        for i in range(n):
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                f"--num-processes={n}",
                f"--process-id={i}",
                f"--coordinator={coordinator}",
                f"--steps={args.steps}",
                f"--local-devices={args.local_devices or 2}",
                f"--timeout={args.timeout}",
                f"--reduction={args.reduction}",
                f"--out={process_out(out, i)}",
            ]
            procs.append(subprocess.Popen(cmd, env=env))
        deadline = time.monotonic() + args.timeout
        while any(p.poll() is None for p in procs):
            failed = [i for i, p in enumerate(procs) if p.poll() not in (None, 0)]
            if failed:
                print(f"process {failed[0]} failed; stopping the others")
                return 1
            if time.monotonic() > deadline:
                print(f"timed out after {args.timeout} s; stopping all processes")
                return 1
            time.sleep(0.1)
        codes = [p.returncode for p in procs]
        if any(codes):
            print(f"exit codes {codes}")
            return 1
    finally:
        stop_all(procs)

    results = [np.load(process_out(out, i)) for i in range(n)]
    agree = all(
        np.array_equal(r[k], results[0][k]) for r in results for k in results[0].files
    )
    print(f"{n} processes finished; parameters identical on all: {agree}")
    return 0 if agree else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--launch",
        type=int,
        metavar="N",
        help="start N processes of this script on this machine and wait",
    )
    parser.add_argument(
        "--num-processes", type=int, help="default: $JAX_NUM_PROCESSES or detected"
    )
    parser.add_argument(
        "--process-id", type=int, help="default: $JAX_PROCESS_ID or detected"
    )
    parser.add_argument(
        "--coordinator",
        help="host:port of process 0 (default: $JAX_COORDINATOR_ADDRESS, "
        f"127.0.0.1:{DEFAULT_PORT} with --num-processes, or detected)",
    )
    parser.add_argument(
        "--local-device-ids",
        type=lambda s: [int(v) for v in s.split(",")],
        help="comma-separated accelerator ids this process uses",
    )
    parser.add_argument(
        "--local-devices",
        type=int,
        help="simulated CPU devices per process (the launcher's default: 2)",
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--reduction",
        choices=("allreduce", "ordered"),
        default="allreduce",
        help="gradient averaging: XLA's all-reduce, or all-gather and add in "
        "device order (bit-identical for any process count)",
    )
    parser.add_argument(
        "--timeout", type=int, default=300, help="seconds to wait for the others"
    )
    parser.add_argument("--out", help="write the final parameters to this .npz")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if args.launch is not None and args.launch < 1:
        parser.error(f"--launch must be >= 1, got {args.launch}")
    if args.local_devices is not None and args.local_devices < 1:
        parser.error(f"--local-devices must be >= 1, got {args.local_devices}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.launch is not None:
        return launch(args)
    run_process(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
