"""Interrupted training runs shared by the checkpoint tests and their fresh process.

``train_fn(opt, loss, extra)`` compiles once: a ``fori_loop`` whose bounds are
arguments, so ``run(params, state, 0, k)`` then ``run(..., k, n)`` and the
uninterrupted ``run(params, state, 0, n)`` share one executable. The data move
with the step (``loss(params, step)``), so a continuation that lost its step
count drifts from the uninterrupted run.

Three configurations are also restored in a fresh process: a schedule-driven
state, a plateau-controlled state and a state sharded over the 8 devices.
``python tests/checkpoint_resume_runs.py ROOT OUT`` restores
``ROOT/<name>`` for each of ``FRESH_PROCESS_RUNS`` with orbax, continues it
from ``SAVE_AT`` to ``TOTAL`` and writes the leaves, the learning rate and the
restored shardings to the ``.npz`` file ``OUT``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

if __name__ == "__main__":
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import lrjax  # noqa: E402

SAVE_AT, TOTAL = 5, 11


def small_params() -> dict:
    r = np.random.RandomState(0)
    return {
        "w": jnp.asarray(1.0 + 0.1 * r.rand(3, 4), jnp.float32),
        "b": jnp.asarray(0.5 + 0.1 * r.rand(4), jnp.float32),
        "s": jnp.asarray(0.3, jnp.float32),
    }


def moving_quadratic(params: Any, step: jax.Array) -> jax.Array:
    """``sum 0.5 c (p - 2 - 0.5 sin(step))^2 + 0.01 p^4`` over every leaf."""
    shift = 2.0 + 0.5 * jnp.sin(step.astype(jnp.float32))
    terms = [
        jnp.sum(0.5 * (1.0 + 0.1 * i) * (p - shift) ** 2 + 0.01 * p**4)
        for i, p in enumerate(jax.tree_util.tree_leaves(params))
    ]
    return sum(terms)


def train_fn(
    opt: optax.GradientTransformation,
    loss: Callable[[Any, jax.Array], jax.Array] = moving_quadratic,
    extra: Callable[[jax.Array], dict] = lambda loss: {},
):
    """``run(params, state, start, stop)``: steps ``start..stop-1``, jitted."""

    def body(step, carry):
        params, state = carry
        value, grads = jax.value_and_grad(loss)(params, step)
        updates, state = opt.update(grads, state, params, **extra(value))
        return lrjax.apply_updates(params, updates), state

    @jax.jit
    def run(params, state, start, stop):
        return jax.lax.fori_loop(start, stop, body, (params, state))

    return run


def leaves(tree: Any) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


# --------------------------------------------------------------------------
# The configurations restored in a fresh process.


def schedule_run():
    """AdamW under warmup + cosine: the rate at each step comes from ``count``."""
    opt = lrjax.adamw(
        lrjax.warmup_cosine_decay_schedule(0.0, 0.1, 3, TOTAL, end_value=1e-3),
        weight_decay=0.01,
    )
    return opt, small_params, train_fn(opt)


def plateau_run():
    """Adam then reduce_on_plateau fed the loss: reductions on both sides of k.

    ``rtol=0.5`` asks each decision to halve the best loss, so the slowly
    falling loss is a plateau and the scale drops every other step.
    """
    opt = optax.chain(
        lrjax.adam(0.05), lrjax.reduce_on_plateau(factor=0.5, patience=1, rtol=0.5)
    )
    return opt, small_params, train_fn(opt, extra=lambda loss: {"value": loss})


def mesh8():
    return jax.make_mesh((8,), ("data",), devices=jax.devices()[:8])


def sharded_params() -> dict:
    """Leaves split over the 8 devices (rows) and one replicated scalar."""
    mesh = mesh8()
    r = np.random.RandomState(1)
    rows = NamedSharding(mesh, P("data"))
    return {
        "w": jax.device_put(jnp.asarray(1.0 + r.rand(16, 4), jnp.float32), rows),
        "b": jax.device_put(jnp.asarray(0.5 + r.rand(8), jnp.float32), rows),
        "s": jax.device_put(jnp.asarray(0.3, jnp.float32), NamedSharding(mesh, P())),
    }


def sharded_run():
    """Lion with a schedule; state made by ``jit(init)``, sharded like params."""
    opt = lrjax.lion(lrjax.cosine_decay_schedule(0.01, TOTAL), weight_decay=0.1)
    return opt, sharded_params, train_fn(opt)


FRESH_PROCESS_RUNS = {
    "schedule": schedule_run,
    "plateau": plateau_run,
    "sharded": sharded_run,
}


def concrete_sharding(sharding: Any, mesh) -> Any:
    """An eval_shape sharding (abstract mesh, or none) on ``mesh``'s devices."""
    spec = getattr(sharding, "spec", None)
    return NamedSharding(mesh, P() if spec is None else spec)


def abstract_checkpoint(opt, make_params, sharded: bool) -> dict:
    """What orbax restores into: structure, shapes, dtypes (and shardings)."""

    def init():
        params = make_params()
        return {"params": params, "opt_state": jax.jit(opt.init)(params)}

    abstract = jax.eval_shape(init)
    if not sharded:
        return abstract
    mesh = mesh8()
    return jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(
            a.shape, a.dtype, sharding=concrete_sharding(a.sharding, mesh)
        ),
        abstract,
    )


def shardings(tree: Any) -> list[str]:
    """Each leaf's partition spec on the 8-device mesh ('' when replicated)."""
    out = []
    for x in jax.tree_util.tree_leaves(tree):
        spec = getattr(x.sharding, "spec", None)
        out.append("" if spec is None else str(tuple(spec)))
    return out


def main(root: str, out: str) -> None:
    import orbax.checkpoint as ocp

    checkpointer = ocp.StandardCheckpointer()
    results = {}
    for name, make in FRESH_PROCESS_RUNS.items():
        opt, make_params, run = make()
        target = abstract_checkpoint(opt, make_params, sharded=name == "sharded")
        restored = checkpointer.restore(os.path.join(root, name), target)
        if name == "sharded":
            # Restored onto the mesh: every leaf placed as targeted.
            for got, want in zip(
                jax.tree_util.tree_leaves(restored),
                jax.tree_util.tree_leaves(target),
                strict=True,
            ):
                assert got.sharding.is_equivalent_to(want.sharding, got.ndim)
        start = (restored["params"], restored["opt_state"])
        params, state = run(*start, SAVE_AT, TOTAL)
        if name == "sharded":
            results[f"{name}/restored_shardings"] = np.asarray(shardings(start))
            results[f"{name}/shardings"] = np.asarray(shardings((params, state)))
        for i, leaf in enumerate(leaves((params, state))):
            results[f"{name}/leaf{i}"] = leaf
        results[f"{name}/learning_rate"] = np.asarray(lrjax.get_learning_rate(state))
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
