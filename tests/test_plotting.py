"""plot_schedule, turning_points and the gallery script."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lrjax  # noqa: E402
from lrjax.cli import available_schedules  # noqa: E402
from lrjax.plotting import turning_points  # noqa: E402


def test_plot_schedule_draws_the_values():
    ax = Figure().add_subplot()
    schedule = lrjax.cosine_decay_schedule(0.1, 50, alpha=0.2)
    returned = lrjax.plot_schedule(schedule, 80, ax=ax, label="cosine")
    assert returned is ax
    (line,) = ax.get_lines()
    t = np.minimum(np.arange(80), 50)
    expected = 0.1 * (0.8 * 0.5 * (1 + np.cos(np.pi * t / 50)) + 0.2)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(80))
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-6, atol=1e-8)
    assert line.get_label() == "cosine"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["cosine"]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "learning rate"


def test_plot_schedule_current_axes_and_scalar_schedule():
    plt.figure()
    try:
        ax = lrjax.plot_schedule(lrjax.constant_schedule(0.3), 7)
        assert ax is plt.gca()
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), np.full(7, 0.3))
        assert ax.get_legend() is None
        # Plain Python functions of the step are schedules too.
        lrjax.plot_schedule(lambda t: 0.1 * 0.5 ** (t // 3), 7, label="halving")
        expected = [0.1 * 0.5 ** (t // 3) for t in range(7)]
        np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), expected)
    finally:
        plt.close("all")


def test_plot_schedule_needs_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    with pytest.raises(ImportError, match=r'pip install "lrjax\[examples\]"'):
        lrjax.plot_schedule(lrjax.constant_schedule(0.1), 10)


@pytest.mark.parametrize("num_steps", [0, -3, 2.5, 2**31 + 1])
def test_plot_schedule_rejects_bad_num_steps(num_steps):
    with pytest.raises((ValueError, TypeError), match="num_steps"):
        lrjax.plot_schedule(lrjax.constant_schedule(0.1), num_steps, ax=object())


# ---------------------------------------------------------- turning points


def test_turning_points_piecewise_linear_and_steps():
    t = np.arange(40)
    corner = np.where(t < 10, t / 10, 1.0 - (t - 10) / 60)  # up, then down
    assert turning_points(t, corner) == {10: ["max", "kink"]}

    steps = 0.5 ** (t // 15)  # StepLR
    assert turning_points(t, steps) == {
        15: ["jump", "plateau start"],
        30: ["jump", "plateau start"],
        14: ["plateau end"],
        29: ["plateau end"],
    }


def test_turning_points_smooth_curve_has_none_inside():
    t = np.arange(200)
    cosine = (0.5 * (1 + np.cos(np.pi * np.minimum(t, 150) / 150))).astype(np.float32)
    assert turning_points(t, cosine) == {150: ["plateau start"]}
    assert turning_points(t, np.exp(-t / 50)) == {}
    assert turning_points(t, np.full(200, 0.1)) == {}


def test_turning_points_on_a_grid_report_grid_steps():
    grid = np.arange(0, 1000, 10)
    values = np.abs(grid - 500) / 500.0  # a V with its tip at 500
    assert turning_points(grid, values) == {500: ["min", "kink"]}


# ------------------------------------------------------------------ gallery


def _gallery():
    path = Path(__file__).resolve().parents[1] / "docs" / "make_gallery.py"
    spec = importlib.util.spec_from_file_location("make_gallery", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gallery_shows_every_schedule():
    gallery = _gallery()
    assert gallery.missing_examples() == []
    assert set(gallery.EXAMPLES) <= set(available_schedules())
    for name, (summary, build) in gallery.EXAMPLES.items():
        assert callable(build()), name
        assert summary, name


def test_gallery_png_is_committed():
    png = Path(__file__).resolve().parents[1] / "docs" / "schedules.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_turning_points_of_math_cosine_restarts():
    # SGDR (Loshchilov & Hutter 2017) with T_0 = 10: restarts are jumps.
    t = np.arange(40)
    values = np.array([0.5 * (1 + math.cos(math.pi * (s % 10) / 10)) for s in t])
    found = turning_points(t, values)
    assert {s for s, kinds in found.items() if "jump" in kinds} == {10, 20, 30}
    assert {s for s, kinds in found.items() if "min" in kinds} == {9, 19, 29}
