"""Many-leaf trees: optax vs lrjax vs ``lrjax.packed``, and the in-jit loop.

For each tree (1000 x 64x64; a 144-leaf small GPT; 16 x 512x512; GPT-2's
576 leaves at width 32, a small model; the same at a width that fits the
machine) measures the jitted, donated
Adam step (``update`` + ``apply_updates``), its compile time and the state's
bytes per parameter. Step times are medians of alternating rounds in one
process; compile times are medians of alternating ``lower().compile()`` calls
of fresh functions. Then compares a Python loop of jitted steps with the same
steps inside one jitted ``lax.scan`` over a stack of gradients (the in-jit
training loop).

Usage::

    python benchmarks/many_leaves.py
    python benchmarks/many_leaves.py --write BENCHMARKS.md --label "CPU, 2 cores"
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
    import step_time
except ImportError:  # imported as benchmarks.many_leaves
    from benchmarks import step_time


def _tree(shapes: dict, seed: int = 0) -> dict:
    r = np.random.RandomState(seed)
    return {k: jnp.asarray(r.randn(*s) * 0.02, jnp.float32) for k, s in shapes.items()}


def gpt_shapes(layers: int, d: int) -> dict:
    """12 leaves per block: two layer norms, attention and MLP with biases."""
    shapes = {}
    for i in range(layers):
        p = f"h{i:02d}."
        shapes |= {
            p + "ln1.scale": (d,),
            p + "ln1.bias": (d,),
            p + "attn.qkv.w": (d, 3 * d),
            p + "attn.qkv.b": (3 * d,),
            p + "attn.proj.w": (d, d),
            p + "attn.proj.b": (d,),
            p + "ln2.scale": (d,),
            p + "ln2.bias": (d,),
            p + "mlp.fc.w": (d, 4 * d),
            p + "mlp.fc.b": (4 * d,),
            p + "mlp.proj.w": (4 * d, d),
            p + "mlp.proj.b": (d,),
        }
    return shapes


TREES = {
    "1000 x 64x64": lambda: {f"p{i:04d}": (64, 64) for i in range(1000)},
    "small GPT (144 leaves)": lambda: gpt_shapes(12, 192),
    "16 x 512x512": lambda: {f"p{i:02d}": (512, 512) for i in range(16)},
    # A small model: GPT-2's 576 leaves at width 32, every leaf small.
    "narrow GPT (576 leaves, d=32)": lambda: gpt_shapes(48, 32),
    "GPT-2-like 576 leaves": lambda width: gpt_shapes(48, width),
}


def add_tree_arguments(parser: argparse.ArgumentParser, compiles: int) -> None:
    """The options this script shares with ``train_step.py``."""
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--compiles", type=int, default=compiles)
    parser.add_argument(
        "--min-size",
        type=int,
        default=lrjax.transforms.packed_optimizer.DEFAULT_MIN_SIZE,
    )
    parser.add_argument("--trees", nargs="*", help="substrings of tree names to run")
    parser.add_argument(
        "--gpt2-width",
        type=int,
        help="width d of the GPT-2-like tree: 768 (GPT-2's 340M parameters) on "
        "an accelerator, 128 on a CPU unless given",
    )


def selected_trees(args: argparse.Namespace):
    """``(name, shapes)`` of the trees ``--trees`` picks, GPT-2's width set."""
    width = args.gpt2_width
    if width is None:
        width = 128 if jax.default_backend() == "cpu" else 768
    for name, shapes in TREES.items():
        if args.trees and not any(t in name for t in args.trees):
            continue
        if name.startswith("GPT-2"):
            yield f"{name}, d={width}", shapes(width)
        else:
            yield name, shapes()


