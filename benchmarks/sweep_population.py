"""A rate sweep as one population against the same trials one at a time.

64 trials (16 Adam rates x 4 seeds) of an MLP 40-100-100-10 on MNIST-1D
(4,000 training and 1,000 test signals of length 40, 10 classes; generated
with the ``mnist1d`` package of the ``examples`` extra and cached), batch
100, 1000 steps, test loss and accuracy every 100 steps. Wall times include
compilation:

(a) ``lrjax.sweep`` grid: the 64 members in one compiled, vmapped scan;
    (a2) the same with the CPU cores exposed as XLA devices, so the
    population is sharded over them;
(b) the usual optax way: a jitted step in a Python loop with the rate a Python
    float (so one compilation per trial), host-side shuffling, trials one
    after another; (b2) the same loop reading each step's loss on the host,
    as a loop that logs it does;
(c) one compiled ``lax.scan`` taking the rate as an argument, called 64 times;
(e) the same scan written by hand under ``jax.vmap`` over (rate, seed): what
    ``lrjax.sweep`` adds on top of a hand-written population;
(d) ``lrjax.sweep`` with successive halving: whether it finds the grid's
    rate, with what share of the grid's member-steps, selecting on the test
    accuracy and on the test loss, at the default first rung
    (``steps // eta**2``) and at the deepest (``min_steps=1``).

Usage::

    python benchmarks/sweep_population.py                        # print
    python benchmarks/sweep_population.py --write BENCHMARKS.md  # and write
    python benchmarks/sweep_population.py --quick                # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def make_data() -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """MNIST-1D's 4,000 training and 1,000 test signals (no validation cut)."""
    from lrjax.compare import load_mnist1d

    d = load_mnist1d(validation=0)
    return (
        {"x": jnp.asarray(d.train_x), "y": jnp.asarray(d.train_y)},
        {"x": jnp.asarray(d.test_x), "y": jnp.asarray(d.test_y)},
    )


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


def by_sweep(train, test, rates, seeds, steps, batch, method="grid", eta=3, **kwargs):
    began = time.perf_counter()
    result = lrjax.sweep(
        init, loss_fn, train, batch_size=batch, steps=steps, eval_fn=eval_fn,
        eval_data=test, strategies={"adam": lrjax.adam}, rates=rates, seeds=seeds,
        method=method, eta=eta, progress=False, **kwargs,
    )  # fmt: skip
    return time.perf_counter() - began, result.strategies["adam"]


