"""lrjax vs optax: jitted step time, compile time and state size, in one run.

For every lrjax optimizer with an optax counterpart, times the jitted
``update + apply_updates`` step on a ~4M-parameter tree, alternating lrjax and
optax runs in the same process and reporting medians and their ratio. Then
measures compile time and step time of a jitted Adam step on a 1000-leaf tree
(64x64 leaves), and the optimizer state's bytes per parameter.

Usage::

    python benchmarks/step_time.py                  # print the tables
    python benchmarks/step_time.py --write BENCHMARKS.md --label "CPU, 2 cores"

``--write`` replaces the section for this device kind (CPU or GPU) in the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib

import lrjax

OPTIMIZERS = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("adagrad", {}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True, "momentum": 0.9}),
    ("adadelta", {}),
    ("adam", {}),
    ("adamw", {}),
    ("amsgrad", {}),
    ("adamax", {}),
    ("adamaxw", {}),
    ("nadam", {}),
    ("nadamw", {}),
    ("radam", {}),
    ("adabelief", {}),
    ("lion", {}),
    ("lamb", {}),
    ("lars", {}),
    ("adafactor", {}),
    ("yogi", {}),
    ("adan", {}),
    ("novograd", {}),
    ("sm3", {}),
    ("sign_sgd", {}),
    ("signum", {}),
    ("rprop", {}),
    ("noisy_sgd", {}),
    ("optimistic_gradient_descent", {}),
    ("optimistic_adam", {}),
    ("fromage", {}),
    # optax.contrib's (polyak_sgd, lbfgs and sophia need the loss at every
    # update and sam two optimizers: not timed here).
    ("adopt", {}),
    ("ademamix", {}),
    ("simplified_ademamix", {}),
    ("madgrad", {}),
    ("muon", {}),
]

# Optimizers whose optax counterpart lives in optax.contrib.
CONTRIB = {"adopt", "ademamix", "simplified_ademamix", "madgrad", "muon"}


def optax_optimizer(name):
    return getattr(optax.contrib if name in CONTRIB else optax, name)


def big_tree(seed: int = 0) -> dict:
    """About 4.2M float32 parameters in an MLP-like tree."""
    shapes = {
        "dense1": {"w": (1024, 2048), "b": (2048,)},
        "dense2": {"w": (2048, 768), "b": (768,)},
        "dense3": {"w": (768, 512), "b": (512,)},
        "head": {"w": (512, 10), "b": (10,)},
    }
    r = np.random.RandomState(seed)
    return jax.tree_util.tree_map(
        lambda s: jnp.asarray(r.randn(*s) * 0.01, jnp.float32),
        shapes,
        is_leaf=lambda x: isinstance(x, tuple),
    )


def many_leaves(n: int = 1000) -> dict:
    r = np.random.RandomState(1)
    return {f"p{i:04d}": jnp.asarray(r.randn(64, 64), jnp.float32) for i in range(n)}


def make_step(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def time_steps(step, params, state, grads, n_steps):
    params = jax.tree_util.tree_map(jnp.copy, params)
    state = jax.tree_util.tree_map(jnp.copy, state)
    jax.block_until_ready((params, state))
    start = time.perf_counter()
    for _ in range(n_steps):
        params, state = step(params, state, grads)
    jax.block_until_ready((params, state))
    return (time.perf_counter() - start) / n_steps


def compare_step_time(name, kwargs, params, grads, rounds, n_steps):
    """Median seconds per step for lrjax and optax, measured alternately."""
    lr = None if name in ("adafactor", "adadelta") else 1e-3
    opts = {
        "lrjax": getattr(lrjax, name)(learning_rate=lr, **kwargs),
        "optax": optax_optimizer(name)(learning_rate=lr if lr else 1.0, **kwargs),
    }
    steps = {k: make_step(o) for k, o in opts.items()}
    states = {k: o.init(params) for k, o in opts.items()}
    for k in opts:  # compile and warm up
        time_steps(steps[k], params, states[k], grads, 2)
    samples = {k: [] for k in opts}
    for r in range(rounds):
        order = ("lrjax", "optax") if r % 2 == 0 else ("optax", "lrjax")
        for k in order:
            samples[k].append(time_steps(steps[k], params, states[k], grads, n_steps))
    return {k: statistics.median(v) for k, v in samples.items()}


def state_bytes(state) -> int:
    return sum(
        x.nbytes for x in jax.tree_util.tree_leaves(state) if hasattr(x, "nbytes")
    )


def n_params(tree) -> int:
    return sum(x.size for x in jax.tree_util.tree_leaves(tree))


def compile_seconds(make_opt, params, grads) -> float:
    opt = make_opt()
    state = opt.init(params)

    def step(params, state, grads):  # a fresh function: no cache hit
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    start = time.perf_counter()
    jax.jit(step).lower(params, state, grads).compile()
    return time.perf_counter() - start


def many_leaf_adam(rounds: int, n_steps: int, compile_rounds: int) -> dict:
    params = many_leaves()
    grads = jax.tree_util.tree_map(lambda p: 0.1 * p, params)
    makers = {"lrjax": lambda: lrjax.adam(1e-3), "optax": lambda: optax.adam(1e-3)}
    compile_s = {k: [] for k in makers}
    for r in range(compile_rounds):
        order = list(makers) if r % 2 == 0 else list(makers)[::-1]
        for k in order:
            compile_s[k].append(compile_seconds(makers[k], params, grads))
    step_s = compare_step_time("adam", {}, params, grads, rounds, n_steps)
    return {
        "compile": {k: statistics.median(v) for k, v in compile_s.items()},
        "step": step_s,
    }


def machine_label() -> str:
    dev = jax.devices()[0]
    kind = dev.device_kind if dev.platform != "cpu" else platform.processor() or "cpu"
    return (
        f"{dev.platform.upper()} ({kind}), {os.cpu_count()} CPU cores, "
        f"jax {jax.__version__}, optax {optax.__version__}, "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--only", nargs="*", help="optimizer names to run")
    parser.add_argument("--write", help="Markdown file to update with the results")
    parser.add_argument("--label", default="", help="machine description")
    args = parser.parse_args()

    params = big_tree()
    grads = jax.tree_util.tree_map(lambda p: 0.1 * p + 1e-3, params)
    print(f"{n_params(params) / 1e6:.2f}M parameters; {machine_label()}")
    rows = []
    for name, kwargs in OPTIMIZERS:
        if args.only and name not in args.only:
            continue
        if not hasattr(lrjax, name):
            print(f"{name}: not in lrjax yet, skipped")
            continue
        t = compare_step_time(name, kwargs, params, grads, args.rounds, args.steps)
        lr = None if name in ("adafactor", "adadelta") else 1e-3
        mem = {
            "lrjax": state_bytes(getattr(lrjax, name)(lr, **kwargs).init(params)),
            "optax": state_bytes(
                optax_optimizer(name)(lr or 1.0, **kwargs).init(params)
            ),
        }
        label = name + "".join(f" {k}={v}" for k, v in kwargs.items())
        rows.append((label, t["lrjax"], t["optax"], mem["lrjax"], mem["optax"]))
        print(
            f"{label:40s} lrjax {t['lrjax'] * 1e3:8.3f} ms  optax "
            f"{t['optax'] * 1e3:8.3f} ms  ratio {t['lrjax'] / t['optax']:.3f}",
            flush=True,
        )

    many = many_leaf_adam(
        args.rounds, args.steps, compile_rounds=max(3, args.rounds // 2)
    )
    print(
        "adam, 1000 leaves of 64x64: compile lrjax "
        f"{many['compile']['lrjax']:.2f} s, optax {many['compile']['optax']:.2f} s; "
        f"step lrjax {many['step']['lrjax'] * 1e3:.2f} ms, "
        f"optax {many['step']['optax'] * 1e3:.2f} ms"
    )
    if args.write:
        write_markdown(
            args.write, args.label or machine_label(), rows, many, params, args
        )


def temp_mib(compiled) -> float | None:
    """XLA's temporary buffers of one step, MiB (None where not reported).

    On Linux CPUs this matters beyond its size: glibc serves blocks above its
    mmap threshold (at most 32 MiB by default) with fresh pages that fault in
    on every step, and a step's temporaries are allocated per call.
    """
    try:
        analysis = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError):  # backends without the analysis
        return None
    size = getattr(analysis, "temp_size_in_bytes", None)
    return None if size is None else size / 2**20


# glibc's allocator settings, recorded with the results when set.
ALLOCATOR_VARIABLES = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "GLIBC_TUNABLES",
    "LD_PRELOAD",
)


def allocator_settings() -> str:
    return " ".join(
        f"{k}={os.environ[k]}" for k in ALLOCATOR_VARIABLES if k in os.environ
    )


def mib_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def replace_section(path: str, head: str, section: str, header: str = "") -> None:
    """Writes ``section`` into the Markdown file ``path`` in place of the
    section whose heading starts with ``head`` (up to the next ``## ``), or
    at the end if there is none; a new file starts with ``header``."""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    else:
        text = header or "# Benchmarks\n"
    start = text.find(head)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def write_markdown(path, label, rows, many, params, args) -> None:
    n = n_params(params)
    platform_name = jax.devices()[0].platform.upper()
    lines = [
        f"## {platform_name}: {label}",
        "",
        f"Command: `python benchmarks/step_time.py --rounds {args.rounds} "
        f"--steps {args.steps}`. Step = jitted `update` + `apply_updates` with "
        f"donated buffers on {n / 1e6:.2f}M float32 parameters; median of "
        f"{args.rounds} alternating rounds of {args.steps} steps each.",
        "",
        "| optimizer | lrjax ms/step | optax ms/step | ratio lrjax/optax "
        "| lrjax state B/param | optax state B/param |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label_, tl, to, ml, mo in rows:
        lines.append(
            f"| {label_} | {tl * 1e3:.3f} | {to * 1e3:.3f} | {tl / to:.3f} "
            f"| {ml / n:.2f} | {mo / n:.2f} |"
        )
    c, s = many["compile"], many["step"]
    lines += [
        "",
        "Adam on 1000 leaves of 64x64 (4.1M parameters); compile time is the "
        f"median of {max(3, args.rounds // 2)} alternating `lower().compile()` "
        "calls of a fresh function:",
        "",
        "| | lrjax | optax | ratio |",
        "|---|---:|---:|---:|",
        f"| compile (s) | {c['lrjax']:.3f} | {c['optax']:.3f} "
        f"| {c['lrjax'] / c['optax']:.3f} |",
        f"| step (ms) | {s['lrjax'] * 1e3:.3f} | {s['optax'] * 1e3:.3f} "
        f"| {s['lrjax'] / s['optax']:.3f} |",
        "",
    ]
    section = "\n".join(lines)
    header = (
        "# Benchmarks\n\nlrjax vs optax, measured in one process by "
        "`benchmarks/step_time.py` (alternating runs, medians).\n\n"
    )
    replace_section(path, f"## {platform_name}:", section, header)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
