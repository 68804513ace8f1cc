"""``lrjax schedule`` with PyTorch/Keras class names, against their documented
formulas written out here (values printed by the command at every step)."""

from __future__ import annotations

import ast
import bisect
import math

import pytest

from lrjax import cli
from lrjax.cli.aliases import ALIASES, NO_EQUIVALENT


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def values(capsys, argv: list[str], num_steps: int) -> dict[int, float]:
    """``{step: rate}`` printed for every step ``0 .. num_steps - 1``."""
    steps = ["--steps", str(num_steps), "--points", str(num_steps)]
    status, out, err = run(capsys, "schedule", *argv, *steps)
    assert status == 0, err
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].isdigit():
            rows[int(parts[0])] = float(parts[1])
    assert sorted(rows) == list(range(num_steps))
    return rows


def cos_anneal(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))


# ------------------------------------------------------- PyTorch formulas
# lr_t with t the number of scheduler.step() calls, from PyTorch's docs.


def cyclic(base, peak, up, down, mode="triangular", gamma=1.0):
    def rate(t):
        total = up + (up if down is None else down)
        cycle = math.floor(1 + t / total)
        x = 1 + t / total - cycle
        ratio = up / total
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        factor = {
            "triangular": 1.0,
            "triangular2": 1 / 2 ** (cycle - 1),
            "exp_range": gamma**t,
        }[mode]
        return base + (peak - base) * scale * factor

    return rate


def one_cycle(peak, total, pct=0.3, anneal="cos", div=25.0, final=1e4, three=False):
    initial = peak / div
    low = initial / final
    if three:
        phases = [
            (pct * total - 1, initial, peak),
            (2 * pct * total - 2, peak, initial),
        ]
    else:
        phases = [(pct * total - 1, initial, peak)]
    phases.append((total - 1, phases[-1][2], low))

    def rate(t):
        start = 0.0
        for i, (end, a, b) in enumerate(phases):
            if t <= end or i == len(phases) - 1:
                frac = (t - start) / (end - start)
                return cos_anneal(a, b, frac) if anneal == "cos" else a + (b - a) * frac
            start = end

    return rate


def warm_restarts(lr, t0, mult, eta_min):
    def rate(t):
        start, length = 0, t0
        while t >= start + length:
            start, length = start + length, length * mult
        return cos_anneal(lr, eta_min, (t - start) / length)

    return rate


def linear_factor(lr, a, b, total):
    return lambda t: lr * (a + (b - a) * min(t, total) / total)


