"""Where the compile time of a packed Adam step goes, part by part.

Compiles, on one tree (1000 leaves of 64x64 by default), optax's Adam step,
``lrjax.packed``'s, the per-leaf SGD floor, and the pieces of the packed step
on their own: the gather of the gradients into the flat buffer, the cut of
the updates out of it (plus ``apply_updates``) at the branch's opaque
offsets, the same cut with the offsets passed in as arguments (the cheapest
way to keep them out of the kernels, but 1000 more buffers per step), and
the branch alone. Each figure is the median over alternating rounds of a
fresh ``jit(...).lower(...)`` and ``.compile()``, split into the two.
``--write BENCHMARKS.md`` puts the table there.
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
from lrjax.transforms import packed_params as pp

try:  # run as a script: benchmarks/ is on sys.path
    import step_time
except ImportError:  # imported as benchmarks.packed_compile
    from benchmarks import step_time


def _adam_step(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def parts(leaves: int, shape: tuple) -> dict:
    """name -> (function maker, arguments, donated argument numbers)."""
    size = int(np.prod(shape))
    params = {
        f"w{i:04d}": jnp.arange(i * size, (i + 1) * size, dtype=jnp.float32).reshape(
            shape
        )
        for i in range(leaves)
    }
    grads = jax.tree_util.tree_map(lambda p: p * 1e-2, params)
    layout = pp.plan_layout(params, lrjax.transforms.packed_optimizer.DEFAULT_MIN_SIZE)
    flat = pp.pack_tree(layout, params, "parameter")
    offsets = tuple(jnp.asarray(np.int32(s[1])) for s in layout.slots if s)

    def cut_add(p, b):
        return jax.tree_util.tree_map(jnp.add, p, pp.cut_leaves(b))

    def cut_add_given(p, b, o):
        saved = pp._opaque_offsets
        pp._opaque_offsets = lambda layout, probe: o
        try:
            return jax.tree_util.tree_map(jnp.add, p, pp.cut_leaves(b))
        finally:
            pp._opaque_offsets = saved

    def sgd(p, g):
        return jax.tree_util.tree_map(lambda a, b: a - 1e-3 * b, p, g)

    opt_optax, opt_packed = optax.adam(1e-3), lrjax.packed(lrjax.adam(1e-3))
    return {
        "optax Adam step": (
            lambda: _adam_step(opt_optax),
            (params, opt_optax.init(params), grads),
            (0, 1),
        ),
        "lrjax.packed Adam step": (
            lambda: _adam_step(opt_packed),
            (params, opt_packed.init(params), grads),
            (0, 1),
        ),
        "floor: per-leaf SGD step": (lambda: sgd, (params, grads), (0,)),
        "part: gather the gradients (one concatenate)": (
            lambda: lambda g: pp.pack_tree(layout, g, "gradient").buffers,
            (grads,),
            (),
        ),
        "part: cut + apply_updates, branch offsets": (
            lambda: cut_add,
            (params, flat),
            (0,),
        ),
        "part: cut + apply_updates, offsets as arguments": (
            lambda: cut_add_given,
            (params, flat, offsets),
            (0,),
        ),
        "part: the branch alone": (
            lambda: lambda b: pp._opaque_offsets(layout, b.buffers[0]),
            (flat,),
            (),
        ),
    }


def compile_split(make, args, donate) -> tuple[float, float]:
    # A fresh closure each time: jit's caches key on the function object.
    fn = make()
    start = time.perf_counter()
    lowered = jax.jit(lambda *a: fn(*a), donate_argnums=donate).lower(*args)
    mid = time.perf_counter()
    lowered.compile()
    return mid - start, time.perf_counter() - mid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1000)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", help="Markdown file to add the section to")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    todo = parts(args.leaves, (args.side, args.side))
    times: dict[str, list] = {k: [] for k in todo}
    for _ in range(args.rounds):
        for name, (make, fn_args, donate) in todo.items():
            times[name].append(compile_split(make, fn_args, donate))
    rows = []
    base = None
    for name, runs in times.items():
        low = statistics.median(r[0] for r in runs)
        xla = statistics.median(r[1] for r in runs)
        base = base or low + xla
        rows.append((name, low, xla, (low + xla) / base))
        print(
            f"{name:50s} lower {low:5.2f} s  XLA {xla:5.2f} s  x optax {rows[-1][3]:.2f}"
        )
    if args.write:
        write(args, load, rows)


def write(args, load: float, rows: list) -> None:
    tree = f"{args.leaves} x {args.side}x{args.side}"
    lines = [
        f"## Compile time of a packed step, part by part "
        f"(`benchmarks/packed_compile.py`): {step_time.machine_label()}",
        "",
        f"Command: `python benchmarks/packed_compile.py --leaves {args.leaves} "
        f"--side {args.side} --rounds {args.rounds}`. Tree {tree}; medians of "
        f"{args.rounds} alternating rounds of `jit(...).lower(...)` and "
        f"`.compile()`. Load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end.",
        "",
        "| what | lower s | XLA s | total x optax's step |",
        "|---|---:|---:|---:|",
    ]
    for name, low, xla, ratio in rows:
        lines.append(f"| {name} | {low:.2f} | {xla:.2f} | {ratio:.2f} |")
    step_time.replace_section(
        args.write, "## Compile time of a packed step", "\n".join(lines) + "\n"
    )
    print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
