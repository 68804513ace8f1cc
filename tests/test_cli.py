"""The ``lrjax`` command line, against schedule formulas written out here."""

from __future__ import annotations

import bisect
import inspect
import math
import re
import subprocess
import sys

import numpy as np
import pytest

import lrjax
from lrjax import cli


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def table(out: str) -> dict[int, tuple[float, str]]:
    """``{step: (value, turning-point kinds)}`` from the printed table."""
    rows = {}
    for line in out.splitlines():
        parts = line.split(maxsplit=2)
        if parts and parts[0].isdigit():
            kinds = parts[2] if len(parts) > 2 else ""
            rows[int(parts[0])] = (float(parts[1]), kinds)
    return rows


def even_steps(num_steps: int, points: int = 11) -> set[int]:
    return set(np.round(np.linspace(0, num_steps - 1, points)).astype(int).tolist())


def cells(out: str) -> dict[int, str]:
    """``{step: the learning-rate cell as printed}``."""
    return {
        int(parts[0]): parts[1]
        for parts in (line.split() for line in out.splitlines())
        if parts and parts[0].isdigit()
    }


def check_values(rows, formula) -> None:
    # Six significant digits are printed: a relative rounding of at most 5e-6.
    for step, (value, _) in rows.items():
        assert value == pytest.approx(formula(step), rel=5e-5, abs=1e-12), step


def turning(rows, kind: str) -> set[int]:
    return {step for step, (_, kinds) in rows.items() if kind in kinds}


# ------------------------------------------------------------------ values


