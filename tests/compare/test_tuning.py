"""The tuned comparison: MNIST-1D's cache, the rates lrjax.sweep picks, and
the own-model example."""

import os
import random
import runpy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax
from lrjax.compare import compare, data, rate_grid, select

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "compare_own_model.py"
)


def test_cached_mnist1d_equals_a_fresh_generation(tmp_path, monkeypatch):
    pytest.importorskip("mnist1d")
    monkeypatch.setenv("LRJAX_CACHE_DIR", str(tmp_path))
    assert data.cache_dir() == str(tmp_path)
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    first = data.load_mnist1d()  # generates and caches
    # The generator's global seeding is undone.
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state
    assert [f.endswith(".npz") for f in os.listdir(tmp_path)] == [True]
    fresh = data.make_mnist1d()

    def refuse():
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(data, "make_mnist1d", refuse)
    cached = data.load_mnist1d()
    for got in (first, cached):
        np.testing.assert_array_equal(got.train_x, fresh["x"][:3500])
        np.testing.assert_array_equal(got.val_x, fresh["x"][3500:])
        np.testing.assert_array_equal(got.train_y, fresh["y"][:3500])
        np.testing.assert_array_equal(got.val_y, fresh["y"][3500:])
        np.testing.assert_array_equal(got.test_x, fresh["x_test"])
        np.testing.assert_array_equal(got.test_y, fresh["y_test"])
    assert cached.train_x.shape == (3500, 40) and cached.test_x.shape == (1000, 40)
    assert cached.train_x.dtype == np.float32 and cached.test_y.dtype == np.int32
    assert set(np.unique(cached.train_y)) == set(range(10))


def test_cache_dir_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("LRJAX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.cache_dir() == os.path.join(str(tmp_path), "lrjax")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.cache_dir() == os.path.join(str(tmp_path), ".cache", "lrjax")


def _problem():
    """A small classification problem: 2-D points in 3 classes."""
    x = jax.random.normal(jax.random.PRNGKey(0), (700, 2))
    y = (jnp.sum(x, axis=1) > 0).astype(jnp.int32) + (x[:, 0] > 1).astype(jnp.int32)
    split = lambda a, b: (x[a:b], y[a:b])

    def init(key):
        return {"w": jax.random.normal(key, (2, 3)) * 0.1, "b": jnp.zeros(3)}

    def loss(params, batch):
        logits = batch[0] @ params["w"] + params["b"]
        log_p = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(log_p, batch[1][:, None], axis=1))

    def accuracy(params, batch):
        logits = batch[0] @ params["w"] + params["b"]
        return jnp.mean(jnp.argmax(logits, -1) == batch[1])

    return init, loss, accuracy, split(0, 500), split(500, 600), split(600, 700)


def test_tuned_rate_is_the_one_lrjax_sweep_picks():
    init, loss, accuracy, train, val, test = _problem()
    names = ["cosine", "reduce-on-plateau"]  # a schedule and a controller
    results = compare(
        init, loss, train, val, test, accuracy, strategies=names, epochs=9,
        batch_size=50, seeds=2, final_seeds=2, rate_points=3, progress=False,
    )  # fmt: skip
    # The same settings, the rows by name: lrjax.sweep's own context.
    direct = lrjax.sweep(
        init, loss, train, strategies=names, steps=9 * 10, batch_size=50,
        eval_fn=lambda p, d: {"accuracy": accuracy(p, d)}, eval_data=val,
        metric="accuracy", higher_is_better=True, eval_every=10,
        rates={n: rate_grid(select([n])[0].rate, 3) for n in names}, seeds=2,
        method="halving", eta=3, progress=False,
    )  # fmt: skip
    for result in results:
        runs = direct.strategies[result.strategy.name]
        assert result.tuned and result.rate == runs.chosen_rate
        np.testing.assert_array_equal(result.sweep.final_metric, runs.final_metric)
        assert result.seed_list == (2, 3)  # fresh seeds
        assert result.curves.test_accuracy.shape == (2, 9)
        assert result.curves.learning_rate.shape == (2, 90)
        assert np.all(np.isfinite(result.curves.train_loss))
    # Untuned: the hand-set rate on seeds 0 and 1.
    (fixed,) = compare(
        init, loss, train, val, test, accuracy, strategies=["cosine"], epochs=3,
        batch_size=50, final_seeds=2, tune=False, progress=False,
    )  # fmt: skip
    assert (fixed.rate, fixed.tuned, fixed.seed_list, fixed.sweep) == (0.1, False, (0, 1), None)  # fmt: skip


# 20 s; the default run already runs compare() on an own model (the docs
# page's example in test_readme_examples.py).
@pytest.mark.slow
def test_own_model_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr("sys.argv", [EXAMPLE, str(tmp_path)])
    runpy.run_path(EXAMPLE, run_name="__main__")
    printed = capsys.readouterr().out
    assert "test mse" in printed and "wrote" in printed
    for name in ("strategies.csv", "strategies_curves.csv", "sweep.csv", "strategies.png"):  # fmt: skip
        assert (tmp_path / name).exists(), name
    header = (tmp_path / "strategies.csv").read_text().splitlines()[0]
    assert "test_mse" in header and "test_accuracy" not in header
