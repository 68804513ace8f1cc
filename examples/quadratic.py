"""Least squares with lrjax.adamw and a decaying learning rate.

Fits ``y = X @ w_true + noise`` and prints, every few steps, the loss and the
learning rate read back from the optimizer state with
``lrjax.get_learning_rate``. Run: ``python examples/quadratic.py``.
"""

import argparse

import jax
import jax.numpy as jnp

import lrjax


def main(steps: int = 200, print_every: int = 20) -> float:
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

    first = None
    for step in range(steps):
        params, state, loss = train_step(params, state)
        first = float(loss) if first is None else first
        if step % print_every == 0 or step == steps - 1:
            lr = float(lrjax.get_learning_rate(state))
            print(f"step {step:4d}  loss {float(loss):.6f}  lr {lr:.5f}")
    final = float(loss_fn(params))
    print(f"loss {first:.4f} -> {final:.6f} ({first / final:.0f}x lower)")
    return final


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    main(args.steps)
