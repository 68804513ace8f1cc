"""``lrjax schedule``: arguments that take a value or a list (``wsd_schedule``'s
``peak_value``), and the plot's title, against formulas written out here."""

from __future__ import annotations

import inspect
import re

import pytest

from lrjax import cli
from lrjax.cli.aliases import ALIASES, alias_function
from lrjax.cli.arguments import parse_kind
from lrjax.cli.schedule import _argument_docs, wrap_title


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def table(out: str) -> dict[int, float]:
    """``{step: rate}`` from the printed table."""
    return {
        int(parts[0]): float(parts[1])
        for parts in (line.split() for line in out.splitlines())
        if parts and parts[0].isdigit()
    }


def wsd_two_cycles(t: int, peaks: list[float]) -> float:
    """Two cycles of 100 steps: 10 warmup (from 0), 70 stable, 20 linear
    cooldown (to 0); cycle ``k`` peaks at ``peaks[k]``."""
    if t >= 200:
        return 0.0
    peak, c = peaks[t // 100], t % 100
    if c < 10:
        return peak * c / 10
    if c < 80:
        return peak
    return peak * (1 - (c - 80) / 20)


WSD = ["wsd_schedule", "--total-steps", "200", "--cycles", "2"]
WSD += ["--warmup", "0.1", "--decay", "0.2"]


@pytest.mark.parametrize(
    "given, peaks",
    [
        (["1e-3,5e-4"], [1e-3, 5e-4]),
        (["1e-3", "5e-4"], [1e-3, 5e-4]),
        (["2e-3, 1e-4"], [2e-3, 1e-4]),
        (["1e-3"], [1e-3, 1e-3]),  # one value: the peak of every cycle
        (["1"], [1.0, 1.0]),
    ],
)
def test_peak_value_takes_one_value_or_one_per_cycle(capsys, given, peaks):
    status, out, err = run(
        capsys, "schedule", *WSD, "--peak-value", *given, "--steps", "201",
        "--points", "201",
    )  # fmt: skip
    assert status == 0 and err == ""
    rows = table(out)
    assert sorted(rows) == list(range(201))
    for t, value in rows.items():
        # Six significant digits are printed.
        assert value == pytest.approx(wsd_two_cycles(t, peaks), rel=5e-5, abs=1e-12)


@pytest.mark.parametrize(
    "given, message",
    [
        (["1e-3,abc"], "--peak-value expects a number or a list of numbers, got 'abc'"),
        (["1e-3", "x"], "--peak-value expects a number or a list of numbers, got 'x'"),
        (["true"], "--peak-value expects a number or a list of numbers, got 'true'"),
        (["1e-3,5e-4,1e-4"], "peak_value must hold one peak per cycle (2), got 3"),
        (["1e-3,-5e-4"], "peak_value[1] must be >= 0"),
    ],
)
def test_peak_value_list_errors_are_one_line(capsys, given, message):
    status, out, err = run(
        capsys, "schedule", *WSD, "--peak-value", *given, "--steps", "200"
    )
    assert status == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_call_title_shows_a_list_as_a_list(capsys):
    for given in (["1e-3,5e-4"], ["1e-3", "5e-4"]):
        status, out, _ = run(
            capsys, "schedule", "wsd_schedule", "--peak-value", *given,
            "--total-steps", "200", "--cycles", "2", "--steps", "200",
        )  # fmt: skip
        assert status == 0
        assert out.splitlines()[0] == (
            "# wsd_schedule(peak_value=[1e-3, 5e-4], total_steps=200, cycles=2), "
            "steps 0..199"
        )


def _every_schedule():
    found = dict(cli.available_schedules())
    found.update({name: alias_function(name) for name in ALIASES})
    return found


# The kinds whose flags read a list (arguments.read_value).
LIST_KINDS = {"list", "int_or_list", "number_or_list", "schedules", "kwargs_list"}


@pytest.mark.parametrize("name", sorted(_every_schedule()))
def test_arguments_documented_as_lists_read_lists(name):
    # An argument whose description offers a list (or a sequence) is read as
    # one on the command line; a number-only argument is not.
    fn = _every_schedule()[name]
    docs = _argument_docs(fn)
    for param in inspect.signature(fn).parameters.values():
        text = docs.get(param.name, "")
        if re.search(r"\ba list\b|\ba sequence\b|\bone per\b", text):
            assert parse_kind(param) in LIST_KINDS, (name, param.name, text)


def test_wsd_scalar_arguments_stay_numbers():
    params = inspect.signature(cli.available_schedules()["wsd_schedule"]).parameters
    assert parse_kind(params["peak_value"]) == "number_or_list"
    assert parse_kind(params["cycles"]) == "int_or_list"
    for name in ("init_value", "end_value", "peak_decay", "warmup", "decay"):
        assert parse_kind(params[name]) == "number", name


@pytest.mark.parametrize(
    "name", ["peak_decay", "end_value", "init_value", "warmup", "decay"]
)
def test_wsd_scalar_arguments_refuse_a_list(capsys, name):
    flag = "--" + name.replace("_", "-")
    argv = ["wsd_schedule", "--peak-value", "1e-3", "--total-steps", "200"]
    status, _, err = run(capsys, "schedule", *argv, flag, "0.5,0.1", "--steps", "9")
    assert status == 2 and f"{flag} expects a number, got '0.5,0.1'" in err


# ------------------------------------------------------------------ plot title

LONG_CALL = [
    "wsd_schedule", "--peak-value", "1e-3", "--total-steps", "1000", "--warmup",
    "0.05", "--decay", "0.2", "--cycles", "2", "--peak-decay", "0.5",
    "--decay-type", "cosine", "--rewarmup-from", "end", "--end-value", "1e-5",
]  # fmt: skip
LONG_TITLE = (
    "wsd_schedule(peak_value=1e-3, total_steps=1000, warmup=0.05, decay=0.2, "
    "cycles=2, peak_decay=0.5, decay_type=cosine, rewarmup_from=end, "
    "end_value=1e-5)"
)


def test_plot_title_holds_the_whole_call_inside_the_figure(
    capsys, tmp_path, monkeypatch
):
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    saved = []
    original = Figure.savefig

    def savefig(figure, *args, **kwargs):
        original(figure, *args, **kwargs)
        saved.append(figure)

    monkeypatch.setattr(Figure, "savefig", savefig)
    path = tmp_path / "wsd.png"
    argv = [*LONG_CALL, "--steps", "1000", "--points", "2", "--plot", str(path)]
    status, out, err = run(capsys, "schedule", *argv)
    assert status == 0 and err == "" and path.stat().st_size > 1000
    (figure,) = saved
    title = figure.axes[0].title
    lines = title.get_text().split("\n")
    assert len(lines) > 1  # the call is longer than one line of the figure
    assert " ".join(lines) == LONG_TITLE
    # Laid out again at the figure's own dpi, as saved (constrained layout).
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    box, frame = title.get_window_extent(renderer), figure.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1
    assert frame.y0 <= box.y0 and box.y1 <= frame.y1


@pytest.mark.parametrize(
    "title",
    [
        "cosine_decay_schedule(init_value=0.1, decay_steps=50)",
        LONG_TITLE,
        # The call syntax, written without spaces: broken inside the words.
        "join_schedules(schedules=[" + "constant_schedule(1e-3)," * 12 + "],"
        "boundaries=[10,20,30,40,50,60,70,80,90,100,110])",
    ],
)
def test_wrap_title_keeps_every_character(title):
    wrapped = wrap_title(title, width=7.0, fontsize=9)
    lines = wrapped.split("\n")
    # 7 inches less half an inch of margins, at 0.65 em (9 points) a character.
    chars = int(6.5 * 72 / (0.65 * 9))
    assert all(0 < len(line) <= chars for line in lines)
    # Only the spaces the lines break at are dropped.
    assert (" " if " " in title else "").join(lines) == title
    if len(title) <= chars:
        assert wrapped == title
