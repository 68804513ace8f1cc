"""A rate sweep as one population against the same trials one at a time.

64 trials (16 Adam rates x 4 seeds) of an MLP 40-100-100-10 on synthetic
data of MNIST-1D's size (4000 training and 1000 test examples, 40 inputs,
10 classes), batch 100, 1000 steps, test loss and accuracy every 100 steps.
Wall times include compilation:

(a) ``lrjax.sweep`` grid: the 64 members in one compiled, vmapped scan;
(b) the usual optax way: a jitted step in a Python loop with the rate a Python
    float (so one compilation per trial), host-side shuffling, trials one
    after another;
(c) one compiled ``lax.scan`` taking the rate as an argument, called 64 times;
(d) ``lrjax.sweep`` with successive halving (eta 3): whether it finds the
    grid's rate, with what share of the grid's member-steps.

Usage::

    python benchmarks/sweep_population.py                        # print
    python benchmarks/sweep_population.py --write BENCHMARKS.md  # and write
    python benchmarks/sweep_population.py --quick                # smoke run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax

try:
    import step_time
except ImportError:  # imported as benchmarks.sweep_population
    from benchmarks import step_time

SIZES = (40, 100, 100, 10)


def make_data(train: int, test: int, seed: int = 0):
    """Teacher-labelled Gaussian inputs of MNIST-1D's shape."""
    kx, kt = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.normal(kx, (train + test, SIZES[0]))
    y = jnp.argmax(x @ jax.random.normal(kt, (SIZES[0], SIZES[-1])), axis=-1)
    return {"x": x[:train], "y": y[:train]}, {"x": x[train:], "y": y[train:]}


def init(key: jax.Array) -> list[dict[str, jax.Array]]:
    layers = []
    for k, (m, n) in zip(
        jax.random.split(key, 3), zip(SIZES[:-1], SIZES[1:], strict=False), strict=True
    ):
        layers.append(
            {"w": jax.random.normal(k, (m, n)) / jnp.sqrt(m), "b": jnp.zeros(n)}
        )
    return layers


def logits(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, batch):
    out = logits(params, batch["x"])
    return optax.softmax_cross_entropy_with_integer_labels(out, batch["y"]).mean()


def eval_fn(params, data):
    out = logits(params, data["x"])
    return {
        "loss": optax.softmax_cross_entropy_with_integer_labels(out, data["y"]).mean(),
        "accuracy": jnp.mean(jnp.argmax(out, -1) == data["y"]),
    }


def by_sweep(train, test, rates, seeds, steps, batch, method="grid", eta=3):
    began = time.perf_counter()
    result = lrjax.sweep(
        init, loss_fn, train, batch_size=batch, steps=steps, eval_fn=eval_fn,
        eval_data=test, strategies={"adam": lrjax.adam}, rates=rates, seeds=seeds,
        method=method, eta=eta, progress=False,
    )  # fmt: skip
    return time.perf_counter() - began, result.strategies["adam"]


