"""Sharded (FSDP) training with jax.jit, NamedSharding and an lrjax optimizer.

A ``(data, model)`` device mesh; every parameter's largest axis is split
across both mesh axes (fully sharded data parallelism over the whole mesh),
the batch along ``data``. ``jax.jit(opt.init)`` creates the optimizer state
on the parameters' shardings, and a jitted training step with no
``out_shardings`` keeps it there: each device holds ``1/n`` of every moment.
The script prints the bytes of optimizer state each device holds, trains an
MLP with ``lrjax.adam`` and a cosine schedule, and compares the result with
the same training on one device with unsharded arrays.

On a CPU-only machine the script asks XLA for 8 host devices (when
``XLA_FLAGS`` does not already set a count).
Run: ``python examples/sharded_training.py [--steps N] [--hidden H]``.
"""

import argparse
import os

if __name__ == "__main__":
    # Before JAX starts: simulated CPU devices (ignored by GPU/TPU backends).
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = (
            flags + " --xla_force_host_platform_device_count=8"
        ).strip()

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import lrjax
from lrjax.plotting import format_rate


def make_mesh(n: int) -> Mesh:
    """``(data, model)`` over ``n`` devices: 2-way data where ``n`` is even."""
    data = 2 if n % 2 == 0 else 1
    devices = np.array(jax.devices()[:n]).reshape(data, n // data)
    return Mesh(devices, ("data", "model"))


def fsdp_sharding(shape: tuple[int, ...], mesh: Mesh) -> NamedSharding:
    """The largest axis split across every device; replicated if it can't be."""
    spec = [None] * len(shape)
    if shape:
        axis = int(np.argmax(shape))
        if shape[axis] % mesh.size == 0:
            spec[axis] = ("data", "model")
    return NamedSharding(mesh, P(*spec))


def make_problem(hidden: int, batch: int, features: int = 32, outputs: int = 8):
    """A tanh MLP regression: parameters, inputs, targets and the loss."""
    k1, k2, kx, kt = jax.random.split(jax.random.PRNGKey(0), 4)
    params = {
        "w1": jax.random.normal(k1, (features, hidden)) / np.sqrt(features),
        "b1": jnp.zeros((hidden,)),
        "w2": jax.random.normal(k2, (hidden, outputs)) / np.sqrt(hidden),
        "b2": jnp.zeros((outputs,)),
    }
    x = jax.random.normal(kx, (batch, features))
    y = jnp.sin(x[:, :outputs]) + 0.1 * jax.random.normal(kt, (batch, outputs))

    def loss_fn(p, x, y):
        h = jnp.tanh(x @ p["w1"] + p["b1"])
        return jnp.mean(jnp.sum((h @ p["w2"] + p["b2"] - y) ** 2, axis=-1))

    return params, x, y, loss_fn


def state_bytes(state, devices) -> dict:
    """Bytes of the state's arrays held by each device."""
    held = {d: 0 for d in devices}
    for leaf in jax.tree.leaves(state):
        for shard in leaf.addressable_shards:
            held[shard.device] += shard.data.nbytes
    return held


def main(
    steps: int = 50, hidden: int = 256, batch: int = 64, print_every: int = 10
) -> dict:
    """Trains ``steps`` FSDP steps on all local devices; returns the state's
    bytes per device and the comparison with unsharded training."""
    if steps < 0 or hidden < 1 or batch < 1 or print_every < 1:
        raise ValueError(
            "need steps >= 0 and hidden, batch, print_every >= 1, got "
            f"{steps}, {hidden}, {batch} and {print_every}."
        )
    mesh = make_mesh(jax.device_count())
    if batch % mesh.shape["data"]:
        raise ValueError(f"batch must divide by {mesh.shape['data']}, got {batch}")
    params, x, y, loss_fn = make_problem(hidden, batch)
    sharded = jax.tree.map(
        lambda a: jax.device_put(a, fsdp_sharding(a.shape, mesh)), params
    )
    batch_sharding = NamedSharding(mesh, P("data"))
    xs, ys = jax.device_put(x, batch_sharding), jax.device_put(y, batch_sharding)

    schedule = lrjax.cosine_decay_schedule(0.01, decay_steps=max(steps, 1))
    opt = lrjax.adam(schedule)

    @jax.jit  # no out_shardings: the state follows the parameters' shardings
    def train_step(p, s, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, s = opt.update(grads, s, p)
        return lrjax.apply_updates(p, updates), s, loss

    state = jax.jit(opt.init)(sharded)
    print(f"mesh {dict(mesh.shape)}")
    for name, p in sharded.items():
        print(f"  {name:3} {str(p.shape):10} {p.sharding.spec}")
    loss = loss_fn(params, x, y)
    p = sharded
    for step in range(steps):
        p, state, loss = train_step(p, state, xs, ys)
        if step % print_every == 0 or step == steps - 1:
            lr = format_rate(lrjax.get_learning_rate(state))
            print(f"step {step:5d} loss {float(loss):.6g}  lr {lr}")

    sharded_like_params = all(
        leaf.sharding.is_equivalent_to(q.sharding, q.ndim)
        for leaf, q in zip(
            jax.tree.leaves(state[0].mu) + jax.tree.leaves(state[0].nu),
            jax.tree.leaves(p) * 2,
            strict=True,
        )
    )
    held = state_bytes(state, mesh.devices.flat)
    total = sum(leaf.nbytes for leaf in jax.tree.leaves(state))
    print(f"optimizer state: {total} bytes in all; per device:")
    for device, nbytes in held.items():
        print(f"  {device}: {nbytes} bytes ({nbytes / total:.1%})")

    # The reference: one device, unsharded arrays, the same optimizer.
    @jax.jit
    def single_step(q, s):
        _, grads = jax.value_and_grad(loss_fn)(q, x, y)
        updates, s = opt.update(grads, s, q)
        return lrjax.apply_updates(q, updates), s

    single, s = params, opt.init(params)
    for _ in range(steps):
        single, s = single_step(single, s)
    diff = max(
        float(
            np.max(np.abs(np.asarray(a) - np.asarray(b)))
            / max(np.max(np.abs(b)), 1e-30)
        )
        for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(single), strict=True)
    )
    print(
        f"state sharded like the parameters: {sharded_like_params}; max "
        f"relative difference from unsharded training: {diff:.3g}"
    )
    return {
        "mesh": dict(mesh.shape),
        "loss": float(loss),
        "state_bytes_total": total,
        "state_bytes_per_device": [held[d] for d in mesh.devices.flat],
        "state_sharded_like_params": sharded_like_params,
        "max_rel_diff_vs_unsharded": diff,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="default 50")
    parser.add_argument("--hidden", type=int, default=256, help="default 256")
    parser.add_argument("--batch", type=int, default=64, help="default 64")
    parser.add_argument("--print-every", type=int, default=10, help="default 10")
    args = parser.parse_args()
    try:
        main(args.steps, args.hidden, args.batch, args.print_every)
    except ValueError as e:
        parser.error(str(e))