def by_sharded_sweep(quick: bool) -> dict:
    """(a) in a subprocess whose CPU cores are separate XLA devices
    (``--xla_force_host_platform_device_count``, read when JAX starts), so
    ``lrjax.sweep`` shards the population over them."""
    cores = os.cpu_count() or 1
    flags = os.environ.get("XLA_FLAGS", "")
    env = dict(
        os.environ, XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count={cores}"
    )
    command = [sys.executable, __file__, "--grid-only", *(["--quick"] if quick else [])]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def by_python_loop(train, test, rates, seeds, steps, batch, log_loss=False):
    """Per trial: optax.adam(float), a fresh jitted step, a Python loop;
    ``log_loss`` reads each step's loss on the host, as a loop that logs or
    shows it in a progress bar does (a device sync per step)."""
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
            history = []
            per_epoch = len(x) // batch
            for t in range(steps):
                if t % per_epoch == 0:
                    order = rng.permutation(len(x))
                i = order[(t % per_epoch) * batch : (t % per_epoch + 1) * batch]
                params, state, loss = step(params, state, x[i], y[i])
                if log_loss:
                    history.append(float(loss))
                if (t + 1) % (steps // 10) == 0:
                    metrics = evaluate(params, test)
            finals.append(float(metrics["loss"]))
    return time.perf_counter() - began, np.array(finals)


def scan_run(steps, batch, n):
    """One trial as a function of (rate, seed): sweep's conventions, by hand."""
    per_epoch, every = n // batch, steps // 10

    def run(rate, seed, train, test):
        # PRNGKey(seed) -> init key, data key; a new order at each epoch's
        # first step.
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

    return run


def by_scan(train, test, rates, seeds, steps, batch):
    """One compiled scan with the rate as an argument, called once per trial."""
    run = scan_run(steps, batch, len(train["y"]))
    began = time.perf_counter()
    compiled = jax.jit(run).lower(jnp.float32(0.1), jnp.int32(0), train, test).compile()
    finals = []
    for rate in rates:
        for seed in seeds:
            out = compiled(jnp.float32(rate), jnp.int32(seed), train, test)
            finals.append(float(out["loss"][-1]))
    return time.perf_counter() - began, np.array(finals)


def by_hand_population(train, test, rates, seeds, steps, batch):
    """The same scan under ``jax.vmap`` over (rate, seed), written by hand."""
    run = scan_run(steps, batch, len(train["y"]))
    r = jnp.asarray(np.repeat(rates, len(seeds)), jnp.float32)
    s = jnp.asarray(np.tile(seeds, len(rates)), jnp.int32)
    began = time.perf_counter()
    out = jax.jit(jax.vmap(run, in_axes=(0, 0, None, None)))(r, s, train, test)
    finals = np.asarray(out["loss"][:, -1])
    return time.perf_counter() - began, finals


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


HALVINGS = (
    # (eta, min_steps or None for the default steps // eta**2)
    (3, None),
    (3, 1),
    (2, None),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="4 rates x 2 seeds, 100 steps"
    )
    parser.add_argument("--write", metavar="PATH", help="write the section into PATH")
    parser.add_argument(
        "--grid-only", action="store_true", help=argparse.SUPPRESS
    )  # (a2)'s subprocess: print the grid's seconds and final losses as JSON
    args = parser.parse_args()
    num_rates, num_seeds, steps = (4, 2, 100) if args.quick else (16, 4, 1000)
    batch = 100
    rates = np.logspace(-4, -0.5, num_rates)
    seeds = list(range(num_seeds))
    train, test = make_data()
    jax.block_until_ready(jax.jit(lambda a: a + 1)(train["x"]))  # JAX's start-up
    if args.grid_only:
        seconds, runs = by_sweep(
            train, test, rates, seeds, steps, batch, metric="accuracy",
            higher_is_better=True, devices=jax.devices(),
        )  # fmt: skip
        finals = runs.eval_metrics["loss"][..., -1].ravel().tolist()
        print(json.dumps({"seconds": seconds, "devices": len(jax.devices()),
                          "compile": runs.compile_seconds, "finals": finals}))  # fmt: skip
        return
    load = os.getloadavg()[0]
    acc = dict(metric="accuracy", higher_is_better=True)
    grid_s, grid = by_sweep(train, test, rates, seeds, steps, batch, **acc)
    print(
        f"(a) lrjax.sweep grid: {grid_s:.1f} s (compile {grid.compile_seconds:.1f} s, run {grid.run_seconds:.1f} s)"
    )
    sharded = by_sharded_sweep(args.quick)
    print(
        f"(a2) lrjax.sweep grid over {sharded['devices']} CPU devices: {sharded['seconds']:.1f} s"
    )
    loop_s, _ = by_python_loop(train, test, rates, seeds, steps, batch)
    logged_s, _ = by_python_loop(train, test, rates, seeds, steps, batch, True)
    print(f"(b2) the same, the loss read each step: {logged_s:.1f} s")
    print(f"(b) optax, one compiled step per trial: {loop_s:.1f} s")
    scan_s, scan_finals = by_scan(train, test, rates, seeds, steps, batch)
    print(f"(c) one compiled scan, one call per trial: {scan_s:.1f} s")
    hand_s, hand_finals = by_hand_population(train, test, rates, seeds, steps, batch)
    print(f"(e) hand-written vmapped population: {hand_s:.1f} s")
    # The same trials: equal final test losses at small rates; above, rounding
    # differences between the programs grow along the (overfitting) runs.
    stable = np.repeat(rates < 1e-3, len(seeds))
    finals = grid.eval_metrics["loss"][..., -1].ravel()
    np.testing.assert_allclose(finals[stable], scan_finals[stable], rtol=1e-3)
    np.testing.assert_allclose(finals[stable], hand_finals[stable], rtol=1e-3)
    sharded_finals = np.asarray(sharded["finals"])
    np.testing.assert_allclose(finals[stable], sharded_finals[stable], rtol=1e-3)
    # The grid's mean final metrics at each rate: what a halving pick costs.
    grid_means = {
        k: np.nanmean(grid.eval_metrics[k][..., -1], axis=1)
        for k in ("accuracy", "loss")
    }
    halvings = []
    for metric, higher in (("accuracy", True), ("loss", False)):
        for eta, min_steps in HALVINGS:
            seconds, runs = by_sweep(
                train, test, rates, seeds, steps, batch, "halving", eta,
                metric=metric, higher_is_better=higher, min_steps=min_steps,
            )  # fmt: skip
            halvings.append((metric, eta, min_steps, seconds, runs))
            best = (np.argmax if higher else np.argmin)(grid_means[metric])
            print(
                f"(d) halving on {metric}, eta {eta}, min_steps {min_steps}: "
                f"{seconds:.1f} s, {runs.member_steps} member-steps "
                f"({100 * runs.member_steps / grid.member_steps:.0f}% of the grid's), "
                f"rate {runs.chosen_rate:.3g} (grid: {rates[best]:.3g})"
            )
    trials = len(rates) * len(seeds)
    rows = [
        (f"(a) `lrjax.sweep`, grid: {trials} members, one compiled scan", grid_s, grid.compilations),
        (f"(a2) the same, the population sharded over {sharded['devices']} CPU devices", sharded["seconds"], 1),
        ("(b) optax: jitted step in a Python loop, rate a float, trial after trial", loop_s, trials),
        ("(b2) the same, each step's loss read on the host (a logging loop)", logged_s, trials),
        (f"(c) one compiled `lax.scan`, rate an argument, {trials} calls", scan_s, 1),
        (f"(e) the same scan under `jax.vmap` by hand: {trials} members", hand_s, 1),
    ] + [
        (f"(d) `lrjax.sweep`, successive halving on the {metric}, eta {eta}, "
         f"min_steps {min_steps or f'{steps} // {eta}**2 (default)'}", seconds, runs.compilations)
        for metric, eta, min_steps, seconds, runs in halvings if metric == "accuracy"
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
            grid_means,
            rates,
            seeds,
            steps,
            batch,
        )


def write(
    args, load, rows, loop_s, grid, halvings, grid_means, rates, seeds, steps, batch
):
    lines = [
        f"## Population sweeps (`benchmarks/sweep_population.py`): {step_time.machine_label()}",
        "",
        f"Command: `python benchmarks/sweep_population.py{' --quick' if args.quick else ''}`. "
        f"CPU: {cpu_model()}, {os.cpu_count()} cores (load average {load:.1f} at the "
        f"start, {os.getloadavg()[0]:.1f} at the end). {len(rates)} Adam rates "
        f"({rates[0]:.0e}..{rates[-1]:.2g}) x {len(seeds)} seeds of an MLP 40-100-100-10 "
        f"on MNIST-1D (4,000 training signals), batch {batch}, {steps} steps, test "
        f"loss and accuracy every {steps // 10} steps on 1,000 test signals. Wall "
        "times include compilation; (c)'s and (e)'s final test losses equal (a)'s "
        "to 0.1% for the rates below 1e-3 (above, rounding differences between "
        "the programs grow along the runs, to about 1% at 1e-2).",
        "",
        "| how | wall s | compilations | (b) / this |",
        "|---|---:|---:|---:|",
    ]  # fmt: skip
    for name, seconds, compiles in rows:
        lines.append(
            f"| {name} | {seconds:.1f} | {compiles} | {loop_s / seconds:.2f} |"
        )
    lines += [
        "",
        f"(a) split: compile {grid.compile_seconds:.1f} s (the shared "
        f"initialisation included), run {grid.run_seconds:.1f} s.",
        "",
        "Successive halving against the grid (the grid's mean final metric over "
        "seeds at the rate halving chose, and at the grid's best rate):",
        "",
        "| selected on | eta | first rung | member-steps | of the grid's | rate chosen | grid's final metric there | grid's best (rate) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for metric, eta, _, _, runs in halvings:
        means = grid_means[metric]
        best = int(np.argmax(means) if metric == "accuracy" else np.argmin(means))
        first = int(runs.steps_trained.min())
        lines.append(
            f"| test {metric} | {eta} | {first} | {runs.member_steps} | "
            f"{100 * runs.member_steps / grid.member_steps:.0f}% | {runs.chosen_rate:.3g} | "
            f"{means[runs.chosen]:.4f} | {means[best]:.4f} ({rates[best]:.3g}) |"
        )
    lines += ["", reading(rows, loop_s, halvings, grid_means, rates, grid)]
    step_time.replace_section(
        args.write, "## Population sweeps", "\n".join(lines) + "\n\n"
    )
    print(f"wrote {args.write}")


def reading(rows, loop_s, halvings, grid_means, rates, grid) -> str:
    """The section's conclusions, in words, from this run's numbers."""
    seconds = {name[:3]: t for name, t, _ in rows}
    found = []
    for metric, eta, min_steps, _, runs in halvings:
        means = grid_means[metric]
        best = int(np.argmax(means) if metric == "accuracy" else np.argmin(means))
        share = 100 * runs.member_steps / grid.member_steps
        first = "default first rung" if min_steps is None else f"min_steps={min_steps}"
        verdict = (
            "found the grid's rate"
            if runs.chosen == best
            else (f"chose {runs.chosen_rate:.3g} (grid: {rates[best]:.3g})")
        )
        found.append(
            f"on the test {metric}, eta {eta}, {first}: {verdict} with {share:.0f}%"
        )
    return (
        "Reading: on one XLA CPU device the population costs about what the "
        "same members cost as one compiled run each "
        f"((a) {seconds['(a)']:.1f} s, (c) {seconds['(c)']:.1f} s, (e) "
        f"{seconds['(e)']:.1f} s: `lrjax.sweep` adds nothing over a hand-written "
        f"vmapped population); it beats the usual optax loop (b) by "
        f"{loop_s / seconds['(a)']:.1f}x by skipping the per-trial compilations, "
        "the per-step Python dispatch and the host-side batching "
        f"({seconds['(b2'] / seconds['(a)']:.1f}x over the same loop reading each "
        "step's loss, (b2)). One XLA CPU "
        "device does not keep both cores busy with this population: exposed as "
        f"separate devices (a2), the cores run it in {seconds['(a2']:.1f} s, "
        f"{loop_s / seconds['(a2']:.1f}x faster than (b). The 10x aimed at "
        "needs a device that one member leaves idle (a GPU). Halving: "
        + "; ".join(found)
        + " of the grid's member-steps. The test loss of this MLP rises as it "
        "overfits, so short rungs favour rates that learn fast early (the "
        "short-horizon bias of early stopping); selecting on accuracy, or a "
        "later first rung, avoids it."
    )


if __name__ == "__main__":
    main()
