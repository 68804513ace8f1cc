"""The small regression problem the sweep tests train: 48 examples, a 4-8-1 MLP."""

import jax
import jax.numpy as jnp

ONE = jax.devices()[:1]
N, BATCH = 48, 8
X = jax.random.normal(jax.random.PRNGKey(42), (N, 4))
Y = jnp.tanh(X @ jnp.array([1.0, -2.0, 0.5, 0.3]))[:, None]
DATA = {"x": X, "y": Y}


def init(key):
    k1, k2 = jax.random.split(key)
    return {
        "w1": 0.5 * jax.random.normal(k1, (4, 8)),
        "b1": jnp.zeros(8),
        "w2": 0.5 * jax.random.normal(k2, (8, 1)),
    }


def loss_fn(params, batch):
    h = jnp.tanh(batch["x"] @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] - batch["y"]) ** 2)
