"""Data-parallel training with jax.pmap and an lrjax optimizer.

Each device holds a replica of the parameters and of the optimizer state and
takes its own slice of every batch; ``lax.pmean`` averages the gradients (and
the loss) across devices, so every replica applies the same update and stays
identical. The optimizer is ``lrjax.adamw`` with a warmup-cosine schedule;
the learning rate printed is read from replica 0's state with
``lrjax.get_learning_rate``. At the end the same run on one device with the
full batch is repeated and the parameters compared.

On a CPU-only machine the script asks XLA for 8 host devices (when
``XLA_FLAGS`` does not already set a count).
Run: ``python examples/pmap_data_parallel.py [--steps N] [--devices D]``.
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
from jax import lax

import lrjax
from lrjax.plotting import format_rate


def make_problem(n_examples: int, features: int = 16, outputs: int = 4):
    """A least-squares problem: parameters, inputs, targets and the loss."""
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (n_examples, features))
    w_true = jax.random.normal(kw, (features, outputs))
    y = x @ w_true + 3.0
    params = {"w": jnp.zeros((features, outputs)), "b": jnp.zeros((outputs,))}

    def loss_fn(p, x, y):
        return jnp.mean(jnp.sum((x @ p["w"] + p["b"] - y) ** 2, axis=-1))

    return params, x, y, loss_fn


def main(
    steps: int = 100,
    devices: int | None = None,
    per_device_batch: int = 32,
    print_every: int = 10,
) -> dict:
    """Trains ``steps`` data-parallel steps on ``devices`` devices (default:
    all local ones); returns the final loss and rate and the comparison with
    single-device training."""
    n = jax.local_device_count() if devices is None else devices
    if not 1 <= n <= jax.local_device_count():
        raise ValueError(f"devices must be in [1, {jax.local_device_count()}], got {n}")
    if steps < 0 or per_device_batch < 1 or print_every < 1:
        raise ValueError(
            "need steps >= 0, per_device_batch >= 1 and print_every >= 1, got "
            f"{steps}, {per_device_batch} and {print_every}."
        )
    params, x, y, loss_fn = make_problem(n * per_device_batch)
    schedule = lrjax.warmup_cosine_decay_schedule(
        0.0, 0.1, warmup_steps=max(steps // 10, 1), decay_steps=max(steps, 2)
    )
    opt = lrjax.adamw(schedule, weight_decay=1e-4)

    def train_step(p, s, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        # The mean over devices of per-device means: the full-batch gradient.
        loss, grads = lax.pmean((loss, grads), axis_name="devices")
        updates, s = opt.update(grads, s, p)
        return lrjax.apply_updates(p, updates), s, loss

    p_step = jax.pmap(train_step, axis_name="devices", devices=jax.local_devices()[:n])
    p_init = jax.pmap(opt.init, devices=jax.local_devices()[:n])

    # Replicate by stacking: pmap gives slice k of the leading axis to device k.
    replicated = jax.tree.map(lambda a: jnp.stack([a] * n), params)
    state = p_init(replicated)
    x_shards = x.reshape(n, per_device_batch, -1)
    y_shards = y.reshape(n, per_device_batch, -1)
    first = jax.tree.map(lambda a: a[0], state)  # replica 0
    print(f"devices {n}  batch {n * per_device_batch} ({per_device_batch}/device)")
    print(
        f"{'initial':10} loss {float(loss_fn(params, x, y)):.6g}  lr "
        f"{format_rate(lrjax.get_learning_rate(first))}"
    )
    loss = loss_fn(params, x, y)
    for step in range(steps):
        replicated, state, losses = p_step(replicated, state, x_shards, y_shards)
        loss = losses[0]
        if step % print_every == 0 or step == steps - 1:
            first = jax.tree.map(lambda a: a[0], state)
            lr = format_rate(lrjax.get_learning_rate(first))
            print(f"step {step:5d} loss {float(loss):.6g}  lr {lr}")

    # Every replica holds the same parameters and state, bit for bit.
    leaves = jax.tree.leaves((replicated, state))
    replicas_equal = all(
        bool(np.all(np.asarray(a) == np.asarray(a)[:1])) for a in leaves
    )

    # The reference: one device, the full batch, the same optimizer.
    @jax.jit
    def single_step(p, s):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, s = opt.update(grads, s, p)
        return lrjax.apply_updates(p, updates), s

    single, s = params, opt.init(params)
    for _ in range(steps):
        single, s = single_step(single, s)
    ours = jax.tree.map(lambda a: np.asarray(a[0]), replicated)
    # Per leaf, the largest difference relative to the leaf's largest entry.
    diff = max(
        float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))
        for a, b in zip(
            jax.tree.leaves(ours), jax.tree.leaves(jax.device_get(single)), strict=True
        )
    )
    print(
        f"replicas identical: {replicas_equal}; max relative difference from "
        f"single-device training: {diff:.3g}"
    )
    return {
        "devices": n,
        "loss": float(loss),
        "learning_rate": float(lrjax.get_learning_rate(first)),
        "replicas_equal": replicas_equal,
        "max_rel_diff_vs_single_device": diff,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="default 100")
    parser.add_argument("--devices", type=int, default=None, help="default: all")
    parser.add_argument("--per-device-batch", type=int, default=32, help="default 32")
    parser.add_argument("--print-every", type=int, default=10, help="default 10")
    args = parser.parse_args()
    try:
        main(args.steps, args.devices, args.per_device_batch, args.print_every)
    except ValueError as e:
        parser.error(str(e))
