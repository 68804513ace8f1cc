"""One strategy's whole training run as a single compiled function.

:func:`make_seed_run` builds ``run(key, data) -> Curves`` for one seed: it
initialises the network from ``key``, then runs every epoch as a
``lax.scan`` over shuffled mini-batches inside a ``lax.scan`` over epochs, and
evaluates on the test set after each epoch. :func:`train_seeds` compiles
``jax.vmap(run)`` once and trains all seeds in one call, so a strategy costs one
compilation however many seeds and steps it runs; it times that call apart from
the compilation (and, for short runs, from a warm-up call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from lrjax._learning_rate import get_learning_rate
from lrjax.compare.data import Dataset
from lrjax.compare.models import Model
from lrjax.tune.catalogue import EvalParams, Plan

__all__ = [
    "Curves",
    "RETIME_BELOW_SECONDS",
    "TrainedSeeds",
    "make_seed_run",
    "seed_keys",
    "train_seeds",
]


class Curves(NamedTuple):
    """What one seed's run records (a leading seed axis when batched).

    Attributes:
      train_loss: ``(epochs,)`` mean training loss over each epoch's batches.
      test_loss: ``(epochs,)`` test cross-entropy after each epoch.
      test_accuracy: ``(epochs,)`` test accuracy after each epoch.
      learning_rate: ``(total_steps,)`` the rate each step applied, read from
        the optimizer state with :func:`lrjax.get_learning_rate`.
    """

    train_loss: jax.Array
    test_loss: jax.Array
    test_accuracy: jax.Array
    learning_rate: jax.Array


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Mean softmax cross-entropy of integer labels: ``logits`` ``(n, classes)``,
    ``labels`` ``(n,)``."""
    log_p = jax.nn.log_softmax(jnp.asarray(logits))
    labels = jnp.asarray(labels)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))


def seed_keys(seeds: int) -> jax.Array:
    """Seed ``i``'s key is ``PRNGKey(i)``: the same for every strategy.

    Examples:
        >>> import jax
        >>> import lrjax.compare
        >>> keys = lrjax.compare.seed_keys(3)
        >>> keys.shape
        (3, 2)
        >>> bool((keys[2] == jax.random.PRNGKey(2)).all())
        True
    """
    return jnp.stack([jax.random.PRNGKey(i) for i in range(seeds)])


def make_seed_run(
    model: Model,
    optimizer: optax.GradientTransformation,
    plan: Plan,
    eval_params: EvalParams | None = None,
) -> Callable[[jax.Array, Dataset], Curves]:
    """Builds one seed's training run (not yet compiled).

    Every ``update`` receives ``value=`` the mean training loss of the last
    finished epoch (the full training-set loss at initialisation before the
    first), so rates driven by the training loss (reduce on plateau, the
    loss-driven rate) react once per epoch; other optimizers ignore it.

    Args:
      model: the network.
      optimizer: the strategy's transformation.
      plan: epochs and batches.
      eval_params: ``(opt_state, params) -> params`` to evaluate, for
        strategies that evaluate other weights than they train (schedule-free,
        parameter averaging). Default: the trained parameters.

    Returns:
      ``run(key, data) -> Curves``; ``key`` draws the initial weights and the
      order of the examples in every epoch.
    """
    tx = optax.with_extra_args_support(optimizer)
    steps, batch = plan.steps_per_epoch, plan.batch_size

    def loss_fn(params, images, labels):
        return cross_entropy(model.apply(params, images), labels)

    value_and_grad = jax.value_and_grad(loss_fn)

    def run(key: jax.Array, data: Dataset) -> Curves:
        init_key, order_key = jax.random.split(key)
        params = model.init(init_key)
        opt_state = tx.init(params)
        monitored = loss_fn(params, data.train_x, data.train_y)

        def train_step(carry, indices):
            params, opt_state, monitored = carry
            loss, grads = value_and_grad(
                params, data.train_x[indices], data.train_y[indices]
            )
            updates, opt_state = tx.update(grads, opt_state, params, value=monitored)
            params = optax.apply_updates(params, updates)
            rate = jnp.asarray(get_learning_rate(opt_state), jnp.float32)
            return (params, opt_state, monitored), (loss, rate)

        def epoch(carry, epoch_index):
            params, opt_state, _ = carry
            order = jax.random.permutation(
                jax.random.fold_in(order_key, epoch_index), data.train_x.shape[0]
            )
            batches = order[: steps * batch].reshape(steps, batch)
            carry, (losses, rates) = jax.lax.scan(train_step, carry, batches)
            params, opt_state, _ = carry
            train_loss = jnp.mean(losses)
            weights = params if eval_params is None else eval_params(opt_state, params)
            logits = model.apply(weights, data.test_x)
            test_loss = cross_entropy(logits, data.test_y)
            accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == data.test_y)
            return (params, opt_state, train_loss), (
                train_loss,
                test_loss,
                accuracy,
                rates,
            )

        _, (train_loss, test_loss, accuracy, rates) = jax.lax.scan(
            epoch, (params, opt_state, monitored), jnp.arange(plan.epochs)
        )
        return Curves(train_loss, test_loss, accuracy, rates.reshape(-1))

    return run


# A compiled run's first call pays one-off costs on top of training (tens of
# milliseconds on a CPU, more on the process's first run); a first call
# shorter than this is repeated and the repeat timed, bounding the extra work
# to this much per strategy while the one-off costs stay a few percent of
# longer runs, which are timed on their only call.
RETIME_BELOW_SECONDS = 2.0


class TrainedSeeds(NamedTuple):
    """All seeds of one strategy, as NumPy arrays, with the time they took.

    Attributes:
      curves: :class:`Curves` with a leading seed axis (from the first call).
      compile_seconds: time to trace and compile the batched run.
      run_seconds: time of the timed call (all seeds together), compilation
        and warm-up excluded.
      warmup_seconds: time of the untimed first call when the timed call was
        a repeat (first call under :data:`RETIME_BELOW_SECONDS`), else 0.
    """

    curves: Curves
    compile_seconds: float
    run_seconds: float
    warmup_seconds: float = 0.0


def train_seeds(
    model: Model,
    optimizer: optax.GradientTransformation,
    plan: Plan,
    data: Dataset,
    seeds: int,
    eval_params: EvalParams | None = None,
) -> TrainedSeeds:
    """Trains ``seeds`` seeds of one strategy at once (``jax.vmap``, one compile).

    Compiles ahead of time, then times the compiled call alone; a first call
    under :data:`RETIME_BELOW_SECONDS` counts as warm-up and an identical
    second call is timed instead (the runs are deterministic: the curves are
    the first call's).
    """
    run = make_seed_run(model, optimizer, plan, eval_params)
    batched = jax.jit(jax.vmap(run, in_axes=(0, None)))
    # Inputs on the device before the clock starts.
    keys, arrays = jax.block_until_ready(
        (seed_keys(seeds), Dataset(*(jnp.asarray(a) for a in data)))
    )
    start = time.perf_counter()
    compiled = batched.lower(keys, arrays).compile()
    compiled_at = time.perf_counter()
    curves = jax.block_until_ready(compiled(keys, arrays))
    first_seconds = time.perf_counter() - compiled_at
    warmup_seconds, run_seconds = 0.0, first_seconds
    if first_seconds < RETIME_BELOW_SECONDS:
        again = time.perf_counter()
        jax.block_until_ready(compiled(keys, arrays))
        warmup_seconds, run_seconds = first_seconds, time.perf_counter() - again
    curves = Curves(*(np.asarray(c) for c in curves))
    return TrainedSeeds(curves, compiled_at - start, run_seconds, warmup_seconds)
