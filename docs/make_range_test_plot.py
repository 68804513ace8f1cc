"""Runs the guide's range-test example and draws docs/range_test.png.

    python docs/make_range_test_plot.py [OUTPUT.png] [SEEDS]

The example is the one in docs/reacting_rates.md ("Find a learning rate"):
a small MLP on scikit-learn's bundled digits, SGD with momentum, 200 steps
from 1e-7 to 10.
With SEEDS (an integer >= 1), the sweep runs once per seed (initialisation
and batch order) under ``jax.vmap`` and the plot shows the median curve, the
band between the lowest and highest seed, and the spread of the picks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import lrjax  # noqa: E402


def init_fn(key: jax.Array) -> dict[str, jax.Array]:
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (64, 64)) / 8,
        "b1": jnp.zeros(64),
        "w2": jax.random.normal(k2, (64, 10)) / 8,
        "b2": jnp.zeros(10),
    }


def run(seeds: int | None = None) -> lrjax.RangeTestResult:
    x, y = load_digits(return_X_y=True)
    x, y = jnp.asarray(x / 16.0, jnp.float32), jnp.asarray(y)

    def loss_fn(params, batch):
        xb, yb = batch
        hidden = jnp.tanh(xb @ params["w1"] + params["b1"])
        logits = hidden @ params["w2"] + params["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    idx = np.random.RandomState(0).randint(0, len(x), size=(200, 64))  # 200 batches
    return lrjax.find_learning_rate(
        loss_fn,
        init_fn(jax.random.key(0)) if seeds is None else init_fn,
        (x[idx], y[idx]),
        lambda lr: lrjax.sgd(lr, momentum=0.9),
        num_steps=200,
        seeds=seeds,
    )


def main(out: str = "docs/range_test.png", seeds: str | None = None) -> None:
    result = run(None if seeds is None else int(seeds))
    print(
        f"suggestion ({result.rule}) {result.suggestion:.3g}; min/10 "
        f"{result.min_loss_div_10:.3g}, valley {result.valley:.3g}, steepest "
        f"{result.steepest:.3g}; stopped at {result.learning_rates[-1]:.3g} "
        f"(diverged: {result.diverged})"
    )
    if result.seeds is not None:
        lo, hi = result.suggestion_range
        print(f"per seed: {np.array2string(result.suggestions, precision=3)}")
        print(f"median {result.suggestion:.3g}, range {lo:.3g}..{hi:.3g}")
    ax = result.plot()
    title = "Range test: MLP on digits, SGD + momentum 0.9"
    if result.seeds is not None:
        title += f", {len(result.seeds)} seeds"
    ax.set_title(title)
    ax.figure.tight_layout()
    ax.figure.savefig(Path(out), dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:])
