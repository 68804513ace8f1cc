"""The runnable scripts in examples/: tiny configurations, edge cases included."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
QUADRATIC = ROOT / "examples" / "quadratic.py"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fields(line: str) -> dict[str, str]:
    words = line.split()
    return dict(zip(words[::2], words[1::2], strict=False))


def test_quadratic_zero_steps_prints_the_initial_loss_and_rate(capsys):
    final = _load(QUADRATIC).main(steps=0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("initial")
    fields = _fields(lines[0][len("initial") :])
    assert float(fields["loss"]) == pytest.approx(final, rel=1e-5)
    assert fields["lr"] == "0.1"  # the schedule's value at step 0


def test_quadratic_few_steps_prints_every_step_and_the_schedule(capsys):
    final = _load(QUADRATIC).main(steps=3, print_every=1)
    lines = capsys.readouterr().out.splitlines()
    initial = float(_fields(lines[0][len("initial") :])["loss"])
    steps = [line.split() for line in lines[1:4]]
    assert [int(words[1]) for words in steps] == [0, 1, 2]
    for t, words in enumerate(steps):
        # The rate applied at step t: Keras InverseTimeDecay 0.1 / (1 + t / 50),
        # printed to five significant digits.
        assert _fields(" ".join(words[2:]))["lr"] == f"{0.1 / (1 + t / 50):.5g}"
    assert float(_fields(" ".join(steps[0][2:]))["loss"]) == initial
    assert lines[4].startswith(f"loss {initial:.6g} -> ")
    assert final < initial


def test_quadratic_rejects_bad_counts():
    main = _load(QUADRATIC).main
    with pytest.raises(ValueError, match="steps"):
        main(steps=-1)
    with pytest.raises(ValueError, match="print_every"):
        main(steps=1, print_every=0)


@pytest.mark.slow
@pytest.mark.parametrize("steps", ["0", "2"])
def test_quadratic_command_line(steps):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(QUADRATIC), "--steps", steps],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("initial")
    assert "Traceback" not in result.stderr


# --- examples/linear_regression.py ------------------------------------------

LINEAR = ROOT / "examples" / "linear_regression.py"
# The header names "final lr"; its value is the 5th number from the row's end.
_LINEAR_COLUMNS = ("slope", "intercept", "mse", "lr", "settled")


def _linear_rows(out: str) -> dict[str, dict[str, str]]:
    """Table rows: name (which has spaces) -> the five trailing columns."""
    rows = {}
    for line in out.splitlines()[1:]:
        if line.startswith("-"):
            continue
        words = line.split()
        rows[" ".join(words[:-5])] = dict(zip(_LINEAR_COLUMNS, words[-5:], strict=True))
    return rows


def _lstsq(x, y) -> np.ndarray:
    x = np.asarray(x, np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)
    return np.linalg.lstsq(design, np.asarray(y, np.float64), rcond=None)[0]


def test_linear_regression_data_is_the_stated_noisy_line():
    x, y = _load(LINEAR).make_data()
    assert x.shape == y.shape == (200,)
    assert -1 <= float(x.min()) and float(x.max()) <= 1
    residual = np.asarray(y, np.float64) - (2 * np.asarray(x, np.float64) + 1)
    assert 0.08 < residual.std() < 0.12  # noise std 0.1
    assert np.allclose(_lstsq(x, y), [2, 1], atol=0.05)


def test_linear_regression_recovers_lstsq_and_logs_the_schedules_rate(capsys):
    module = _load(LINEAR)
    n = 200
    names = [
        "fixed",
        "step decay",
        "multistep",
        "cosine decay",
        "one-cycle",
        "clipped (redwood)",
    ]
    results = module.main(steps=n, strategies=names + ["adam"])
    rows = _linear_rows(capsys.readouterr().out)
    x, y = (np.asarray(a, np.float64) for a in module.make_data())
    slope, intercept = _lstsq(x, y)
    best_mse = np.mean((slope * x + intercept - y) ** 2)
    reference = rows["least squares (lstsq)"]
    assert float(reference["slope"]) == pytest.approx(slope, abs=1e-5)
    assert float(reference["intercept"]) == pytest.approx(intercept, abs=1e-5)
    assert list(results) == names + ["adam"]
    for name, (w, b, loss) in results.items():
        assert w == pytest.approx(slope, abs=1e-3), name
        assert b == pytest.approx(intercept, abs=1e-3), name
        assert math.isfinite(loss) and loss == pytest.approx(best_mse, rel=1e-4), name
        assert float(rows[name]["slope"]) == pytest.approx(w, abs=1e-5)
    # The printed final rate is the one the last step (t = n - 1) applied.
    t = n - 1
    expected = {
        "fixed": 0.1,
        "step decay": 0.1 * 0.5 ** (t // (n // 4)),  # halved every n/4 steps
        "multistep": 0.1 * 0.1 ** sum(t >= m for m in (n // 2, 3 * n // 4)),
        "cosine decay": 0.1 * (0.01 + 0.99 * (1 + math.cos(math.pi * t / n)) / 2),
        # PyTorch OneCycleLR ends at max_lr / div_factor / final_div_factor.
        "one-cycle": 0.1 / 25 / 1e4,
        "clipped (redwood)": max(0.01, 0.1 * (1 - t / n)),
    }
    for name, rate in expected.items():
        assert float(rows[name]["lr"]) == pytest.approx(rate, rel=1e-4), name


def test_linear_regression_every_strategy_converges_with_defaults(capsys):
    module = _load(LINEAR)
    results = module.main()
    rows = _linear_rows(capsys.readouterr().out)
    reference = _lstsq(*module.make_data())
    assert set(results) == set(module.STRATEGIES) and len(results) >= 17
    for name, (w, b, loss) in results.items():
        assert abs(w - reference[0]) < 0.05 and abs(b - reference[1]) < 0.05, name
        assert math.isfinite(loss), name
        assert rows[name]["settled"] != "-", name  # within 1e-3 by the end
        assert float(rows[name]["lr"]) > 0, name


def test_linear_regression_settled_counts_steps_to_stay_within_tolerance():
    settled = _load(LINEAR).settled
    ref = np.array([2.0, 1.0])
    path = np.array([[0, 0], [2.0005, 1], [2.1, 1], [2, 1.0002], [2, 1]])
    assert settled(path, ref) == 3  # leaves the band again at step index 2
    assert settled(path[3:], ref) == 0
    assert settled(path[:3], ref) is None  # still outside at the end


def test_linear_regression_rejects_bad_arguments():
    main = _load(LINEAR).main
    for steps in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            main(steps=steps, strategies=["fixed"])
    with pytest.raises(ValueError, match="'nope'"):
        main(steps=5, strategies=["fixed", "nope"])
    with pytest.raises(ValueError, match="strategies"):
        main(steps=5, strategies=[])


@pytest.mark.slow
def test_linear_regression_command_line():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, str(LINEAR), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    result = run("--steps", "150", "--strategies", "fixed, adagrad")
    assert result.returncode == 0, result.stderr
    assert list(_linear_rows(result.stdout)) == [
        "least squares (lstsq)",
        "fixed",
        "adagrad",
    ]
    result = run("--strategies", "fixed,warp")
    assert result.returncode == 2 and "unknown strategy 'warp'" in result.stderr


# --- examples/flax_training.py ----------------------------------------------

FLAX = ROOT / "examples" / "flax_training.py"


def test_flax_training_logs_the_schedules_rate_and_learns(capsys):
    pytest.importorskip("flax")
    sklearn_split = pytest.importorskip("sklearn.model_selection")
    digits = pytest.importorskip("sklearn.datasets").load_digits()
    train = sklearn_split.train_test_split(
        digits.data,
        digits.target,
        test_size=0.2,
        stratify=digits.target,
        random_state=0,
    )[0]
    batch, epochs, peak = 128, 2, 0.01
    out = _load(FLAX).main(epochs=epochs, batch_size=batch, peak_lr=peak)
    lines = capsys.readouterr().out.splitlines()
    per_epoch = len(train) // batch  # full minibatches only: 1437 // 128 = 11
    assert out["steps_per_epoch"] == per_epoch == 11
    total, warmup = epochs * per_epoch, epochs * per_epoch // 10

    def rate(t: int) -> float:  # linear warm-up from peak/10, cosine to peak/100
        if t < warmup:
            return peak / 10 + (peak - peak / 10) * t / warmup
        c = (
            1 + math.cos(math.pi * min(t - warmup, total - warmup) / (total - warmup))
        ) / 2
        return peak * (0.99 * c + 0.01)

    last_steps = [e * per_epoch - 1 for e in range(1, epochs + 1)]
    assert out["learning_rates"] == pytest.approx(
        [rate(t) for t in last_steps], rel=1e-5
    )
    assert len(lines) == epochs + 1
    assert [float(line.split()[-1]) for line in lines[1:]] == pytest.approx(
        out["learning_rates"], rel=1e-4
    )
    assert out["train_losses"][1] < out["train_losses"][0] < math.log(10) * 1.2
    assert out["test_accuracy"] > 0.5  # chance is 0.1


def test_flax_training_rejects_bad_arguments():
    pytest.importorskip("flax")
    pytest.importorskip("sklearn")
    main = _load(FLAX).main
    for kwargs, name in [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1438}, "batch_size"),
        ({"peak_lr": 0.0}, "peak_lr"),
        ({"peak_lr": float("nan")}, "peak_lr"),
        ({"hidden": 0}, "hidden"),
    ]:
        with pytest.raises(ValueError, match=name):
            main(**kwargs)
