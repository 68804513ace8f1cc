"""What recording training signals costs: an Adam step with and without it.

Times the jitted ``update + apply_updates`` step (donated buffers) of
``lrjax.adam`` on a ~1M-parameter MLP-like tree, bare and wrapped in
``lrjax.track_signals`` (whole-tree norms only; per top-level group; per
group with a moving average) and in ``lrjax.skip_spikes``. Runs alternate in
one process; the table gives medians over rounds and their ratio to the bare
step. On a shared machine absolute times drift with the load, so the ratio
is the number to read (the load average is recorded beside it).

Usage::

    python benchmarks/signals_overhead.py                        # print
    python benchmarks/signals_overhead.py --write BENCHMARKS.md  # and write
"""

from __future__ import annotations

import argparse
import os
import statistics

import jax
import numpy as np
import optax

import lrjax

try:
    import step_time
except ImportError:  # imported as benchmarks.signals_overhead
    from benchmarks import step_time

HEAD = "## Training-signals overhead"


def mlp_tree(seed: int = 0) -> dict:
    """About 1.05M float32 parameters: four 512x512 layers and a head."""
    r = np.random.RandomState(seed)
    tree = {
        f"dense{i}": {"w": r.randn(512, 512) * 0.04, "b": np.zeros(512)}
        for i in range(4)
    }
    tree["head"] = {"w": r.randn(512, 10) * 0.04, "b": np.zeros(10)}
    return jax.tree_util.tree_map(lambda x: jax.numpy.asarray(x, "float32"), tree)


def variants() -> dict[str, optax.GradientTransformation]:
    adam = lambda: lrjax.adam(1e-3)  # noqa: E731
    return {
        "adam": adam(),
        "track_signals(adam)": lrjax.track_signals(adam()),
        'track_signals(adam, groups="top")': lrjax.track_signals(adam(), groups="top"),
        'track_signals(adam, groups="top", ema_decay=0.99)': lrjax.track_signals(
            adam(), groups="top", ema_decay=0.99
        ),
        "skip_spikes(adam)": lrjax.skip_spikes(adam()),
    }


def measure(rounds: int, n_steps: int) -> tuple[dict[str, float], int]:
    params = mlp_tree()
    grads = jax.tree_util.tree_map(lambda p: 0.1 * p + 1e-3, params)
    opts = variants()
    steps = {k: step_time.make_step(o) for k, o in opts.items()}
    states = {k: o.init(params) for k, o in opts.items()}
    for k in opts:  # compile and warm up
        step_time.time_steps(steps[k], params, states[k], grads, 2)
    samples: dict[str, list[float]] = {k: [] for k in opts}
    names = list(opts)
    for r in range(rounds):
        # Each round starts from a different variant: no fixed position.
        shift = r % len(names)
        for k in names[shift:] + names[:shift]:
            samples[k].append(
                step_time.time_steps(steps[k], params, states[k], grads, n_steps)
            )
    return {k: statistics.median(v) for k, v in samples.items()}, step_time.n_params(
        params
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--write", help="Markdown file to update with the results")
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    medians, n = measure(args.rounds, args.steps)
    load_end = os.getloadavg()[0]
    base = medians["adam"]
    rows = [(k, v / base) for k, v in medians.items()]
    for k, ratio in rows:
        print(f"{k:55s} {medians[k] * 1e3:8.3f} ms  ratio {ratio:.3f}")
    print(f"load average {load_start:.1f} at the start, {load_end:.1f} at the end")
    if not args.write:
        return
    lines = [
        f"{HEAD} (`benchmarks/signals_overhead.py`): {step_time.machine_label()}",
        "",
        f"Command: `python benchmarks/signals_overhead.py --rounds {args.rounds} "
        f"--steps {args.steps}`. Step = jitted `update` + `apply_updates` with "
        f"donated buffers on {n / 1e6:.2f}M float32 parameters (four 512x512 "
        "layers and a head, 10 leaves); median of "
        f"{args.rounds} rounds of {args.steps} steps per variant, the variants "
        "run one after another in a rotating order. The machine was shared "
        f"with other jobs (load average {load_start:.1f} at the start, "
        f"{load_end:.1f} at the end), so only the ratio to the bare Adam step "
        "is given.",
        "",
        "| variant | step time / bare Adam |",
        "|---|---|",
    ]
    lines += [f"| `{k}` | {ratio:.3f} |" for k, ratio in rows]
    lines += [
        "",
        "The recorder adds three sums of squares over the parameters (gradient, "
        "update, parameters); groups and the moving average add only scalar "
        "work. On a 2-core CPU that is not the few percent aimed at: XLA's CPU "
        "backend runs each sum as a pass of its own (the gradient's square, "
        "shared with Adam's second moment, is written to memory before it is "
        "reduced), and `skip_spikes` makes every output of the step wait for "
        "the global gradient norm and select between the old and the new "
        "state. GPU: not measured yet.",
    ]
    step_time.replace_section(args.write, HEAD, "\n".join(lines) + "\n")
    print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