TORCH_CASES = [
    ("StepLR --lr 0.1 --step-size 7 --gamma 0.5", 30, lambda t: 0.1 * 0.5 ** (t // 7)),
    ("StepLR --lr 1 --step_size 3", 10, lambda t: 0.1 ** (t // 3)),  # gamma = 0.1
    (
        "MultiStepLR --lr 0.1 --milestones 12,5,12 --gamma 0.5",
        16,
        lambda t: 0.1 * 0.5 ** bisect.bisect_right([5, 12, 12], t),
    ),
    (
        "MultiStepLR --lr 2 --milestones 3 6",
        9,
        lambda t: 2 * 0.1 ** bisect.bisect_right([3, 6], t),
    ),
    # factor = 1/3, total_iters = 5
    ("ConstantLR --lr 0.05", 9, lambda t: 0.05 / 3 if t < 5 else 0.05),
    (
        "ConstantLR --lr 0.1 --factor 0.5 --total-iters 3",
        6,
        lambda t: 0.05 if t < 3 else 0.1,
    ),
    # total_iters = 0: PyTorch's chainable update keeps lr * factor (README).
    ("ConstantLR --lr 0.1 --factor 0.5 --total-iters 0", 4, lambda t: 0.05),
    ("LinearLR --lr 0.3", 8, linear_factor(0.3, 1 / 3, 1.0, 5)),  # 1/3 -> 1, 5 steps
    (
        "LinearLR --lr 0.1 --start-factor 1 --end-factor 0.1 --total-iters 8",
        11,
        linear_factor(0.1, 1.0, 0.1, 8),
    ),
    ("ExponentialLR --lr 0.1 --gamma 0.8", 20, lambda t: 0.1 * 0.8**t),
    # total_iters = 5, power = 1
    ("PolynomialLR --lr 0.1", 8, lambda t: 0.1 * (1 - min(t, 5) / 5)),
    (
        "PolynomialLR --lr 0.1 --total-iters 8 --power 2",
        10,
        lambda t: 0.1 * (1 - min(t, 8) / 8) ** 2,
    ),
    (
        "CosineAnnealingLR --lr 0.1 --T-max 10 --eta-min 0.01",
        11,  # PyTorch's cosine rises again after T_max: not compared
        lambda t: 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2,
    ),
    (
        "CosineAnnealingLR --lr 0.1 --t_max 8",  # eta_min = 0
        9,
        lambda t: 0.1 * (1 + math.cos(math.pi * t / 8)) / 2,
    ),
    (
        "CyclicLR --base-lr 0.01 --max-lr 0.1 --step-size-up 4 --step-size-down 6 "
        "--mode triangular2",
        40,
        cyclic(0.01, 0.1, 4, 6, "triangular2"),
    ),
    (
        "CyclicLR --base-lr 0.01 --max-lr 0.1 --step-size-up 5 --mode exp_range "
        "--gamma 0.95",
        30,
        cyclic(0.01, 0.1, 5, None, "exp_range", 0.95),
    ),
    ("OneCycleLR --max-lr 0.1 --total-steps 100", 100, one_cycle(0.1, 100)),
    (
        "OneCycleLR --max-lr 0.1 --epochs 8 --steps-per-epoch 5 --pct-start 0.25 "
        "--anneal-strategy linear --div-factor 10 --final-div-factor 100 "
        "--three-phase",
        40,
        one_cycle(0.1, 40, 0.25, "linear", 10.0, 100.0, three=True),
    ),
    (
        "CosineAnnealingWarmRestarts --lr 0.1 --T-0 5 --T-mult 2 --eta-min 0.001",
        40,
        warm_restarts(0.1, 5, 2, 0.001),
    ),
    (
        "CosineAnnealingWarmRestarts --lr 0.1 --T_0 4",  # T_mult = 1, eta_min = 0
        13,
        warm_restarts(0.1, 4, 1, 0.0),
    ),
]


# --------------------------------------------------------- Keras formulas
# decayed_learning_rate(step) from the Keras docs, step = optimizer.iterations.


def keras_cosine(lr, decay, alpha, target=None, warmup=0):
    def rate(t):
        if target is not None and t < warmup:
            return lr + (target - lr) * t / warmup
        start = lr if target is None else target
        done = min(t - (warmup if target is not None else 0), decay) / decay
        return start * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * done)) + alpha)

    return rate


def keras_restarts(lr, first, t_mul, m_mul, alpha):
    def rate(t):
        start, length, i = 0.0, first, 0
        while t >= start + length:
            start, length, i = start + length, length * t_mul, i + 1
        cosine = 0.5 * m_mul**i * (1 + math.cos(math.pi * (t - start) / length))
        return lr * ((1 - alpha) * cosine + alpha)

    return rate


def keras_polynomial(lr, decay, end=1e-4, power=1.0, cycle=False):
    def rate(t):
        if cycle:  # the horizon grows to the next multiple (1 at step 0)
            horizon = decay * max(math.ceil(t / decay), 1)
        else:
            horizon, t = decay, min(t, decay)
        return (lr - end) * (1 - t / horizon) ** power + end

    return rate


KERAS_CASES = [
    (
        "ExponentialDecay --initial-learning-rate 0.1 --decay-steps 4 --decay-rate 0.5",
        20,
        lambda t: 0.1 * 0.5 ** (t / 4),
    ),
    (
        "ExponentialDecay --initial_learning_rate 0.1 --decay_steps 4 "
        "--decay_rate 0.5 --staircase",
        20,
        lambda t: 0.1 * 0.5 ** (t // 4),
    ),
    (
        "PiecewiseConstantDecay --boundaries 3,7 --values 1,0.5,0.1",
        10,  # values[i] up to and including step boundaries[i]
        lambda t: [1, 0.5, 0.1][bisect.bisect_left([3, 7], t)],
    ),
    (
        "PolynomialDecay --initial-learning-rate 0.1 --decay-steps 10",
        14,  # end_learning_rate = 1e-4, power = 1, cycle = False
        keras_polynomial(0.1, 10),
    ),
    (
        "PolynomialDecay --initial-learning-rate 0.1 --decay-steps 10 "
        "--end-learning-rate 0.01 --power 0.5 --cycle true",
        35,
        keras_polynomial(0.1, 10, 0.01, 0.5, cycle=True),
    ),
    (
        "InverseTimeDecay --initial-learning-rate 0.1 --decay-steps 5 --decay-rate 0.5",
        20,
        lambda t: 0.1 / (1 + 0.5 * t / 5),
    ),
    (
        "InverseTimeDecay --initial-learning-rate 0.1 --decay-steps 5 "
        "--decay-rate 0.5 --staircase",
        20,
        lambda t: 0.1 / (1 + 0.5 * (t // 5)),
    ),
    (
        "CosineDecay --initial-learning-rate 0.1 --decay-steps 10 --alpha 0.1",
        15,
        keras_cosine(0.1, 10, 0.1),
    ),
    (
        "CosineDecay --initial-learning-rate 0.1 --decay-steps 10 --warmup-steps 5",
        12,  # without a warmup_target Keras ignores warmup_steps
        keras_cosine(0.1, 10, 0.0),
    ),
    (
        "CosineDecay --initial-learning-rate 0.01 --decay-steps 10 --alpha 0.1 "
        "--warmup-target 0.2 --warmup-steps 5",
        18,
        keras_cosine(0.01, 10, 0.1, target=0.2, warmup=5),
    ),
    (
        "CosineDecayRestarts --initial-learning-rate 0.1 --first-decay-steps 4 "
        "--m-mul 0.5 --alpha 0.1",
        40,  # t_mul = 2
        keras_restarts(0.1, 4, 2.0, 0.5, 0.1),
    ),
    (
        "CosineDecayRestarts --initial-learning-rate 0.1 --first-decay-steps 4 "
        "--t-mul 1.5",
        40,
        keras_restarts(0.1, 4, 1.5, 1.0, 0.0),
    ),
]
CASES = TORCH_CASES + KERAS_CASES


@pytest.mark.parametrize(
    "argv, num_steps, formula",
    CASES,
    ids=[f"{argv.split()[0]}-{i}" for i, (argv, _, _) in enumerate(CASES)],
)
def test_alias_values_match_the_documented_formula(capsys, argv, num_steps, formula):
    # Six significant digits are printed: a relative rounding of at most 5e-6.
    for step, value in values(capsys, argv.split(), num_steps).items():
        assert value == pytest.approx(formula(step), rel=5e-5, abs=1e-9), step


def test_every_alias_has_a_formula_case():
    tested = {argv.split()[0] for argv, _, _ in CASES}
    assert tested == set(ALIASES)


def test_alias_inside_a_schedule_argument(capsys):
    # SequentialLR([LinearLR, CosineAnnealingLR], milestones=[4]) as join_schedules.
    argv = [
        "join_schedules",
        "--schedules",
        "LinearLR:lr=0.1,start_factor=0.1,total_iters=4",
        "CosineAnnealingLR(lr=0.1, T_max=6)",
        "--boundaries",
        "4",
    ]
    warm = linear_factor(0.1, 0.1, 1.0, 4)
    for step, value in values(capsys, argv, 11).items():
        want = (
            warm(step) if step < 4 else 0.05 * (1 + math.cos(math.pi * (step - 4) / 6))
        )
        assert value == pytest.approx(want, rel=5e-5), step


# ----------------------------------------------------------- help and list

# The classes' documented signatures, the optimizer replaced by its base rate lr.
DOCUMENTED = {
    "StepLR": "lr, step_size, gamma=0.1",
    "MultiStepLR": "lr, milestones, gamma=0.1",
    "ConstantLR": "lr, factor=0.3333333333333333, total_iters=5",
    "LinearLR": "lr, start_factor=0.3333333333333333, end_factor=1.0, total_iters=5",
    "ExponentialLR": "lr, gamma",
    "PolynomialLR": "lr, total_iters=5, power=1.0",
    "CosineAnnealingLR": "lr, T_max, eta_min=0.0",
    "CyclicLR": "base_lr, max_lr, step_size_up=2000, step_size_down=None, "
    "mode='triangular', gamma=1.0",
    "OneCycleLR": "max_lr, total_steps=None, epochs=None, steps_per_epoch=None, "
    "pct_start=0.3, anneal_strategy='cos', div_factor=25.0, "
    "final_div_factor=10000.0, three_phase=False",
    "CosineAnnealingWarmRestarts": "lr, T_0, T_mult=1, eta_min=0.0",
    "ExponentialDecay": "initial_learning_rate, decay_steps, decay_rate, "
    "staircase=False",
    "PiecewiseConstantDecay": "boundaries, values",
    "PolynomialDecay": "initial_learning_rate, decay_steps, "
    "end_learning_rate=0.0001, power=1.0, cycle=False",
    "InverseTimeDecay": "initial_learning_rate, decay_steps, decay_rate, "
    "staircase=False",
    "CosineDecay": "initial_learning_rate, decay_steps, alpha=0.0, "
    "warmup_target=None, warmup_steps=0",
    "CosineDecayRestarts": "initial_learning_rate, first_decay_steps, t_mul=2.0, "
    "m_mul=1.0, alpha=0.0",
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_alias_help_lists_the_class_arguments_and_defaults(capsys, name):
    status, out, err = run(capsys, "schedule", name, "--help")
    assert status == 0 and err == ""
    alias = ALIASES[name]
    assert f"{alias.module}.{name}({DOCUMENTED[name]})" in out
    assert f"as lrjax {alias.target}" in " ".join(out.split())
    rows = [line.split()[:2] for line in out.splitlines() if line[:4] == "  --"]
    expected = []
    for arg, _, default in (p.partition("=") for p in DOCUMENTED[name].split(", ")):
        shown = str(ast.literal_eval(default)).lower() if default else "required"
        expected.append(["--" + arg.replace("_", "-"), shown])
    assert rows == expected


def test_help_names_the_lrjax_arguments(capsys):
    out = run(capsys, "schedule", "OneCycleLR", "--help")[1]
    assert "one_cycle_schedule(max_value=max_lr, total_steps=total_steps," in out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:4] == "  --"}
    assert rows["--max-lr"].endswith("-> max_value")
    assert rows["--final-div-factor"].split()[1] == "10000.0"
    out = run(capsys, "schedule", "CosineAnnealingLR", "-h")[1]
    text = " ".join(out.split())
    assert "-> alpha=eta_min / lr" in text and "PyTorch reads it from" in text
    assert "2 * T_max" in text  # where the values differ


def test_list_shows_the_aliases(capsys):
    status, out, _ = run(capsys, "schedule", "--list")
    assert status == 0
    lrjax_part, alias_part = out.split("PyTorch and Keras class names")
    assert "step_decay_schedule(init_value, step_size, decay_rate=0.1)" in lrjax_part
    assert "OneCycleLR(" not in lrjax_part
    for name in ALIASES:
        assert f"\n{name}(" in alias_part
    assert "StepLR(lr, step_size, gamma=0.1)" in alias_part
    assert all(
        name in alias_part.split("No lrjax schedule")[1] for name in NO_EQUIVALENT
    )


# ----------------------------------------------------------------- errors


def error(capsys, *argv: str) -> str:
    status, out, err = run(capsys, "schedule", *argv, "--steps", "10")
    assert status == 2 and out == ""
    assert err.startswith("lrjax: error: ") and err.count("\n") == 1
    return err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["OneCycleLR", "--max-lr", "0.1"], "missing required argument --total-steps"),
        (["OneCycleLR", "--total-steps", "10"], "missing required argument --max-lr"),
        (["CosineAnnealingLR", "--lr", "0.1"], "missing required argument --T-max"),
        (["StepLR", "--step_size", "3"], "missing required argument --lr;"),
        (
            ["PolynomialDecay", "--initial-learning-rate", "1"],
            "missing required argument --decay-steps;",
        ),
        (
            ["step_decay_schedule", "--init_value", "0.1"],
            "missing required argument --step-size;",
        ),
        (
            ["linear_schedule", "--init-value", "1"],
            "missing required arguments --end-value, --transition-steps;",
        ),
        (
            ["StepLR", "--lr", "1", "--step-size", "3", "--decay_rate", "0.5"],
            "StepLR has no argument --decay-rate",
        ),
        (
            ["StepLR", "--lr", "1", "--step-size", "3", "--step_size", "4"],
            "--step-size given twice",
        ),
        (
            [
                "ExponentialDecay",
                "--initial-learning-rate",
                "1",
                "--decay-steps",
                "2.5",
                "--decay-rate",
                "0.5",
            ],
            "--decay-steps expects an integer",
        ),
    ],
)
def test_argument_errors_use_the_flag_form(capsys, argv, message):
    err = error(capsys, *argv)
    assert message in err
    assert not [word for word in err.split() if word.startswith("--") and "_" in word]


