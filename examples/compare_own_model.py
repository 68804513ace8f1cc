"""Compare learning-rate strategies on your own model: ``lrjax.compare.compare``.

Your parameters, loss and metric (here a small regression network and its mean
squared error, lower is better); every strategy's rate is tuned on the
validation split by successive halving, the chosen rate re-run on fresh seeds
and reported on the test split. Writes the table's CSV files and the figure to
``results_own/`` (or the folder given)::

    python examples/compare_own_model.py [OUT_DIR]
"""

import sys

import jax
import jax.numpy as jnp

import lrjax.compare as lc

x = jax.random.normal(jax.random.PRNGKey(0), (1200, 8))
y = jnp.sin(x @ jnp.linspace(-1.0, 1.0, 8))[:, None]
train, val, test = (x[:800], y[:800]), (x[800:1000], y[800:1000]), (x[1000:], y[1000:])


def init(key):
    k1, k2 = jax.random.split(key)
    return {"w1": jax.random.normal(k1, (8, 32)) / 3, "w2": jax.random.normal(k2, (32, 1)) / 6}  # fmt: skip


def mse(params, batch):
    inputs, targets = batch
    return jnp.mean((jnp.tanh(inputs @ params["w1"]) @ params["w2"] - targets) ** 2)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "results_own"
    results = lc.compare(
        init, mse, train, val, test, mse, metric="mse", higher_is_better=False,
        strategies=["constant", "cosine", "adam"], epochs=9, batch_size=50,
    )  # fmt: skip
    print(lc.format_table(results))
    print("wrote", *lc.write_csv(results, out), lc.plot_results(results, f"{out}/strategies.png"))  # fmt: skip
