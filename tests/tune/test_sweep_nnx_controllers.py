"""lrjax.sweep on a Flax nnx model (parameters as nnx.split's nnx.State, as
docs/tuning.md shows) with the rows whose controllers decide at evaluations:
the decided state keeps the carry's structure, and the plateau rule cuts the
rate as PyTorch's ReduceLROnPlateau would on the reported metric."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import lrjax

X = jax.random.normal(jax.random.PRNGKey(0), (64, 4))
Y = (X[:, 0] > 0).astype(jnp.int32)
GRAPHDEF, _ = nnx.split(nnx.eval_shape(lambda: nnx.Linear(4, 2, rngs=nnx.Rngs(0))))


def init(key):
    return nnx.split(nnx.Linear(4, 2, rngs=nnx.Rngs(params=key)))[1]


def loss_fn(params, batch):
    logits = nnx.merge(GRAPHDEF, params)(batch[0])
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()


def test_plateau_and_loss_driven_rows_train_an_nnx_state():
    result = lrjax.sweep(
        init,
        loss_fn,
        (X, Y),
        strategies=["reduce-on-plateau", "loss-driven"],
        rates=[0.05, 0.5],
        steps=12,
        batch_size=16,
        eval_every=4,
        seeds=1,
        progress=False,
    )
    for runs in result.strategies.values():
        assert np.all(np.isfinite(runs.eval_metrics["loss"]))
        assert np.all(np.isfinite(runs.train_loss))
    # The plateau row starts at its rate and can only keep or cut it.
    rate = np.asarray(result.strategies["reduce-on-plateau"].learning_rate)
    np.testing.assert_allclose(rate[:, :, 0], [[0.05], [0.5]], rtol=1e-6)
    assert np.all(np.diff(rate, axis=-1) <= 1e-9)
    # The loss-driven row changes its rate only at evaluations (steps 4 and
    # 8), by its factors 1.1 (loss fell) or 0.5 (rose): the row is
    # loss_adaptive_scale(1.1, 0.5).
    rate = np.asarray(result.strategies["loss-driven"].learning_rate)
    ratio = rate[:, :, 1:] / rate[:, :, :-1]
    changed = np.nonzero(np.abs(ratio - 1) > 1e-6)[-1] + 1
    assert set(changed.tolist()) <= {4, 8}
    assert np.all(
        np.isclose(ratio, 1.0) | np.isclose(ratio, 1.1) | np.isclose(ratio, 0.5)
    )
    assert changed.size  # it did decide
