"""The runnable scripts in examples/: tiny configurations, edge cases included."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

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
