"""examples/tune_nnx.py: an nnx model tuned through nnx.split / nnx.merge.

(Named test_sweep_example.py: pytest imports test files without a package by
their base name, and tests/test_examples.py exists.)
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flax")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tune_nnx.py"


def _load():
    spec = importlib.util.spec_from_file_location("tune_nnx", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nnx_example_tunes_and_reruns_on_fresh_seeds(capsys):
    result = _load().main(["--quick"])
    out = capsys.readouterr().out
    assert set(result.strategies) == {"adam", "sgd-cosine"}
    assert result.metric == "accuracy" and result.higher_is_better
    for name, runs in result.strategies.items():
        assert f"{name:>10}: rate {runs.chosen_rate:.3g}" in out
        assert runs.final_metrics["accuracy"].shape == (2,)
        # the selected rate is the best mean accuracy over seeds
        assert runs.chosen == int(np.argmax(runs.final_metric.mean(axis=1)))
        assert np.all(np.isfinite(runs.train_loss))
        # learning: the chosen rate's loss falls
        curve = runs.train_loss[runs.chosen, 0]
        assert curve[-5:].mean() < curve[:5].mean()
