"""Least squares with lrjax.adamw and a decaying learning rate.

Fits ``y = X @ w_true + noise`` and prints the initial loss and rate, then,
every few steps, the loss and the learning rate read back from the optimizer
state with ``lrjax.get_learning_rate``. Rates are printed to five significant
digits with ``lrjax.plotting.format_rate``, as the ``lrjax`` command does.
Run: ``python examples/quadratic.py [--steps N] [--print-every K]``.
"""

import argparse
import math

import jax
import jax.numpy as jnp

import lrjax
from lrjax.plotting import format_rate


def main(steps: int = 200, print_every: int = 20) -> float:
    """Trains for ``steps >= 0`` steps, printing every ``print_every``; the final loss."""
    if steps < 0 or print_every < 1:
        raise ValueError(
            f"need steps >= 0 and print_every >= 1, got {steps} and {print_every}."
        )
    kx, kw, kn = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, (256, 8))
    w_true = jax.random.normal(kw, (8,))
    y = x @ w_true + 0.01 * jax.random.normal(kn, (256,))
    params = {"w": jnp.zeros(8), "b": jnp.zeros([])}

    def loss_fn(p):
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    # Keras-style inverse-time decay: lr(t) = 0.1 / (1 + t / 50).
    schedule = lrjax.inverse_time_decay_schedule(0.1, decay_steps=50, decay_rate=1.0)

    opt = lrjax.adamw(schedule, weight_decay=1e-4)
    state = opt.init(params)

    @jax.jit
    def train_step(p, s):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, s = opt.update(grads, s, p)
        return lrjax.apply_updates(p, updates), s, loss

    # Before any update the state holds the rate the first step will apply.
    initial = float(loss_fn(params))
    lr = lrjax.get_learning_rate(state)
    print(f"{'initial':10} loss {initial:.6g}  lr {format_rate(lr)}")
    for step in range(steps):
        params, state, loss = train_step(params, state)
        if step % print_every == 0 or step == steps - 1:
            lr = lrjax.get_learning_rate(state)  # the rate this step applied
            print(f"step {step:5d} loss {float(loss):.6g}  lr {format_rate(lr)}")
    final = float(loss_fn(params))
    if steps:
        ratio = initial / final if final > 0 else math.inf
        print(f"loss {initial:.6g} -> {final:.6g} ({ratio:.3g}x lower)")
    return final


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="default 200")
    parser.add_argument("--print-every", type=int, default=20, help="default 20")
    args = parser.parse_args()
    if args.steps < 0 or args.print_every < 1:
        parser.error("--steps must be >= 0 and --print-every >= 1")
    main(args.steps, args.print_every)
