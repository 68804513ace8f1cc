"""Draws every built-in lrjax schedule in small multiples: docs/schedules.png.

    python docs/make_gallery.py [OUTPUT.png]

Each public function of ``lrjax.schedules`` needs an entry in ``EXAMPLES``
(representative arguments; wrappers wrap a simple base schedule); the script
stops with the names that lack one, so a new schedule cannot be left out.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import jax  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lrjax  # noqa: E402
from lrjax import schedules as s  # noqa: E402
from lrjax.cli import available_schedules  # noqa: E402

NUM_STEPS = 1000
LR = 0.1

# name -> (argument summary shown under the title, constructor of the schedule)
EXAMPLES: dict[str, tuple[str, Callable[[], Any]]] = {
    "constant_schedule": ("value=0.1", lambda: s.constant_schedule(LR)),
    "linear_schedule": (
        "0.1 -> 0.01 over 800",
        lambda: s.linear_schedule(LR, 0.01, 800),
    ),
    "polynomial_schedule": (
        "0.1 -> 0.001, power=2, 800 steps",
        lambda: s.polynomial_schedule(LR, 0.001, 2.0, 800),
    ),
    "exponential_decay": (
        "rate 0.7 per 100 steps",
        lambda: s.exponential_decay(LR, 100, 0.7),
    ),
    "cosine_decay_schedule": (
        "800 steps, alpha=0.1",
        lambda: s.cosine_decay_schedule(LR, 800, alpha=0.1),
    ),
    "piecewise_constant_schedule": (
        "x0.5 at 300, 600; x0.2 at 800",
        lambda: s.piecewise_constant_schedule(LR, {300: 0.5, 600: 0.5, 800: 0.2}),
    ),
    "piecewise_interpolate_schedule": (
        "cosine, x0.5 at 250 / 500, x0.2 at 800",
        lambda: s.piecewise_interpolate_schedule(
            "cosine", LR, {250: 0.5, 500: 0.5, 800: 0.2}
        ),
    ),
    "join_schedules": (
        "linear up 100, then cosine 900",
        lambda: s.join_schedules(
            [s.linear_schedule(0.0, LR, 100), s.cosine_decay_schedule(LR, 900)],
            [100],
        ),
    ),
    "warmup_constant_schedule": (
        "0 -> 0.1 over 200",
        lambda: s.warmup_constant_schedule(0.0, LR, 200),
    ),
    "warmup_cosine_decay_schedule": (
        "warmup 100, total 1000",
        lambda: s.warmup_cosine_decay_schedule(0.0, LR, 100, 1000, end_value=0.005),
    ),
    "warmup_exponential_decay_schedule": (
        "warmup 100, x0.7 per 100, staircase",
        lambda: s.warmup_exponential_decay_schedule(
            0.0, LR, 100, 100, 0.7, staircase=True
        ),
    ),
    "sgdr_schedule": (
        "cycles of 200, 300, 500",
        lambda: s.sgdr_schedule(
            [
                dict(init_value=0.0, peak_value=LR, warmup_steps=20, decay_steps=n)
                for n in (200, 300, 500)
            ]
        ),
    ),
    "cosine_onecycle_schedule": (
        "1000 steps, peak 0.1",
        lambda: s.cosine_onecycle_schedule(NUM_STEPS, LR),
    ),
    "linear_onecycle_schedule": (
        "1000 steps, peak 0.1",
        lambda: s.linear_onecycle_schedule(NUM_STEPS, LR),
    ),
    "step_decay_schedule": (
        "StepLR: step_size=250, rate 0.5",
        lambda: s.step_decay_schedule(LR, 250, 0.5),
    ),
    "multistep_decay_schedule": (
        "MultiStepLR: 300, 600, 800; rate 0.3",
        lambda: s.multistep_decay_schedule(LR, [300, 600, 800], 0.3),
    ),
    "inverse_time_decay_schedule": (
        "decay_steps=100, rate 0.5",
        lambda: s.inverse_time_decay_schedule(LR, 100, 0.5),
    ),
    "cosine_restarts_schedule": (
        "periods 100, x2; peak x0.8",
        lambda: s.cosine_restarts_schedule(
            LR, 100, period_mult=2.0, peak_decay=0.8, min_value=0.005
        ),
    ),
    "cyclic_schedule": (
        "triangular2, 0.01..0.1, up 100",
        lambda: s.cyclic_schedule(0.01, LR, 100, mode="triangular2"),
    ),
    "one_cycle_schedule": (
        "OneCycleLR, three_phase, linear",
        lambda: s.one_cycle_schedule(
            LR, NUM_STEPS, anneal_strategy="linear", three_phase=True
        ),
    ),
    "warmup_stable_decay_schedule": (
        "100 / 500 / 400, 1-sqrt cooldown",
        lambda: s.warmup_stable_decay_schedule(LR, 100, 500, 400, decay_type="sqrt"),
    ),
    "wsd_schedule": (
        "2 cycles, warmup 0.05, decay 0.3, peak x0.5",
        lambda: s.wsd_schedule(
            LR, NUM_STEPS, warmup=0.05, decay=0.3, cycles=2, peak_decay=0.5
        ),
    ),
    "inverse_sqrt_schedule": (
        "warmup 100",
        lambda: s.inverse_sqrt_schedule(LR, 100),
    ),
    "random_schedule": (
        "log-uniform in [1e-3, 0.1], hold 50",
        lambda: s.random_schedule(jax.random.PRNGKey(0), 1e-3, LR, hold_steps=50),
    ),
    "clip_schedule": (
        "linear 0.12 -> 0 clipped to [0.02, 0.1]",
        lambda: s.clip_schedule(
            s.linear_schedule(0.12, 0.0, NUM_STEPS), min_value=0.02, max_value=LR
        ),
    ),
    "warmup_schedule": (
        "cosine warmup 150 before cosine decay",
        lambda: s.warmup_schedule(
            s.cosine_decay_schedule(LR, 850), 150, warmup_type="cosine"
        ),
    ),
    "per_epoch_schedule": (
        "cosine over 10 epochs, 100 steps each",
        lambda: s.per_epoch_schedule(s.cosine_decay_schedule(LR, 10), 100),
    ),
}


def missing_examples() -> list[str]:
    """Public schedules without an entry in ``EXAMPLES``."""
    return sorted(set(available_schedules()) - set(EXAMPLES))


def draw(path: Path, columns: int = 6) -> Path:
    """Writes the gallery to ``path``; returns it."""
    missing = missing_examples()
    if missing:
        raise SystemExit(f"no gallery example for: {', '.join(missing)}")
    available = available_schedules()
    names = [name for name in EXAMPLES if name in available]
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(3.2 * columns, 2.3 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        summary, build = EXAMPLES[name]
        lrjax.plot_schedule(build(), NUM_STEPS, ax=ax, color="tab:blue", lw=1.5)
        ax.set_title(f"{name}\n{summary}", fontsize=8.5, loc="left")
        ax.title.set_fontweight("normal")
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0.0)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    figure.suptitle(
        f"lrjax schedules (learning rate against step, {NUM_STEPS} steps)",
        fontsize=12,
    )
    figure.savefig(path, dpi=90)
    return path


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "schedules.png"
    print(draw(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
