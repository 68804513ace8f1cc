"""Tune the learning rate of a Flax ``nnx`` model with ``lrjax.sweep``.

``lrjax.sweep`` trains pure functions: ``init_fn(key) -> params`` and
``loss_fn(params, batch) -> loss``. An ``nnx`` module becomes that pair
through ``nnx.split`` and ``nnx.merge``: ``init_fn`` builds the model from the
key and returns its parameter state (a pytree of arrays), and ``loss_fn``
merges the fixed graph definition with the parameters it is given. Every
strategy then trains its rates x seeds as one compiled, ``jax.vmap``-batched
scan.

The data: 40-dimensional Gaussian inputs labelled by a fixed random teacher
network (10 classes), split into training and test sets. Each strategy tries
8 rates (log-spaced around its usual range) on ``--seeds`` seeds, selecting on
test accuracy; the chosen rate is re-run on 2 fresh seeds, whose accuracy is
the number reported (not the one selected on).

Needs ``flax`` (``pip install lrjax[flax]``). Run::

    python examples/tune_nnx.py [--steps 600] [--seeds 3] [--method grid]
    python examples/tune_nnx.py --method halving
    python examples/tune_nnx.py --quick        # a few seconds
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import lrjax


class MLP(nnx.Module):
    """``din`` -> ``hidden`` ReLU -> ``hidden`` ReLU -> ``classes`` logits."""

    def __init__(self, din: int, hidden: int, classes: int, *, rngs: nnx.Rngs) -> None:
        self.layer1 = nnx.Linear(din, hidden, rngs=rngs)
        self.layer2 = nnx.Linear(hidden, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jax.nn.relu(self.layer1(x))
        return self.out(jax.nn.relu(self.layer2(x)))


def make_data(examples: int, din: int = 40, classes: int = 10, seed: int = 0):
    """Teacher-labelled Gaussian inputs: (train, test) dicts of x and y."""
    kx, kt = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.normal(kx, (examples, din))
    teacher = jax.random.normal(kt, (din, classes))
    y = jnp.argmax(jnp.tanh(x @ teacher) + 0.3 * x[:, :classes], axis=-1)
    cut = examples * 4 // 5
    return {"x": x[:cut], "y": y[:cut]}, {"x": x[cut:], "y": y[cut:]}


def make_model_fns(din: int, hidden: int, classes: int):
    """``init_fn``, ``loss_fn`` and ``eval_fn`` of the nnx model, as pure functions."""
    build = lambda key: MLP(din, hidden, classes, rngs=nnx.Rngs(params=key))
    # The graph definition is static: split an abstract model once.
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: build(jax.random.PRNGKey(0))))

    def init_fn(key: jax.Array) -> nnx.State:
        _, params = nnx.split(build(key))
        return params

    def logits(params: nnx.State, x: jax.Array) -> jax.Array:
        return nnx.merge(graphdef, params)(x)

    def loss_fn(params: nnx.State, batch: dict) -> jax.Array:
        out = logits(params, batch["x"])
        return optax.softmax_cross_entropy_with_integer_labels(out, batch["y"]).mean()

    def eval_fn(params: nnx.State, data: dict) -> dict[str, jax.Array]:
        out = logits(params, data["x"])
        return {
            "accuracy": jnp.mean(jnp.argmax(out, -1) == data["y"]),
            "loss": optax.softmax_cross_entropy_with_integer_labels(
                out, data["y"]
            ).mean(),
        }

    return init_fn, loss_fn, eval_fn


def main(argv: Sequence[str] | None = None) -> lrjax.SweepResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rates", type=int, default=8, help="rates per strategy")
    parser.add_argument("--method", choices=["grid", "halving", "pbt"], default="grid")
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.steps, opts.seeds, opts.examples, opts.hidden = 40, 1, 400, 16
        opts.rates = 3
    train, test = make_data(opts.examples)
    init_fn, loss_fn, eval_fn = make_model_fns(40, opts.hidden, 10)
    steps = opts.steps
    strategies = {
        "adam": lrjax.adam,
        "sgd-cosine": lambda rate: lrjax.sgd(
            lrjax.cosine_decay_schedule(rate, steps), momentum=0.9
        ),
    }
    rates = {
        "adam": np.logspace(-4, -1, opts.rates),
        "sgd-cosine": np.logspace(-3, 0, opts.rates),
    }
    result = lrjax.sweep(
        init_fn,
        loss_fn,
        train,
        batch_size=opts.batch_size,
        steps=steps,
        eval_fn=eval_fn,
        eval_data=test,
        metric="accuracy",
        higher_is_better=True,
        strategies=strategies,
        rates=rates,
        seeds=opts.seeds,
        method=opts.method,
        final_seeds=2,
    )
    for name, runs in result.strategies.items():
        fresh = runs.final_metrics["accuracy"]
        print(
            f"{name:>10}: rate {runs.chosen_rate:.3g}, test accuracy on fresh "
            f"seeds {100 * fresh.mean():.1f}% (selected on "
            f"{100 * np.mean(runs.final_metric[runs.chosen]):.1f}%); "
            f"{runs.member_steps} member-steps, {runs.compilations} compilations, "
            f"compile {runs.compile_seconds:.1f} s, run {runs.run_seconds:.1f} s"
        )
    return result


if __name__ == "__main__":
    main()