@pytest.mark.parametrize("name", sorted(NO_EQUIVALENT))
def test_classes_without_an_equivalent_say_why(capsys, name):
    err = error(capsys, name, "--lr", "0.1")
    assert f"{name} has no lrjax schedule: " in err
    assert any(word in err for word in ("use", "write", "chain"))
    status, out, err_help = run(capsys, "schedule", name, "--help")
    assert status == 2 and out == "" and "has no lrjax schedule" in err_help


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["StepLR", "--lr", "0.1", "--step-size", "3", "--gamma", "-1"],
            "StepLR: in lrjax.step_decay_schedule(decay_rate=gamma): decay_rate",
        ),
        (
            ["CosineAnnealingLR", "--lr", "0", "--T-max", "5", "--eta-min", "0.1"],
            "lr = 0 with eta_min != 0",
        ),
        (
            ["PiecewiseConstantDecay", "--boundaries", "3", "--values", "1"],
            "values must hold len(boundaries) + 1 = 2 values",
        ),
        (
            [
                "OneCycleLR",
                "--max-lr",
                "0.1",
                "--epochs",
                "0",
                "--steps-per-epoch",
                "5",
            ],
            "--epochs and --steps-per-epoch must be >= 1",
        ),
        (["steplr", "--lr", "0.1"], "did you mean StepLR"),
    ],
)
def test_rejected_values_name_the_class_argument(capsys, argv, message):
    assert message in error(capsys, *argv)