def test_step_decay_values_and_jumps(capsys):
    status, out, err = run(
        capsys,
        "schedule",
        "step_decay_schedule",
        "--init-value",
        "0.1",
        "--step_size",
        "30",
        "--decay-rate=0.5",
        "--steps",
        "100",
    )
    assert status == 0 and err == ""
    rows = table(out)
    check_values(rows, lambda t: 0.1 * 0.5 ** (t // 30))  # PyTorch StepLR
    assert even_steps(100) <= set(rows)
    assert turning(rows, "jump") == {30, 60, 90}
    assert {29, 59, 89} <= turning(rows, "plateau end")


@pytest.mark.parametrize("milestones", [["30,80"], ["30", "80"]])
def test_multistep_list_argument(capsys, milestones):
    status, out, _ = run(
        capsys,
        "schedule",
        "multistep_decay_schedule",
        "--init_value",
        "1",
        "--milestones",
        *milestones,
        "--steps",
        "120",
        "--points",
        "5",
    )
    assert status == 0
    rows = table(out)
    check_values(rows, lambda t: 0.1 ** bisect.bisect_right([30, 80], t))
    assert even_steps(120, 5) <= set(rows)
    assert turning(rows, "jump") == {30, 80}


@pytest.mark.parametrize(
    "cycles, restart", [(["2"], 500), (["400,600"], 400), (["400", "600"], 400)]
)
def test_count_or_list_argument(capsys, cycles, restart):
    # wsd_schedule's cycles is an int or a list: one value is a count.
    status, out, err = run(
        capsys, "schedule", "wsd_schedule", "--peak-value", "0.1",
        "--total-steps", "1000", "--warmup", "0.05", "--cycles", *cycles,
        "--steps", "1000",
    )  # fmt: skip
    assert status == 0 and err == ""
    rows = table(out)
    assert rows[restart][0] == pytest.approx(0.0)  # each cycle warms up again
    assert restart in turning(rows, "min")


def test_count_or_list_argument_rejects_a_fraction(capsys):
    status, _, err = run(
        capsys, "schedule", "wsd_schedule", "--peak-value", "0.1",
        "--total-steps", "1000", "--cycles", "2.5", "--steps", "1000",
    )  # fmt: skip
    assert status == 2 and "--cycles expects an integer or a list, got '2.5'" in err


def test_one_cycle_peak(capsys):
    status, out, _ = run(
        capsys,
        "schedule",
        "one_cycle_schedule",
        "--max_value",
        "1.0",
        "--total_steps",
        "100",
        "--steps",
        "100",
    )
    assert status == 0

    def one_cycle(t, peak=1.0, total=100, pct=0.3, div=25.0, final_div=1e4):
        # PyTorch OneCycleLR, two phases, cosine annealing.
        low = peak / div
        phases = [(pct * total - 1, low, peak), (total - 1, peak, low / final_div)]
        begin = 0.0
        for end, start_lr, end_lr in phases:
            if t <= end or end == total - 1:
                frac = (t - begin) / (end - begin)
                return end_lr + (start_lr - end_lr) / 2 * (1 + math.cos(math.pi * frac))
            begin = end

    rows = table(out)
    check_values(rows, one_cycle)
    assert turning(rows, "max") == {29}  # phase one ends at pct_start*total-1


def test_cyclic_peaks_and_troughs(capsys):
    status, out, _ = run(
        capsys,
        "schedule",
        "cyclic_schedule",
        "--base_value",
        "0.1",
        "--max_value",
        "1",
        "--step_size_up",
        "10",
        "--mode",
        "triangular2",
        "--steps",
        "60",
    )
    assert status == 0

    def triangular2(t, low=0.1, high=1.0, up=10):
        cycle = math.floor(1 + t / (2 * up))
        x = abs(t / up - 2 * cycle + 1)
        return low + (high - low) * max(0.0, 1 - x) / 2 ** (cycle - 1)

    rows = table(out)
    check_values(rows, triangular2)
    assert turning(rows, "max") == {10, 30, 50}
    assert turning(rows, "min") == {20, 40}
    assert {10, 20, 30, 40, 50} <= turning(rows, "kink")


def test_dict_argument(capsys):
    status, out, _ = run(
        capsys,
        "schedule",
        "piecewise_constant_schedule",
        "--init_value",
        "2.0",
        "--boundaries_and_scales",
        "10:0.5,25:0.1",
        "--steps",
        "40",
    )
    assert status == 0
    rows = table(out)
    check_values(
        rows, lambda t: 2.0 * (0.5 if t >= 10 else 1) * (0.1 if t >= 25 else 1)
    )
    assert turning(rows, "jump") == {10, 25}


def test_bool_flag_and_kinks(capsys):
    # Keras PolynomialDecay(cycle=True): the horizon grows to the next multiple.
    status, out, _ = run(
        capsys,
        "schedule",
        "polynomial_schedule",
        "--init_value",
        "1",
        "--end_value",
        "0",
        "--power",
        "1",
        "--transition_steps",
        "10",
        "--cycle",
        "--steps",
        "30",
    )
    assert status == 0

    def cyclic_linear(t, horizon=10):
        horizon *= 1 if t == 0 else math.ceil(t / horizon)
        return 1 - t / horizon

    rows = table(out)
    check_values(rows, cyclic_linear)
    assert turning(rows, "jump") == {11, 21}


@pytest.mark.parametrize(
    "argv",
    [
        [
            "clip_schedule",
            "--schedule",
            "linear_schedule:init_value=0.12,end_value=0,transition_steps=100",
            "--min_value",
            "0.02",
            "--max_value",
            "0.1",
        ],
        [
            "clip_schedule(linear_schedule(0.12, 0.0, transition_steps=100), "
            "min_value=0.02, max_value=0.1)"
        ],
    ],
    ids=["colon-syntax", "call-syntax"],
)
def test_schedule_argument(capsys, argv):
    status, out, _ = run(capsys, "schedule", *argv, "--steps", "120")
    assert status == 0
    rows = table(out)
    check_values(rows, lambda t: min(max(0.12 - 0.12 * min(t, 100) / 100, 0.02), 0.1))
    assert turning(rows, "plateau end") == {16}  # 0.12 - 0.0012 t drops below 0.1
    assert turning(rows, "plateau start") == {84}  # ... and below 0.02


def test_join_schedules_repeated_flag(capsys):
    status, out, _ = run(
        capsys,
        "schedule",
        "join_schedules",
        "--schedules",
        "linear_schedule:init_value=0,end_value=1,transition_steps=10",
        "--schedules",
        "constant_schedule:value=0.2",
        "--boundaries",
        "10",
        "--steps",
        "20",
    )
    assert status == 0
    rows = table(out)
    check_values(rows, lambda t: t / 10 if t < 10 else 0.2)
    assert turning(rows, "max") == {9}
    assert turning(rows, "jump") == {10}


def test_random_schedule_seed(capsys):
    argv = ["schedule", "random_schedule", "--min_value", "0.001"]
    argv += ["--max_value", "0.1", "--hold_steps", "20", "--steps", "100"]
    status, out, _ = run(capsys, *argv, "--seed", "3", "--points", "100")
    assert status == 0
    rows = table(out)
    values = np.array([rows[t][0] for t in range(100)])
    assert np.all((values >= 0.001) & (values <= 0.1))
    assert np.all(values.reshape(5, 20) == values.reshape(5, 20)[:, :1])
    assert turning(rows, "jump") <= {20, 40, 60, 80}
    assert table(run(capsys, *argv, "--seed", "4", "--points", "100")[1]) != rows


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "argv",
    [
        ["no_such_schedule", "--steps", "10"],
        ["step_decay_schedule", "--init_value", "0.1", "--steps", "10"],  # missing
        ["step_decay_schedule", "--init_value", "abc", "--step_size", "3"],
        ["step_decay_schedule", "--init_value", "0.1", "--step_size", "0"],
        ["step_decay_schedule", "--init_value", "0.1", "--step_size", "2.5"],
        ["step_decay_schedule", "--init_value", "0.1", "--step_size", "3", "--x", "1"],
        ["cyclic_schedule", "--base_value", "0.1", "--max_value", "1"]
        + ["--step_size_up", "5", "--mode", "nope"],
        ["multistep_decay_schedule", "--init_value", "1", "--milestones", "30,2.5"],
        ["clip_schedule", "--schedule", "linear_schedule:init_value=1"],
        ["clip_schedule", "--schedule", "linear_schedule(1, 0"],
        ["exponential_decay", "--init_value", "1", "--transition_steps", "2"]
        + ["--decay_rate", "0.5", "--staircase", "maybe"],
        ["step_decay_schedule", "--init_value", "0.1", "--step_size", "3"]
        + ["--steps", "many"],
    ],
)
def test_bad_commands_exit_2_with_one_line(capsys, argv):
    if "--steps" not in argv:
        argv = argv + ["--steps", "10"]
    status, out, err = run(capsys, "schedule", *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("lrjax: error: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_steps_and_name(capsys):
    assert run(capsys, "schedule", "constant_schedule", "--value", "1")[0] == 2
    assert run(capsys, "schedule")[0] == 2
    assert run(capsys)[0] == 2
    status, _, err = run(capsys, "unknown-command")
    assert status == 2 and err.count("\n") == 1


# ------------------------------------------------------------ number format


def test_rates_print_without_float32_noise(capsys):
    # float32(0.1 * 0.1**k) is 0.010000001, 0.000100000005, ...: the table
    # shows the rate the user meant, to six significant digits.
    status, out, _ = run(
        capsys,
        "schedule",
        "step_decay_schedule",
        "--init-value",
        "0.1",
        "--step-size",
        "1",
        "--decay-rate",
        "0.1",
        "--steps",
        "8",
        "--points",
        "8",
    )
    assert status == 0
    assert cells(out) == {
        0: "0.1",
        1: "0.01",
        2: "0.001",
        3: "0.0001",
        4: "1e-05",
        5: "1e-06",
        6: "1e-07",
        7: "1e-08",
    }


def test_float32_rate_prints_as_given(capsys):
    # float32(0.001) is 0.0010000000474974513.
    assert float(np.float32(0.001)) == 0.0010000000474974513
    status, out, _ = run(
        capsys, "schedule", "constant_schedule", "--value", "0.001", "--steps", "3"
    )
    assert status == 0 and set(cells(out).values()) == {"0.001"}
    assert lrjax.plotting.format_rate(np.float32(0.001)) == "0.001"
    assert lrjax.plotting.format_rate(np.float32(2.5e-7)) == "2.5e-07"


def test_real_differences_are_not_collapsed(capsys):
    # Rates 0.1, 0.1001, ..., 0.101 differ in the 4th significant digit.
    status, out, _ = run(
        capsys,
        "schedule",
        "linear_schedule",
        "--init-value",
        "0.1",
        "--end-value",
        "0.101",
        "--transition-steps",
        "10",
        "--steps",
        "11",
    )
    assert status == 0
    assert cells(out) == {t: f"{0.1 + 0.0001 * t:.4f}".rstrip("0") for t in range(11)}


# ------------------------------------------------------------ help, list, plot


def _docstring_args(fn) -> dict[str, str]:
    """The first words of each ``name: text`` entry of the Args section."""
    doc = inspect.getdoc(fn).split("Args:\n", 1)[1]
    entries = re.findall(r"^  ([a-z_]\w*): (.*)$", doc, re.M)
    return {
        name: " ".join(text.replace("``", "").split()[:3]) for name, text in entries
    }


@pytest.mark.parametrize("name", sorted(cli.available_schedules()))
def test_schedule_help_lists_its_own_arguments(capsys, name):
    fn = cli.available_schedules()[name]
    status, out, err = run(capsys, "schedule", name, "--help")
    assert status == 0 and err == ""
    lines = {line.split()[0]: line for line in out.splitlines() if line[:4] == "  --"}
    params = inspect.signature(fn).parameters.values()
    assert set(lines) == {"--" + p.name.replace("_", "-") for p in params}
    for p in params:
        line = lines["--" + p.name.replace("_", "-")]
        if p.default is not inspect.Parameter.empty and p.default is not None:
            assert line.split()[1] == str(p.default).lower(), line
    for pname, words in _docstring_args(fn).items():
        flag = "--" + pname.replace("_", "-")
        block = out[out.index(f"  {flag} ") :].split("\n  --")[0]
        assert words in " ".join(block.split()), (flag, words)


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "cosine_decay_schedule",
            [
                ("--init-value", "required"),
                ("--decay-steps", "required"),
                ("--alpha", "0.0"),
                ("--exponent", "1.0"),
            ],
        ),
        (
            "step_decay_schedule",
            [("--init-value", "required"), ("--step-size", "required")]
            + [("--decay-rate", "0.1")],
        ),
        (
            "cyclic_schedule",
            [("--step-size-down", "none"), ("--mode", "triangular")]
            + [("--gamma", "1.0")],
        ),
    ],
)
def test_schedule_help_names_and_defaults(capsys, name, expected):
    status, out, _ = run(capsys, "schedule", name, "-h")
    assert status == 0
    assert f"lrjax.{name}(" in out
    rows = [line.split()[:2] for line in out.splitlines() if line[:4] == "  --"]
    for flag, default in expected:
        assert [flag, default] in rows
    assert "evenly spaced rows" not in out  # not the command's general help


