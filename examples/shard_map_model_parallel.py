"""Model-parallel training under ``jax.shard_map`` with global clipping and LAMB.

A two-layer MLP ``y = tanh(x W1 + b1) W2`` is split across every device along
a ``"model"`` mesh axis, Megatron style: ``W1`` and ``b1`` by hidden unit
(columns), ``W2`` by hidden unit (rows). Each device computes its hidden units
and a partial output; ``lax.psum`` over ``"model"`` completes the output, so
the loss is the same on every device and ``jax.grad`` gives each device the
gradient of its own block.

The optimizer is ``optax.chain(lrjax.clip_by_global_norm(1.0,
axis_name="model"), lrjax.lamb(schedule, weight_decay=1e-4,
axis_name="model"))``. Clipping needs the norm of the whole gradient and LAMB
the norm of each whole layer; ``axis_name`` completes those sums across the
devices with ``psum``. Optimizer ``init`` and every ``update`` run inside the
same ``shard_map``, so the moments are split like the parameters and the
scalars (step count, rate) are the same on every device. Every parameter
leaf is split (the MLP has no output bias, which would be replicated and so
counted once per device by the global norm).

The script trains the same model without ``shard_map`` on whole arrays
(``axis_name=None``) and prints the largest difference between the final
parameters: it is rounding only (the split matmuls and norms sum in another
order). Without ``axis_name`` each device would clip and scale by the norms of
its own block, and the runs part (``--no-axis-name`` shows it).

Run: ``python examples/shard_map_model_parallel.py [--steps N] [--hidden H]``.
On a CPU-only machine the script asks XLA for 8 host devices (unless
``XLA_FLAGS`` already sets a count); ``--hidden`` must be a multiple of the
number of devices.
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    # Simulated devices for CPU runs; set before JAX starts. The flag only
    # affects the host platform, so accelerators are used as they are.
    _flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in _flags:
        os.environ["XLA_FLAGS"] = (
            _flags + " --xla_force_host_platform_device_count=8"
        ).strip()

import argparse  # noqa: E402
import functools  # noqa: E402
from typing import Any  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import lrjax  # noqa: E402

AXIS = "model"
IN_DIM = 8
OUT_DIM = 4
# How each parameter is split over the mesh: hidden units across AXIS.
PARAM_SPECS = {"w1": P(None, AXIS), "b1": P(AXIS), "w2": P(AXIS, None)}


def make_optimizer(steps: int, axis_name: str | None) -> optax.GradientTransformation:
    """Global-norm clipping, then LAMB on a cosine-decayed rate."""
    schedule = lrjax.cosine_decay_schedule(2e-2, max(steps, 1), alpha=0.1)
    return optax.chain(
        lrjax.clip_by_global_norm(1.0, axis_name=axis_name),
        lrjax.lamb(schedule, weight_decay=1e-4, axis_name=axis_name),
    )


def make_problem(
    hidden: int, batch: int, seed: int
) -> tuple[dict, jax.Array, jax.Array]:
    """Initial parameters and a teacher network's regression data."""
    k_init, k_teacher, k_x = jax.random.split(jax.random.PRNGKey(seed), 3)

    def init(key, width):
        k1, k2 = jax.random.split(key)
        return {
            "w1": jax.random.normal(k1, (IN_DIM, width)) / np.sqrt(IN_DIM),
            "b1": jnp.full((width,), 0.1),
            "w2": jax.random.normal(k2, (width, OUT_DIM)) / np.sqrt(width),
        }

    params = init(k_init, hidden)
    teacher = init(k_teacher, 32)
    x = jax.random.normal(k_x, (batch, IN_DIM))
    y = jnp.tanh(x @ teacher["w1"] + teacher["b1"]) @ teacher["w2"]
    return params, x, y


def loss_fn(params: dict, x: jax.Array, y: jax.Array, axis_name: str | None) -> Any:
    """Mean squared error; with ``axis_name`` the output sums partial products."""
    partial = jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"]
    pred = partial if axis_name is None else jax.lax.psum(partial, axis_name)
    return jnp.mean(jnp.square(pred - y))


@functools.cache  # one function per configuration: jit reuses its compilation
def train_fn(steps: int, axis_name: str | None, opt_axis_name: str | None):
    """``(params, x, y) -> (params, losses, rates)``: init and ``steps`` updates.

    ``axis_name`` completes the model's output, ``opt_axis_name`` the
    optimizer's norms (the same axis, unless showing what goes wrong).
    """
    opt = make_optimizer(steps, opt_axis_name)

    def run(params, x, y):
        state = opt.init(params)

        def step(carry, _):
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y, axis_name)
            updates, state = opt.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            # The rate this step applied (the schedule's value), from the state.
            return (params, state), (loss, lrjax.get_learning_rate(state))

        (params, _), (losses, rates) = jax.lax.scan(
            step, (params, state), None, length=steps
        )
        return params, losses, rates

    return run


def main(
    steps: int = 200,
    hidden: int = 64,
    batch: int = 256,
    seed: int = 0,
    quiet: bool = False,
    sync_norms: bool = True,
) -> dict[str, Any]:
    """Trains sharded and unsharded; returns losses, the rate and their gap.

    ``sync_norms=False`` leaves ``axis_name`` out of the optimizer (each
    device clips and scales by its own block's norms), to show the gap.
    """
    devices = jax.devices()
    if hidden % len(devices):
        raise ValueError(
            f"hidden must be a multiple of the number of devices "
            f"({len(devices)}), got {hidden}."
        )
    mesh = Mesh(np.asarray(devices), (AXIS,))
    params, x, y = make_problem(hidden, batch, seed)

    sharded = jax.jit(
        jax.shard_map(
            train_fn(steps, AXIS, AXIS if sync_norms else None),
            mesh=mesh,
            in_specs=(PARAM_SPECS, P(), P()),
            out_specs=(PARAM_SPECS, P(), P()),
        )
    )
    final, losses, rates = sharded(params, x, y)
    reference, ref_losses, _ = jax.jit(train_fn(steps, None, None))(params, x, y)

    max_abs_diff = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(
            jax.tree_util.tree_leaves(final),
            jax.tree_util.tree_leaves(reference),
            strict=True,
        )
    )
    losses, rates = np.asarray(losses), np.asarray(rates)
    if not quiet:
        print(
            f"{len(devices)} devices, hidden units split {hidden // len(devices)} each"
        )
        every = max(1, steps // 10)
        for t in range(0, steps, every):
            print(f"step {t:5d}  loss {losses[t]:.6f}  lr {rates[t]:.3e}")
        print(f"final loss {losses[-1]:.6f} (unsharded {float(ref_losses[-1]):.6f})")
        print(f"max |sharded - unsharded| over the parameters: {max_abs_diff:.3e}")
    return {
        "devices": len(devices),
        "first_loss": float(losses[0]),
        "final_loss": float(losses[-1]),
        "learning_rate": float(rates[-1]),
        "max_abs_diff": max_abs_diff,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-axis-name",
        action="store_true",
        help="build the optimizer without axis_name, to see the runs part",
    )
    args = parser.parse_args()
    main(
        args.steps,
        args.hidden,
        args.batch,
        args.seed,
        sync_norms=not args.no_axis_name,
    )