def by_python_loop(train, test, rates, seeds, steps, batch):
    """Per trial: optax.adam(float), a fresh jitted step, a Python loop."""
    x, y = np.asarray(train["x"]), np.asarray(train["y"])
    evaluate = jax.jit(eval_fn)
    began = time.perf_counter()
    finals = []
    for rate in rates:
        for seed in seeds:
            tx = optax.adam(float(rate))

            @jax.jit
            def step(params, state, xb, yb, tx=tx):
                loss, grads = jax.value_and_grad(loss_fn)(params, {"x": xb, "y": yb})
                updates, state = tx.update(grads, state, params)
                return optax.apply_updates(params, updates), state, loss

            params = init(jax.random.PRNGKey(seed))
            state = tx.init(params)
            rng = np.random.default_rng(seed)
            per_epoch = len(x) // batch
            for t in range(steps):
                if t % per_epoch == 0:
                    order = rng.permutation(len(x))
                i = order[(t % per_epoch) * batch : (t % per_epoch + 1) * batch]
                params, state, loss = step(params, state, x[i], y[i])
                if (t + 1) % (steps // 10) == 0:
                    metrics = evaluate(params, test)
            finals.append(float(metrics["loss"]))
    return time.perf_counter() - began, np.array(finals)


def by_scan(train, test, rates, seeds, steps, batch):
    """One compiled scan with the rate as an argument, called once per trial."""
    n, per_epoch, every = len(train["y"]), len(train["y"]) // batch, steps // 10

    def run(rate, seed, train, test):
        # sweep's conventions: PRNGKey(seed) -> init key, data key; a new
        # order at each epoch's first step.
        init_key, data_key = jax.random.split(jax.random.PRNGKey(seed))
        params = init(init_key)
        tx = lrjax.adam(rate)

        def one(carry, t):
            params, state, order = carry
            pos = t % per_epoch
            order = jax.lax.cond(
                pos == 0,
                lambda: jax.random.permutation(
                    jax.random.fold_in(data_key, t // per_epoch), n
                ).astype(jnp.int32),
                lambda: order,
            )
            i = jax.lax.dynamic_slice_in_dim(order, pos * batch, batch)
            loss, grads = jax.value_and_grad(loss_fn)(
                params, jax.tree_util.tree_map(lambda a: a[i], train)
            )
            updates, state = tx.update(grads, state, params)
            return (optax.apply_updates(params, updates), state, order), loss

        def period(carry, t0):
            carry, _ = jax.lax.scan(one, carry, t0 + jnp.arange(every))
            return carry, eval_fn(carry[0], test)

        carry = (params, tx.init(params), jnp.zeros(n, jnp.int32))
        _, metrics = jax.lax.scan(period, carry, every * jnp.arange(10))
        return metrics

    began = time.perf_counter()
    compiled = jax.jit(run).lower(jnp.float32(0.1), jnp.int32(0), train, test).compile()
    finals = []
    for rate in rates:
        for seed in seeds:
            out = compiled(jnp.float32(rate), jnp.int32(seed), train, test)
            finals.append(float(out["loss"][-1]))
    return time.perf_counter() - began, np.array(finals)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="4 rates x 2 seeds, 100 steps"
    )
    parser.add_argument("--write", metavar="PATH", help="write the section into PATH")
    args = parser.parse_args()
    num_rates, num_seeds, steps = (4, 2, 100) if args.quick else (16, 4, 1000)
    batch = 100
    rates = np.logspace(-4, -0.5, num_rates)
    seeds = list(range(num_seeds))
    train, test = make_data(4000, 1000)
    jax.block_until_ready(jax.jit(lambda a: a + 1)(train["x"]))  # JAX's start-up
    load = os.getloadavg()[0]
    grid_s, grid = by_sweep(train, test, rates, seeds, steps, batch)
    print(
        f"(a) lrjax.sweep grid: {grid_s:.1f} s (compile {grid.compile_seconds:.1f} s, run {grid.run_seconds:.1f} s)"
    )
    loop_s, _ = by_python_loop(train, test, rates, seeds, steps, batch)
    print(f"(b) optax, one compiled step per trial: {loop_s:.1f} s")
    scan_s, scan_finals = by_scan(train, test, rates, seeds, steps, batch)
    print(f"(c) one compiled scan, one call per trial: {scan_s:.1f} s")
    # The same trials: equal final test losses where training is stable; at
    # large rates rounding differences between the two programs grow.
    stable = np.repeat(rates < 5e-3, len(seeds))
    finals = grid.eval_metrics["loss"][..., -1].ravel()
    np.testing.assert_allclose(finals[stable], scan_finals[stable], rtol=1e-3)
    # The grid's mean final test loss at each rate: what a halving pick costs.
    final = grid.final_metric.mean(axis=1)
    halvings = []
    for eta in (3, 2):
        seconds, runs = by_sweep(
            train, test, rates, seeds, steps, batch, "halving", eta
        )
        halvings.append((eta, seconds, runs))
        print(
            f"(d) halving, eta {eta}: {seconds:.1f} s, {runs.member_steps} member-steps "
            f"({100 * runs.member_steps / grid.member_steps:.0f}% of the grid's), "
            f"rate {runs.chosen_rate:.3g} (grid: {grid.chosen_rate:.3g})"
        )
    trials = len(rates) * len(seeds)
    rows = [
        (f"(a) `lrjax.sweep`, grid: {trials} members, one compiled scan", grid_s, grid.compilations),
        ("(b) optax: jitted step in a Python loop, rate a float, trial after trial", loop_s, len(rates) * len(seeds)),
        (f"(c) one compiled `lax.scan`, rate an argument, {trials} calls", scan_s, 1),
    ] + [
        (f"(d) `lrjax.sweep`, successive halving, eta {eta}", seconds, runs.compilations)
        for eta, seconds, runs in halvings
    ]  # fmt: skip
    for name, seconds, _ in rows:
        print(f"  {name}: {seconds:.1f} s, (b)/this {loop_s / seconds:.2f}")
    if args.write:
        write(
            args,
            load,
            rows,
            loop_s,
            grid,
            halvings,
            final,
            len(rates),
            len(seeds),
            steps,
            batch,
        )


def write(
    args, load, rows, loop_s, grid, halvings, final, num_rates, num_seeds, steps, batch
):
    lines = [
        f"## Population sweeps (`benchmarks/sweep_population.py`): {step_time.machine_label()}",
        "",
        f"Command: `python benchmarks/sweep_population.py{' --quick' if args.quick else ''}`. "
        f"CPU: {cpu_model()}, {os.cpu_count()} cores (shared with other jobs: load "
        f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end). "
        f"{num_rates} Adam rates (1e-4..0.3) x {num_seeds} seeds of an MLP "
        f"40-100-100-10 on 4000 x 40 synthetic inputs, 10 classes, batch {batch}, "
        f"{steps} steps, test loss and accuracy every {steps // 10} steps on 1000 "
        "examples; selected on the test loss. Wall times include compilation; "
        "(c)'s final test losses equal (a)'s for the rates below 5e-3 (above, "
        "rounding differences between the two programs grow along chaotic "
        "trajectories).",
        "",
        "| how | wall s | compilations | (b) / this |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds, compiles in rows:
        lines.append(
            f"| {name} | {seconds:.1f} | {compiles} | {loop_s / seconds:.2f} |"
        )
    lines += [
        "",
        f"(a) split: compile {grid.compile_seconds:.1f} s (the shared "
        f"initialisation included), run {grid.run_seconds:.1f} s.",
        "",
        "| halving | member-steps | of the grid's | rate chosen | grid's final test loss there | at the grid's rate |",
        "|---|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for eta, _, runs in halvings:
        lines.append(
            f"| eta {eta} | {runs.member_steps} | "
            f"{100 * runs.member_steps / grid.member_steps:.0f}% | {runs.chosen_rate:.3g} | "
            f"{final[runs.chosen]:.4f} | {final[grid.chosen]:.4f} ({grid.chosen_rate:.3g}) |"
        )
    step_time.replace_section(
        args.write, "## Population sweeps", "\n".join(lines) + "\n"
    )
    print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
