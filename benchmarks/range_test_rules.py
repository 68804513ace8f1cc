"""Which range-test rule picks a rate that trains? Measured against a grid.

For each problem, optimizer and seed: runs :func:`lrjax.find_learning_rate`
(all seeds at once), trains a fixed budget at each rule's pick, and trains the
same budget at the 13 rates of a log grid 1e-5..10 (half a decade apart), from
the same initialisation and batch order. A pick's score is

    (loss(pick) - loss(best grid rate)) / (loss(untrained) - loss(best grid rate))

on the full training set: 0 is as good as the best grid rate, 1 no better than
not training, below 0 better than the grid; a run that ends non-finite scores
inf. Seed ``s`` initialises and orders the batches as ``find_learning_rate``
does with ``seeds``. The tables give each rule's mean and worst score over
seeds per sweep, then summaries over everything for several skips of the
settling start (``old``: the rules before the skip, where only ``steepest``
left out the first point), and the rule the criterion (lowest worst cell
mean, then lowest mean) selects. Six problems x two optimizers x three sweeps
take about 4 minutes on 2 CPU cores.

Usage::

    python benchmarks/range_test_rules.py                    # print the tables
    python benchmarks/range_test_rules.py --write rules.md   # and write them
    python benchmarks/range_test_rules.py --seeds 3 --budget 200 \\
        --sweeps 1e-7:10:100,1e-4:10:100
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import lrjax
from lrjax.control.range_test_rules import RULES, pick, settling_points

GRID = np.logspace(-5, 1, 13)
BATCH = 32
N = 512


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str
    init: Callable[[jax.Array], Any]  # key -> params
    loss: Callable[[Any, Any], jax.Array]  # (params, batch) -> mean loss
    batches: tuple[jax.Array, jax.Array]  # (steps, BATCH, ...) inputs, targets


def _batched(x: np.ndarray, y: np.ndarray) -> tuple[jax.Array, jax.Array]:
    k = len(x) // BATCH
    return (
        jnp.asarray(x[: k * BATCH].reshape(k, BATCH, *x.shape[1:]), jnp.float32),
        jnp.asarray(y[: k * BATCH].reshape(k, BATCH, *y.shape[1:])),
    )


def _dense(key: jax.Array, sizes: list[int]) -> list[dict[str, jax.Array]]:
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (a, b)) * math.sqrt(2.0 / a), "b": jnp.zeros(b)}
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def _mlp(layers: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in layers[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def _xent(logits: jax.Array, labels: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits)
    return -jnp.take_along_axis(logp, labels[:, None], axis=1).mean()


def two_moons(n: int, noise: float, rng: np.random.RandomState):
    t = rng.uniform(0, np.pi, n)
    label = rng.randint(0, 2, n)
    x = np.where(
        label[:, None] == 0,
        np.stack([np.cos(t), np.sin(t)], 1),
        np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1),
    )
    return x + noise * rng.randn(n, 2), label


def blobs(n: int, dim: int, classes: int, rng: np.random.RandomState):
    centers = rng.randn(classes, dim)
    label = rng.randint(0, classes, n)
    return centers[label] + 1.5 * rng.randn(n, dim), label


def bars(n: int, rng: np.random.RandomState):
    """8x8 images of a horizontal, vertical, diagonal or anti-diagonal bar."""
    label = rng.randint(0, 4, n)
    img = np.zeros((n, 8, 8))
    pos = rng.randint(1, 7, n)
    ar = np.arange(8)
    for i in range(n):
        if label[i] == 0:
            img[i, pos[i], :] = 1
        elif label[i] == 1:
            img[i, :, pos[i]] = 1
        elif label[i] == 2:
            img[i, ar, (ar + pos[i]) % 8] = 1
        else:
            img[i, ar, (pos[i] - ar) % 8] = 1
    return img[..., None] + 0.5 * rng.randn(n, 8, 8, 1), label


def problems() -> list[Problem]:
    rng = np.random.RandomState(0)
    out = []

    x = rng.randn(N, 20) * np.geomspace(0.3, 3.0, 20)
    y = x @ rng.randn(20) + 0.1 * rng.randn(N)

    def ls_init(key):
        return {"w": 0.01 * jax.random.normal(key, (20,)), "b": jnp.zeros([])}

    def ls_loss(p, batch):
        xb, yb = batch
        return 0.5 * jnp.mean((xb @ p["w"] + p["b"] - yb) ** 2)

    out.append(Problem("least squares", ls_init, ls_loss, _batched(x, y)))

    x = rng.randn(N, 20)
    y = (x @ rng.randn(20) + 0.5 * rng.randn(N) > 0).astype(np.float32)

    def lr_loss(p, batch):
        xb, yb = batch
        z = xb @ p["w"] + p["b"]
        return jnp.mean(jax.nn.softplus(z) - yb * z)

    out.append(Problem("logistic regression", ls_init, lr_loss, _batched(x, y)))

    x, y = two_moons(N, 0.15, rng)

    def moons_init(key):
        return _dense(key, [2, 32, 32, 2])

    def mlp_loss(p, batch):
        return _xent(_mlp(p, batch[0]), batch[1])

    out.append(Problem("MLP two moons", moons_init, mlp_loss, _batched(x, y)))

    x, y = blobs(N, 20, 5, rng)
    data = _batched(x, y)
    out.append(
        Problem("MLP blobs 20d/5", lambda k: _dense(k, [20, 64, 5]), mlp_loss, data)
    )
    out.append(
        Problem("linear blobs 20d/5", lambda k: _dense(k, [20, 5]), mlp_loss, data)
    )

    x, y = bars(N, rng)

    def cnn_init(key):
        k1, k2 = jax.random.split(key)
        return {
            "conv": jax.random.normal(k1, (3, 3, 1, 8)) * math.sqrt(2.0 / 9),
            "cb": jnp.zeros(8),
            "dense": _dense(k2, [8, 4]),
        }

    def cnn_loss(p, batch):
        h = jax.lax.conv_general_dilated(
            batch[0],
            p["conv"],
            (1, 1),
            "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        h = jax.nn.relu(h + p["cb"]).mean(axis=(1, 2))
        return _xent(_mlp(p["dense"], h), batch[1])

    out.append(Problem("CNN bars 8x8", cnn_init, cnn_loss, _batched(x, y)))
    return out


OPTIMIZERS = {
    "sgd(momentum=0.9)": lambda lr: lrjax.sgd(lr, momentum=0.9),
    "adam": lambda lr: lrjax.adam(lr),
}


def final_losses(problem: Problem, optimizer, seeds, rates, budget):
    """Full-data loss after ``budget`` steps, for every seed (rows) and every
    rate of its row of ``rates``; column -1 is the untrained loss."""
    xs, ys = problem.batches
    k = xs.shape[0]

    def full_loss(p):
        return jax.vmap(lambda xb, yb: problem.loss(p, (xb, yb)))(xs, ys).mean()

    def train(seed, rate):
        init_key, order_key = jax.random.split(jax.random.key(seed))
        params = problem.init(init_key)
        order = jax.random.permutation(order_key, k)
        opt = optimizer(rate)

        def step(carry, t):
            p, s = carry
            i = order[t % k]
            g = jax.grad(problem.loss)(p, (xs[i], ys[i]))
            u, s = opt.update(g, s, p)
            return (lrjax.apply_updates(p, u), s), None

        (params, _), _ = jax.lax.scan(
            step, (params, opt.init(params)), jnp.arange(budget)
        )
        return full_loss(params)

    def untrained(seed):
        return full_loss(problem.init(jax.random.split(jax.random.key(seed))[0]))

    per_rate = jax.vmap(jax.vmap(train, (None, 0)), (0, 0))
    run = jax.jit(
        lambda s, r: jnp.concatenate(
            [per_rate(s, r), jax.vmap(untrained)(s)[:, None]], 1
        )
    )
    out = np.asarray(
        run(jnp.asarray(seeds, jnp.uint32), jnp.asarray(rates, jnp.float32))
    )
    return np.where(np.isfinite(out), out, np.inf)


@dataclasses.dataclass(frozen=True)
class Sweep:
    min_lr: float
    max_lr: float
    num_steps: int

    def __str__(self) -> str:
        return f"{self.min_lr:g}..{self.max_lr:g} in {self.num_steps} steps"


def skips(sweep: Sweep) -> dict[str, Callable[[str], int]]:
    """Settling skips compared: name -> rule -> points skipped."""
    n = sweep.num_steps
    settled = settling_points(n, 0.98)
    return {
        "old": lambda rule: 1 if rule == "steepest" else 0,
        "10 (Lightning)": lambda rule: 10,
        "n//10": lambda rule: max(1, n // 10),
        "EMA settled (default)": lambda rule: settled,
        "n//3": lambda rule: n // 3,
    }


DEFAULT_SKIP = "EMA settled (default)"


def measure(args, sweeps: list[Sweep]) -> list[dict[str, Any]]:
    """One row per problem, optimizer and sweep: scores[seed, variant]."""
    rows = []
    seeds = list(range(args.seeds))
    for problem in problems():
        for opt_name, optimizer in OPTIMIZERS.items():
            start = time.perf_counter()
            picks, labels = [], []
            for sweep in sweeps:
                result = lrjax.find_learning_rate(
                    problem.loss,
                    problem.init,
                    problem.batches,
                    optimizer,
                    sweep.min_lr,
                    sweep.max_lr,
                    sweep.num_steps,
                    seeds=seeds,
                )
                for name, skip in skips(sweep).items():
                    for rule in RULES:
                        labels.append((sweep, name, rule))
                        picks.append(
                            [
                                pick(rule, result.learning_rates, s, skip(rule))
                                for s in result.smoothed_losses
                            ]
                        )
            picks = np.asarray(picks).T  # seeds x variants
            rates = np.concatenate([np.tile(GRID, (len(seeds), 1)), picks], 1)
            losses = final_losses(problem, optimizer, seeds, rates, args.budget)
            grid, untrained = losses[:, : len(GRID)], losses[:, -1]
            at_pick = losses[:, len(GRID) : -1]
            best = grid.min(1)
            score = (at_pick - best[:, None]) / (untrained - best)[:, None]
            score = np.where(np.isfinite(at_pick), score, np.inf)
            seconds = time.perf_counter() - start
            print(f"{problem.name:>20} {opt_name:>18}: {seconds:.1f} s", flush=True)
            for sweep in sweeps:
                cols = [i for i, lab in enumerate(labels) if lab[0] == sweep]
                rows.append(
                    {
                        "problem": problem.name,
                        "optimizer": opt_name,
                        "sweep": sweep,
                        "variants": [labels[i][1:] for i in cols],
                        "score": score[:, cols],
                        "picks": picks[:, cols],
                        "best_rate": GRID[grid.argmin(1)],
                    }
                )
    return rows


def _fmt(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.2f}"


def _scores(rows, skip: str, rule: str) -> list[np.ndarray]:
    return [r["score"][:, r["variants"].index((skip, rule))] for r in rows]


def choose(rows) -> str:
    """The rule with the lowest worst per-cell mean score (then mean)."""

    def key(rule):
        cells = _scores(rows, DEFAULT_SKIP, rule)
        return max(c.mean() for c in cells), np.concatenate(cells).mean()

    return min(RULES, key=key)


def tables(rows, sweeps: list[Sweep], budget: int, seeds: int) -> str:
    lines = [
        f"Training: {budget} steps (batch {BATCH}, {N} examples) at each pick and "
        "at the 13 rates 1e-5..10. Score = (loss(pick) - loss(best grid rate)) / "
        f"(loss(untrained) - loss(best grid rate)), mean / worst over {seeds} "
        "seeds, median pick after @.",
    ]
    for sweep in sweeps:
        part = [r for r in rows if r["sweep"] == sweep]
        skip = settling_points(sweep.num_steps, 0.98)
        lines += [
            "",
            f"Range test {sweep}; the rules skip the first {skip} points and the last.",
            "",
            "| problem | optimizer | best grid rate | " + " | ".join(RULES) + " |",
            "|---|---|---|" + "---|" * len(RULES),
        ]
        for row in part:
            cells = []
            for rule in RULES:
                i = row["variants"].index((DEFAULT_SKIP, rule))
                s, med = row["score"][:, i], np.median(row["picks"][:, i])
                cells.append(f"{_fmt(s.mean())} / {_fmt(s.max())} @{med:.2g}")
            best = np.median(row["best_rate"])
            lines.append(
                f"| {row['problem']} | {row['optimizer']} | {best:.2g} | "
                + " | ".join(cells)
                + " |"
            )
    lines += [
        "",
        "Every problem, optimizer and seed: mean score / worst cell's mean / "
        "worst run / share of runs within 0.1.",
        "",
        "| sweep | skip | " + " | ".join(RULES) + " |",
        "|---|---|" + "---|" * len(RULES),
    ]
    for sweep in [*sweeps, "all"]:
        part = [r for r in rows if sweep == "all" or r["sweep"] == sweep]
        for skip in skips(sweeps[0]):
            cells = []
            for rule in RULES:
                cell = _scores(part, skip, rule)
                s = np.concatenate(cell)
                worst = max(c.mean() for c in cell)
                cells.append(
                    f"{_fmt(s.mean())} / {_fmt(worst)} / {_fmt(s.max())} / "
                    f"{np.mean(s <= 0.1):.0%}"
                )
            lines.append(f"| {sweep} | {skip} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Lowest worst-cell mean, then mean (EMA-settled skip): {choose(rows)}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=300, help="training steps")
    parser.add_argument(
        "--sweeps",
        default="1e-7:10:100,1e-7:10:200,1e-4:10:100",
        help="range tests, as min_lr:max_lr:num_steps separated by commas",
    )
    parser.add_argument("--write", help="also write the tables to this markdown file")
    args = parser.parse_args()
    sweeps = []
    for text in args.sweeps.split(","):
        lo, hi, n = text.split(":")
        sweeps.append(Sweep(float(lo), float(hi), int(n)))
    rows = measure(args, sweeps)
    text = tables(rows, sweeps, args.budget, args.seeds)
    print(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
