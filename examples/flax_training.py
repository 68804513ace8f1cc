"""An lrjax optimizer and schedule inside a Flax ``nnx.Optimizer`` training loop.

A two-layer ``nnx`` MLP (64 -> 128 -> 10, ReLU) learns scikit-learn's bundled
8x8 digits (1,797 images, pixels scaled to [0, 1], a fixed stratified 80/20
split with ``random_state=0``) with minibatches and ``lrjax.adamw`` driven by
``lrjax.warmup_cosine_decay_schedule``: a linear warm-up over the first tenth
of the steps from a tenth of the peak rate, then a cosine decay to a
hundredth of it. The optimizer is Flax's current API, ``nnx.Optimizer(model,
tx, wrt=nnx.Param)`` and ``optimizer.update(model, grads)`` inside an
``@nnx.jit`` step (Flax >= 0.11).

Each epoch logs the mean training loss, the test accuracy and the rate the
epoch's last step applied, read with ``lrjax.get_learning_rate(
optimizer.opt_state)``: it unwraps the ``nnx.Variable`` boxes (``OptArray``)
nnx keeps the optax state in, so no ``nnx.state`` or other conversion is
needed. Each epoch runs ``len(train) // batch_size`` full minibatches of a
fresh shuffle (the remainder changes every epoch), so one jitted step serves
every batch.

Needs ``flax`` and ``scikit-learn`` (``pip install lrjax[examples]``).
Run: ``python examples/flax_training.py [--epochs N] [--batch-size B]
[--peak-lr R] [--seed S]``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lrjax
from lrjax.plotting import format_rate


class MLP(nnx.Module):
    """64 pixels -> ``hidden`` ReLU units -> 10 class logits."""

    def __init__(self, hidden: int, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(64, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(jax.nn.relu(self.hidden(x)))


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits, pixels / 16, split 80/20 stratified with ``random_state=0``."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    return train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)


def make_schedule(peak_lr: float, total_steps: int) -> lrjax.Schedule:
    """Warm-up over ``total_steps // 10`` steps, then cosine to ``peak_lr / 100``."""
    return lrjax.warmup_cosine_decay_schedule(
        init_value=peak_lr / 10,
        peak_value=peak_lr,
        warmup_steps=total_steps // 10,
        decay_steps=total_steps,
        end_value=peak_lr / 100,
    )


def loss_fn(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit
def train_step(
    model: MLP, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array
) -> jax.Array:
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)  # updates the model's parameters in place
    return loss


@nnx.jit
def accuracy(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(model(x), axis=-1) == y)


def _check_args(
    epochs: int, batch_size: int, peak_lr: float, hidden: int, train_size: int
) -> None:
    for name, value, low in (("epochs", epochs, 1), ("hidden", hidden, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 1 <= batch_size <= train_size
    ):
        raise ValueError(
            f"batch_size must be an integer in [1, {train_size}] (the training "
            f"set size), got {batch_size!r}."
        )
    if isinstance(peak_lr, bool) or not (
        isinstance(peak_lr, (int, float)) and math.isfinite(peak_lr) and peak_lr > 0
    ):
        raise ValueError(f"peak_lr must be a finite number > 0, got {peak_lr!r}.")


def main(
    epochs: int = 10,
    batch_size: int = 64,
    peak_lr: float = 1e-2,
    hidden: int = 128,
    seed: int = 0,
) -> dict[str, Any]:
    """Trains the MLP and prints one line per epoch.

    Args:
      epochs: passes over the training set, an integer ``>= 1``. Default 10.
      batch_size: examples per step, in ``[1, 1437]`` (the training set).
        Default 64.
      peak_lr: the schedule's peak rate, ``> 0``. Default 1e-2.
      hidden: ReLU units in the hidden layer, ``>= 1``. Default 128.
      seed: seeds the parameters and the shuffles. Default 0.

    Returns:
      ``{"test_accuracy": float, "learning_rates": [rate after each epoch],
      "train_losses": [mean loss of each epoch], "steps_per_epoch": int}``.
    """
    x_train, x_test, y_train, y_test = load_split()
    _check_args(epochs, batch_size, peak_lr, hidden, len(x_train))
    steps_per_epoch = len(x_train) // batch_size
    schedule = make_schedule(peak_lr, epochs * steps_per_epoch)

    model = MLP(hidden, rngs=nnx.Rngs(seed))
    optimizer = nnx.Optimizer(model, lrjax.adamw(schedule), wrt=nnx.Param)
    rng = np.random.default_rng(seed)
    x_test_j, y_test_j = jnp.asarray(x_test), jnp.asarray(y_test)

    print(f"{'epoch':>5}  {'train loss':>10}  {'test acc':>8}  {'lr':>10}")
    rates, losses, test_acc = [], [], 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))[: steps_per_epoch * batch_size]
        batches = order.reshape(steps_per_epoch, batch_size)
        epoch_loss = 0.0
        for idx in batches:
            loss = train_step(model, optimizer, x_train[idx], y_train[idx])
            epoch_loss += float(loss)
        # The rate the epoch's last step applied, read from nnx's wrapped state.
        rate = float(lrjax.get_learning_rate(optimizer.opt_state))
        test_acc = float(accuracy(model, x_test_j, y_test_j))
        rates.append(rate)
        losses.append(epoch_loss / steps_per_epoch)
        print(
            f"{epoch:5d}  {losses[-1]:10.4f}  {test_acc:8.4f}  {format_rate(rate):>10}"
        )
    return {
        "test_accuracy": test_acc,
        "learning_rates": rates,
        "train_losses": losses,
        "steps_per_epoch": steps_per_epoch,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="default 10")
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--peak-lr", type=float, default=1e-2, help="default 1e-2")
    parser.add_argument("--hidden", type=int, default=128, help="default 128")
    parser.add_argument("--seed", type=int, default=0, help="default 0")
    args = parser.parse_args()
    try:
        main(args.epochs, args.batch_size, args.peak_lr, args.hidden, args.seed)
    except ValueError as error:
        parser.error(str(error))
