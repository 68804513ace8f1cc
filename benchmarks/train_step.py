"""Whole training steps on many-leaf trees: the gradient taken inside the jit.

``many_leaves.py`` passes the gradients into the jitted step, as a step
that only updates would receive them. In training the gradient is computed
in the same jitted function, so it never crosses the jit boundary: what
crosses is the parameters and the optimizer state. This script times that
step (``jax.grad`` of a loss, ``update``, ``apply_updates``; donated params
and state) for optax, ``lrjax.packed`` and ``lrjax.packed`` on parameters
kept packed (``lrjax.pack_params``, the loss reading them through
``lrjax.unpack_params``), with the per-leaf SGD step as the floor.

The model reads every leaf through one matrix product, ``x[:, :rows] @ W``
with ``W`` the leaf as a ``(rows, last axis)`` matrix and ``x`` a fixed
``(8, rows)`` batch, and its loss is the mean square of the products: each
gradient is a matrix product's output, as in a real network, and the model's
own work is small against the optimizer's.

Usage::

    python benchmarks/train_step.py
    python benchmarks/train_step.py --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax

try:  # run as a script: benchmarks/ is on sys.path
    import many_leaves
    import step_time
except ImportError:  # imported as benchmarks.train_step
    from benchmarks import many_leaves, step_time


def loss(tree, x):
    """Mean square of ``x[:, :rows] @ W`` summed over the leaves ``W``."""
    total = 0.0
    for leaf in jax.tree_util.tree_leaves(tree):
        matrix = jnp.reshape(leaf, (-1, leaf.shape[-1]))
        total = total + jnp.mean(jnp.square(x[:, : matrix.shape[0]] @ matrix))
    return total


def make_step(opt, packed_params: bool):
    def step(params, state, x):
        if packed_params:
            grads = jax.grad(lambda p: loss(lrjax.unpack_params(p), x))(params)
        else:
            grads = jax.grad(loss)(params, x)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def variants(min_size: int) -> dict:
    """name -> (optimizer maker, parameters kept packed?)."""
    return {
        "optax": (lambda: optax.adam(1e-3), False),
        "lrjax": (lambda: lrjax.adam(1e-3), False),
        "lrjax.packed": (lambda: lrjax.packed(lrjax.adam(1e-3), min_size), False),
        "lrjax.packed + pack_params": (
            lambda: lrjax.packed(lrjax.adam(1e-3), min_size),
            True,
        ),
        "floor: per-leaf sgd": (lambda: optax.sgd(1e-3), False),
        "sgd + pack_params": (lambda: optax.sgd(1e-3), True),
    }


def _compile(opt, params, x, packed_params):
    state = opt.init(params)
    start = time.perf_counter()
    compiled = (
        jax.jit(make_step(opt, packed_params), donate_argnums=(0, 1))
        .lower(params, state, x)
        .compile()
    )
    return compiled, state, time.perf_counter() - start


def compare(tree: dict, min_size: int, rounds: int, steps: int, compiles: int):
    """Medians of alternating rounds: step s, compile s, state B/param."""
    rows = int(max(np.prod(s[:-1]) if len(s) > 1 else 1 for s in tree.values()))
    params = many_leaves._tree(tree)
    x = jnp.asarray(np.random.RandomState(1).randn(8, rows), jnp.float32)
    packed = lrjax.pack_params(params, min_size)
    made = {}
    for k, (make, packed_params) in variants(min_size).items():
        p = packed if packed_params else params
        compiled, state, seconds = _compile(make(), p, x, packed_params)
        made[k] = (compiled, p, state, [seconds], [])
    for r in range(max(rounds, compiles - 1)):
        for k in list(made) if r % 2 == 0 else list(made)[::-1]:
            compiled, p, state, comp_t, step_t = made[k]
            if r < rounds:
                step_t.append(many_leaves.run_steps(compiled, p, state, x, steps))
            if r < compiles - 1:
                make, packed_params = variants(min_size)[k]
                comp_t.append(_compile(make(), p, x, packed_params)[2])
    n = step_time.n_params(params)
    return n, {
        k: {
            "step": statistics.median(step_t),
            "compile": statistics.median(comp_t),
            "bytes": step_time.state_bytes(state) / n,
            "temp": step_time.temp_mib(compiled),
        }
        for k, (compiled, _, state, comp_t, step_t) in made.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    many_leaves.add_tree_arguments(parser, compiles=2)
    parser.add_argument("--write", help="Markdown file to add the section to")
    parser.add_argument(
        "--note", default="", help="added to the section's heading (a setting)"
    )
    args = parser.parse_args()
    label = step_time.machine_label()
    load_start = os.getloadavg()[0]
    print(label, f"load average {load_start:.1f}", flush=True)
    results = {}
    for name, tree in many_leaves.selected_trees(args):
        n, res = compare(tree, args.min_size, args.rounds, args.steps, args.compiles)
        results[name] = (n, len(tree), res)
        base = res["optax"]
        for k, v in res.items():
            print(
                f"{name:30s} {k:28s} step {v['step'] * 1e3:8.3f} ms "
                f"({v['step'] / base['step']:.2f}x optax)  compile "
                f"{v['compile']:6.2f} s ({v['compile'] / base['compile']:.2f}x)  "
                f"{v['bytes']:.3f} B/param  temp {step_time.mib_text(v['temp'])} MiB",
                flush=True,
            )
    load_end = os.getloadavg()[0]
    print(f"load average at the end {load_end:.1f}")
    if args.write:
        write(args, label, results, load_start, load_end)


def write(args, label, results, load_start, load_end) -> None:
    title = "## Training steps on many-leaf trees (`benchmarks/train_step.py`)"
    title += f", {args.note}" if args.note else ""
    env = step_time.allocator_settings()
    note = f" --note '{args.note}'" if args.note else ""
    lines = [
        f"{title}: {label}",
        "",
        f"Command: `{env + ' ' if env else ''}python benchmarks/train_step.py "
        f"--rounds {args.rounds} --steps {args.steps} --compiles {args.compiles}"
        f"{note}`. One jitted step: "
        "`jax.grad` of a loss that reads every leaf through a matrix product, "
        "Adam (lr 1e-3) `update`, `apply_updates`; params and state donated. "
        f"`min_size={args.min_size}`. Medians of alternating rounds in one "
        f"process. Load average {load_start:.1f} at the start, {load_end:.1f} "
        f"at the end, on {os.cpu_count()} cores. Temp: XLA's temporary buffers "
        "per step.",
        "",
        "| tree | params | leaves | step | ms/step | x optax | compile s | x optax "
        "| state B/param | temp MiB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (n, leaves, res) in results.items():
        base = res["optax"]
        for k, v in res.items():
            lines.append(
                f"| {name} | {n / 1e6:.2f}M | {leaves} | {k} | {v['step'] * 1e3:.3f} "
                f"| {v['step'] / base['step']:.2f} | {v['compile']:.2f} "
                f"| {v['compile'] / base['compile']:.2f} | {v['bytes']:.3f} "
                f"| {step_time.mib_text(v['temp'])} |"
            )
    section = "\n".join(lines) + "\n"
    head = f"{title}: {label.split(' (')[0]}"
    step_time.replace_section(args.write, head, section)
    print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
