"""A small AdamW training run shared by the orbax test and its fresh process.

The test process imports it; ``python tests/checkpoint_training.py CKPT STEPS
OUT`` restores ``CKPT`` with orbax in a fresh process, continues ``STEPS``
steps and writes the parameters, the state's leaves and the learning rate to
the ``.npz`` file ``OUT``.
"""

import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import lrjax  # noqa: E402

TARGET = {"w": jnp.linspace(-1.0, 2.0, 6).reshape(2, 3), "b": jnp.arange(3.0)}


# Built once, outside any trace: the step, init and eval_shape all reuse it.
OPTIMIZER = lrjax.adamw(
    lrjax.warmup_cosine_decay_schedule(0.0, 0.05, 3, 20, end_value=1e-3),
    weight_decay=0.01,
)


def init_params() -> dict:
    return {"w": jnp.zeros((2, 3)), "b": jnp.ones(3)}


def _loss(params, step):
    # The data changes with the step, so a continuation that lost its step
    # count (or anything else) drifts from the uninterrupted run.
    shift = 0.1 * jnp.sin(step.astype(jnp.float32))
    return sum(
        jnp.sum((params[k] - TARGET[k] - shift) ** 2) for k in ("w", "b")
    ) + jnp.sum(params["w"] ** 4)


@jax.jit
def _train_step(params, opt_state, step):
    grads = jax.grad(_loss)(params, step)
    updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
    return lrjax.apply_updates(params, updates), opt_state


def train(params, opt_state, first_step: int, steps: int):
    for step in range(first_step, first_step + steps):
        params, opt_state = _train_step(params, opt_state, jnp.asarray(step))
    return params, opt_state


def as_arrays(params, opt_state) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_leaves((params, opt_state))
    out = {f"leaf{i}": np.asarray(x) for i, x in enumerate(leaves)}
    out["learning_rate"] = np.asarray(lrjax.get_learning_rate(opt_state))
    return out


def abstract_checkpoint():
    """The checkpoint's structure, shapes and dtypes (what orbax restores into)."""
    return jax.eval_shape(
        lambda: {
            "params": init_params(),
            "opt_state": OPTIMIZER.init(init_params()),
            "step": jnp.asarray(0),
        }
    )


def main(ckpt: str, steps: int, out: str) -> None:
    import orbax.checkpoint as ocp

    restored = ocp.StandardCheckpointer().restore(ckpt, abstract_checkpoint())
    params, opt_state = train(
        restored["params"], restored["opt_state"], int(restored["step"]), steps
    )
    np.savez(out, **as_arrays(params, opt_state))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