def test_schedule_help_for_unknown_name_is_an_error(capsys):
    status, out, err = run(capsys, "schedule", "no_such_schedule", "--help")
    assert status == 2 and out == "" and "unknown schedule" in err


def test_help_and_list(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "schedule" in out
    status, out, _ = run(capsys, "schedule", "--help")
    assert status == 0 and "--steps" in out and "--plot" in out
    status, out, _ = run(capsys, "schedule", "--list")
    assert status == 0
    for name in cli.available_schedules():
        assert name in out
        assert hasattr(lrjax.schedules, name)
    assert "step_decay_schedule(init_value, step_size, decay_rate=0.1)" in out


def test_plot_writes_png(capsys, tmp_path):
    path = tmp_path / "lr.png"
    status, out, _ = run(
        capsys,
        "schedule",
        "cosine_decay_schedule",
        "--init_value",
        "0.1",
        "--decay_steps",
        "50",
        "--steps",
        "60",
        "--plot",
        str(path),
    )
    assert status == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000
    rows = table(out)
    check_values(rows, lambda t: 0.05 * (1 + math.cos(math.pi * min(t, 50) / 50)))
    assert turning(rows, "plateau start") == {50}


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "lrjax", "schedule", "inverse_time_decay_schedule"]
        + ["--init_value", "1", "--decay_steps", "10", "--decay_rate", "0.5"]
        + ["--staircase", "true", "--steps", "50", "--points", "6"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)
    check_values(rows, lambda t: 1 / (1 + 0.5 * (t // 10)))  # Keras InverseTimeDecay
    assert turning(rows, "jump") == {10, 20, 30, 40}