def make_step(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def compile_s(opt, params, grads) -> float:
    state = opt.init(params)
    start = time.perf_counter()
    jax.jit(make_step(opt), donate_argnums=(0, 1)).lower(params, state, grads).compile()
    return time.perf_counter() - start


def run_steps(compiled, params, state, grads, n):
    params = jax.tree_util.tree_map(jnp.copy, params)
    state = jax.tree_util.tree_map(jnp.copy, state)
    params, state = compiled(params, state, grads)  # warm
    jax.block_until_ready((params, state))
    start = time.perf_counter()
    for _ in range(n):
        params, state = compiled(params, state, grads)
    jax.block_until_ready((params, state))
    return (time.perf_counter() - start) / n


class TorchAdam:
    """PyTorch's Adam on the same shapes (``fused`` or ``foreach``), CUDA only.

    Times ``optimizer.step()`` with the gradients already in ``.grad``: the
    same work as a jitted ``update`` + ``apply_updates``.
    """

    def __init__(self, params, grads, fused: bool):
        import torch

        self.torch = torch
        self.params = [
            torch.tensor(np.asarray(p), device="cuda").requires_grad_()
            for p in jax.tree_util.tree_leaves(params)
        ]
        for p, g in zip(self.params, jax.tree_util.tree_leaves(grads), strict=True):
            p.grad = torch.tensor(np.asarray(g), device="cuda")
        kind = {"fused": True} if fused else {"foreach": True}
        self.opt = torch.optim.Adam(self.params, lr=1e-3, **kind)
        self.step_s(2)  # creates the state

    def step_s(self, n: int) -> float:
        self.torch.cuda.synchronize()
        start = time.perf_counter()
        with self.torch.no_grad():
            for _ in range(n):
                self.opt.step()
        self.torch.cuda.synchronize()
        return (time.perf_counter() - start) / n

    def state_bytes(self) -> int:
        return sum(
            t.numel() * t.element_size()
            for s in self.opt.state.values()
            for t in s.values()
            if hasattr(t, "numel")
        )


def compare(makers: dict, params, grads, rounds: int, steps: int, compiles: int):
    """Medians of alternating rounds: step seconds, compile seconds, bytes.

    Compile samples: the compile each maker needs anyway, then
    ``compiles - 1`` more of fresh functions, alternating.

    A maker returns an optax transformation, or a :class:`TorchAdam` (timed
    in the same rounds; no compile time).
    """
    opts = {k: m() for k, m in makers.items()}
    jaxed = [k for k, o in opts.items() if not isinstance(o, TorchAdam)]
    states = {k: opts[k].init(params) for k in jaxed}
    compiled, comp_t = {}, {}
    for k in jaxed:  # the first compile of each is its first compile sample
        start = time.perf_counter()
        compiled[k] = (
            jax.jit(make_step(opts[k]), donate_argnums=(0, 1))
            .lower(params, states[k], grads)
            .compile()
        )
        comp_t[k] = [time.perf_counter() - start]
    step_t = {k: [] for k in opts}
    for r in range(max(rounds, compiles - 1)):
        order = list(opts) if r % 2 == 0 else list(opts)[::-1]
        for k in order:
            if r < rounds:
                if k in compiled:
                    t = run_steps(compiled[k], params, states[k], grads, steps)
                else:
                    t = opts[k].step_s(steps)
                step_t[k].append(t)
            if r < compiles - 1 and k in comp_t:
                comp_t[k].append(compile_s(makers[k](), params, grads))
    n = step_time.n_params(params)
    return {
        k: {
            "step": statistics.median(step_t[k]),
            "compile": statistics.median(comp_t[k]) if k in comp_t else None,
            "bytes": (
                step_time.state_bytes(states[k])
                if k in states
                else opts[k].state_bytes()
            )
            / n,
            "temp": step_time.temp_mib(compiled[k]) if k in compiled else None,
        }
        for k in opts
    }


def scan_loop(opt, params, grads, block: int, rounds: int):
    """Per-step seconds: a Python loop of jitted steps vs one jitted scan.

    The scan is the in-jit training loop: ``lax.scan`` over a block of steps
    whose inputs (here the gradients; in training, the batches) are stacked
    along a leading axis, with params and state as the carry.
    """
    step = make_step(opt)
    stack = jax.tree_util.tree_map(lambda g: jnp.stack([g] * block), grads)

    def block_fn(params, state, stack):
        def body(carry, g):
            return step(*carry, g), None

        return jax.lax.scan(body, (params, state), stack)[0]

    one = jax.jit(step, donate_argnums=(0, 1))
    many = jax.jit(block_fn, donate_argnums=(0, 1))
    state = opt.init(params)
    times = {"python loop": [], "lax.scan": []}
    for r in range(rounds):
        for k in (
            ("python loop", "lax.scan") if r % 2 == 0 else ("lax.scan", "python loop")
        ):
            p = jax.tree_util.tree_map(jnp.copy, params)
            s = jax.tree_util.tree_map(jnp.copy, state)
            if k == "lax.scan":
                p, s = many(p, s, stack)  # warm
                jax.block_until_ready((p, s))
                start = time.perf_counter()
                p, s = many(p, s, stack)
            else:
                p, s = one(p, s, grads)
                jax.block_until_ready((p, s))
                start = time.perf_counter()
                for _ in range(block):
                    p, s = one(p, s, grads)
            jax.block_until_ready((p, s))
            times[k].append((time.perf_counter() - start) / block)
    return {k: statistics.median(v) for k, v in times.items()}


def _packed_with_constant_offsets(min_size: int):
    """``lrjax.packed`` with its offsets as plain constants (the design
    alternative, for comparison on each backend)."""
    packing = lrjax.transforms.packed_params

    def constants(layout, probe):
        del probe
        return tuple(jnp.asarray(np.int32(s[1])) for s in layout.slots if s)

    opt = lrjax.packed(lrjax.adam(1e-3), min_size)

    def update(updates, state, params=None):
        saved, packing._opaque_offsets = packing._opaque_offsets, constants
        try:
            return opt.update(updates, state, params)
        finally:
            packing._opaque_offsets = saved

    return optax.GradientTransformation(opt.init, update)


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        print("--torch: torch is not installed; no PyTorch rows")
        return False
    if not torch.cuda.is_available():
        print("--torch: torch sees no CUDA device; no PyTorch rows")
        return False
    return True


def makers_for(args, params, grads) -> dict:
    makers = {
        "optax": lambda: optax.adam(1e-3),
        "lrjax": lambda: lrjax.adam(1e-3),
        "lrjax.packed": lambda: lrjax.packed(lrjax.adam(1e-3), args.min_size),
    }
    if args.constant_offsets:
        makers["lrjax.packed, constant offsets"] = lambda: (
            _packed_with_constant_offsets(args.min_size)
        )
    if args.torch and _torch_cuda():
        makers["torch Adam fused"] = lambda: TorchAdam(params, grads, fused=True)
        makers["torch Adam foreach"] = lambda: TorchAdam(params, grads, fused=False)
    return makers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tree_arguments(parser, compiles=3)
    parser.add_argument(
        "--torch", action="store_true", help="add PyTorch's Adam (CUDA only)"
    )
    parser.add_argument(
        "--no-loop", action="store_true", help="skip the in-jit loop comparison"
    )
    parser.add_argument(
        "--constant-offsets",
        action="store_true",
        help="add lrjax.packed with constant cutting offsets",
    )
    parser.add_argument("--write", help="Markdown file to add the section to")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    label = args.label or step_time.machine_label()
    args.load_start = os.getloadavg()[0]
    print(label, f"load average {args.load_start:.1f}", flush=True)
    results = {}
    for name, shapes in selected_trees(args):
        params = _tree(shapes)
        grads = jax.tree_util.tree_map(lambda p: 0.1 * p + 1e-3, params)
        makers = makers_for(args, params, grads)
        if name.startswith("1000"):
            makers["lrjax.packed, bf16 moments"] = lambda: lrjax.packed(
                lrjax.adam(1e-3, mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16),
                args.min_size,
            )
            makers["floor: per-leaf sgd"] = lambda: optax.sgd(1e-3)
        res = compare(makers, params, grads, args.rounds, args.steps, args.compiles)
        results[name] = (step_time.n_params(params), len(params), res)
        for k, v in res.items():
            compile_text = (
                "n/a"
                if v["compile"] is None
                else f"{v['compile']:6.2f} s "
                f"({v['compile'] / res['optax']['compile']:.2f}x)"
            )
            print(
                f"{name:30s} {k:28s} step {v['step'] * 1e3:8.3f} ms "
                f"({v['step'] / res['optax']['step']:.2f}x optax)  compile "
                f"{compile_text}  {v['bytes']:.2f} B/param  "
                f"temp {step_time.mib_text(v['temp'])} MiB",
                flush=True,
            )
    params = _tree(TREES["1000 x 64x64"]())
    grads = jax.tree_util.tree_map(lambda p: 0.1 * p + 1e-3, params)
    loops = {}
    for k, make in (
        ()
        if args.no_loop
        else (
            ("optax", lambda: optax.adam(1e-3)),
            ("lrjax", lambda: lrjax.adam(1e-3)),
            ("lrjax.packed", lambda: lrjax.packed(lrjax.adam(1e-3), args.min_size)),
        )
    ):
        loops[k] = scan_loop(make(), params, grads, 10, max(5, args.rounds))
        print("in-jit loop", k, {a: f"{b * 1e3:.2f} ms" for a, b in loops[k].items()})
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.write:
        write(args, label, results, loops)


def write(args, label, results, loops) -> None:
    env = step_time.allocator_settings()
    lines = [
        f"## Many-leaf trees (`benchmarks/many_leaves.py`): {label}",
        "",
        f"Command: `{env + ' ' if env else ''}python benchmarks/many_leaves.py "
        f"--rounds {args.rounds} "
        f"--steps {args.steps} --compiles {args.compiles}"
        f"{' --constant-offsets' if args.constant_offsets else ''}"
        f"{' --torch' if args.torch else ''}`; Adam (lr 1e-3), "
        f"`lrjax.packed(..., min_size={args.min_size})`. Step: jitted donated "
        "`update` + `apply_updates`, median of alternating rounds; compile: "
        "median of alternating `lower().compile()`. Load average "
        f"{args.load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
        f"on {os.cpu_count()} cores: read ratios, not absolute times. State "
        "B/param counts every state leaf; temp is XLA's temporary buffers per "
        "step.",
        "",
        "| tree | params | leaves | optimizer | ms/step | x optax | compile s "
        "| x optax | state B/param | temp MiB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (n, leaves, res) in results.items():
        base = res["optax"]
        for k, v in res.items():
            seconds, ratio = "n/a", "n/a"
            if v["compile"] is not None:
                seconds = f"{v['compile']:.2f}"
                ratio = f"{v['compile'] / base['compile']:.2f}"
            lines.append(
                f"| {name} | {n / 1e6:.2f}M | {leaves} | {k} | {v['step'] * 1e3:.3f} "
                f"| {v['step'] / base['step']:.2f} | {seconds} | {ratio} "
                f"| {v['bytes']:.3f} | {step_time.mib_text(v['temp'])} |"
            )
    lines += (
        []
        if not loops
        else [
            "",
            "In-jit training loop, 1000 x 64x64, blocks of 10 steps: a Python loop "
            "of jitted steps vs one jitted `lax.scan` over the stacked inputs "
            "(ms per step):",
            "",
            "| optimizer | python loop | lax.scan | ratio |",
            "|---|---:|---:|---:|",
        ]
    )
    for k, v in loops.items():
        lines.append(
            f"| {k} | {v['python loop'] * 1e3:.2f} | {v['lax.scan'] * 1e3:.2f} "
            f"| {v['lax.scan'] / v['python loop']:.2f} |"
        )
    section = "\n".join(lines) + "\n"
    head = "## Many-leaf trees (`benchmarks/many_leaves.py`): " + label.split(" (")[0]
    step_time.replace_section(args.write, head, section)
    print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
