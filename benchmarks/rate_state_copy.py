"""Host cost of a state field set to a constant at every step (GPU finding).

lrjax's rate block keeps the applied learning rate in the state. Written as
the constant itself, XLA copies the constant into a fresh output buffer at
every step; on an H200 that made a 144-leaf Adam step 3.2-3.3 ms against
optax's 2.6 ms, while passing the field through (or computing it, as
``lrjax._numerics.runtime_value`` does now) matched optax. The variants below
chain lrjax's Adam block with hand-made rate blocks that differ only in how
they write ``count`` and ``learning_rate``; rounds alternate in one process.
Prints ms per jitted, donated step and the ``copy`` instructions XLA left.

Usage::

    python benchmarks/rate_state_copy.py
"""

import statistics
import sys
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax

sys.path.insert(0, "benchmarks")
from many_leaves import gpt_shapes  # noqa: E402


class RateState(NamedTuple):
    count: jax.Array
    learning_rate: jax.Array


def rate(mode: str) -> optax.GradientTransformation:
    """A rate-1e-3 block whose state writes ``count`` and ``learning_rate``
    as ``mode`` says."""

    def init(p):
        return RateState(jnp.zeros([], jnp.int32), jnp.asarray(1e-3, jnp.float32))

    def update(u, s, p=None):
        u = jax.tree.map(lambda x: -1e-3 * x, u)
        count = s.count + 1 if mode != "lr only" else s.count
        lr = (
            s.learning_rate
            if mode in ("passthrough", "count only")
            else jnp.asarray(1e-3, jnp.float32)
        )
        return u, RateState(count, lr)

    return optax.GradientTransformation(init, update)


VARIANTS = {
    "optax.adam": lambda: optax.adam(1e-3),
    "lrjax.adam": lambda: lrjax.adam(1e-3),
    "rate: lr passed through": lambda: optax.chain(
        lrjax.scale_by_adam(), rate("passthrough")
    ),
    "rate: count only": lambda: optax.chain(lrjax.scale_by_adam(), rate("count only")),
    "rate: lr constant only": lambda: optax.chain(
        lrjax.scale_by_adam(), rate("lr only")
    ),
    "rate: both new": lambda: optax.chain(lrjax.scale_by_adam(), rate("both")),
}
TREES = {
    "small GPT": gpt_shapes(12, 192),
    "16 x 512x512": {f"p{i:02d}": (512, 512) for i in range(16)},
}
for tname, shapes in TREES.items():
    r = np.random.RandomState(0)
    params = {
        k: jnp.asarray(r.randn(*s) * 0.02, jnp.float32) for k, s in shapes.items()
    }
    grads = jax.tree.map(lambda p: 0.1 * p + 1e-3, params)
    runs = {}
    for k, mk in VARIANTS.items():
        opt = mk()
        s = opt.init(params)

        def step(p, s, g, opt=opt):
            u, s = opt.update(g, s, p)
            return optax.apply_updates(p, u), s

        c = jax.jit(step, donate_argnums=(0, 1)).lower(params, s, grads).compile()
        txt = c.as_text()
        runs[k] = [
            c,
            jax.tree.map(jnp.copy, params),
            jax.tree.map(jnp.copy, s),
            [],
            txt.count(" copy("),
        ]
    for rnd in range(11):
        for k in list(runs) if rnd % 2 == 0 else list(runs)[::-1]:
            c, p, s, total, _ = runs[k]
            p, s = c(p, s, grads)
            jax.block_until_ready((p, s))
            t0 = time.perf_counter()
            for _ in range(50):
                p, s = c(p, s, grads)
            jax.block_until_ready((p, s))
            total.append((time.perf_counter() - t0) / 50 * 1e3)
            runs[k][1], runs[k][2] = p, s
    for k, (*_, total, copies) in runs.items():
        print(
            f"{tname:14s} {k:26s} step {statistics.median(total):.4f} ms  copies {copies}",
            flush=True,
        )
