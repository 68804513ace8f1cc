"""PyTorch and Keras scheduler class names accepted by ``lrjax schedule``.

One row per class: the lrjax schedule it becomes, the class's own arguments
(PyTorch's or Keras's names and documented defaults) with the lrjax argument
each one sets, and, where a value is not passed on as is, a transform that
computes the lrjax arguments. The rows follow the README's tables "PyTorch
``torch.optim.lr_scheduler``" and "Keras ``keras.optimizers.schedules``".
:func:`alias_function` turns a row into a function of the class's arguments
with a real signature and an ``Args:`` docstring, so the command reads,
checks and documents an alias as it does an lrjax schedule.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

REQUIRED: Any = inspect.Parameter.empty
TORCH = "torch.optim.lr_scheduler"
KERAS = "keras.optimizers.schedules"

# An lrjax call: (schedule name, keyword arguments).
Call = tuple[str, dict[str, Any]]
# The class's arguments (defaults filled in) -> lrjax keyword arguments that
# override the renamed ones, or a whole Call (a different lrjax schedule).
Transform = Callable[[dict[str, Any]], "dict[str, Any] | Call"]


class Arg(NamedTuple):
    """One argument of the PyTorch/Keras class."""

    name: str  # as PyTorch/Keras spell it
    default: Any  # REQUIRED: none
    to: str  # the lrjax argument it is passed as; "arg=expr": set by the transform
    text: str  # what it is, for --help
    type: str = "float"  # the annotation that guides the command-line parser


@dataclass(frozen=True)
class Alias:
    """A PyTorch/Keras class as an lrjax schedule call."""

    module: str  # TORCH or KERAS
    target: str  # the lrjax schedule
    args: tuple[Arg, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)  # constant lrjax args
    transform: Transform | None = None
    call: str = ""  # the lrjax call as text, where the arguments do not tell it
    note: str = ""  # where the values differ from the class's, for --help

    def parts(self) -> list[tuple[str, str]]:
        """``(lrjax argument, its value as text)`` for the renamed/computed ones."""
        split = [a.to.partition("=")[::2] for a in self.args if "=" in a.to]
        return [(a.to, a.name) for a in self.args if a.to.isidentifier()] + [
            (arg.strip(), value.strip()) for arg, value in split
        ]

    def call_text(self) -> str:
        if self.call:
            return self.call
        parts = [f"{arg}={value}" for arg, value in self.parts()]
        parts += [f"{key}={value!r}" for key, value in self.fixed.items()]
        return f"{self.target}({', '.join(parts)})"

    def lrjax_call(self, values: dict[str, Any]) -> Call:
        """The lrjax schedule and arguments for the class's ``values``."""
        kwargs = {a.to: values[a.name] for a in self.args if a.to.isidentifier()}
        kwargs.update(self.fixed)
        out = self.transform(values) if self.transform else {}
        return out if isinstance(out, tuple) else (self.target, {**kwargs, **out})


def _lr(to: str = "init_value") -> Arg:
    text = "the optimizer's base rate (PyTorch reads it from the optimizer): required"
    return Arg("lr", REQUIRED, to, text)


def _over_lr(name: str, value: float, lr: float) -> float:
    if lr == 0 and value != 0:
        raise ValueError(f"lr = 0 with {name} != 0 has no equivalent ({name} / lr)")
    return value / lr if lr else 0.0


def _constant(a: dict[str, Any]) -> dict[str, Any]:
    from lrjax.schedules import constant_schedule

    low, total = constant_schedule(a["lr"] * a["factor"]), a["total_iters"]
    if total == 0:  # PyTorch's chainable update then keeps lr * factor
        return {"schedules": [low], "boundaries": []}
    return {"schedules": [low, constant_schedule(a["lr"])], "boundaries": [total]}


def _one_cycle_steps(a: dict[str, Any]) -> dict[str, Any]:
    if a["total_steps"] is not None:  # PyTorch's precedence
        return {}
    epochs, per_epoch = a["epochs"], a["steps_per_epoch"]
    if epochs is None or per_epoch is None:
        raise ValueError(
            "missing required argument --total-steps "
            "(or --epochs and --steps-per-epoch)"
        )
    if epochs < 1 or per_epoch < 1:
        raise ValueError("--epochs and --steps-per-epoch must be >= 1")
    return {"total_steps": epochs * per_epoch}


def _piecewise(a: dict[str, Any]) -> dict[str, Any]:
    from lrjax.schedules import constant_schedule

    boundaries, values = list(a["boundaries"]), list(a["values"])
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            f"values must hold len(boundaries) + 1 = {len(boundaries) + 1} "
            f"values, got {len(values)}"
        )
    return {  # Keras keeps values[i] up to and including step boundaries[i]
        "schedules": [constant_schedule(v) for v in values],
        "boundaries": [b + 1 for b in boundaries],
    }


def _keras_cosine(a: dict[str, Any]) -> dict[str, Any] | Call:
    peak, warmup = a["warmup_target"], a["warmup_steps"]
    if peak is None:  # Keras then ignores warmup_steps
        return {}
    return "warmup_cosine_decay_schedule", {
        "init_value": a["initial_learning_rate"],
        "peak_value": peak,
        "warmup_steps": warmup,
        "decay_steps": warmup + a["decay_steps"],
        "end_value": a["alpha"] * peak,
    }


_INIT = Arg("initial_learning_rate", REQUIRED, "init_value", "the rate at step 0")
_STAIRCASE = Arg("staircase", False, "staircase", "decay in whole periods", "bool")
_POWER = Arg("power", 1.0, "power", "the polynomial's power")
_ONE_THIRD = 1 / 3
_EPOCHS = "without total_steps: total_steps = epochs * steps_per_epoch"

ALIASES: dict[str, Alias] = {
    "StepLR": Alias(
        TORCH,
        "step_decay_schedule",
        (
            _lr(),
            Arg("step_size", REQUIRED, "step_size", "decay period, in steps", "int"),
            Arg("gamma", 0.1, "decay_rate", "factor applied every step_size steps"),
        ),
    ),
    "MultiStepLR": Alias(
        TORCH,
        "multistep_decay_schedule",
        (
            _lr(),
            Arg("milestones", REQUIRED, "milestones", "decay steps", "list[int]"),
            Arg("gamma", 0.1, "decay_rate", "factor applied at each milestone"),
        ),
    ),
    "ConstantLR": Alias(
        TORCH,
        "join_schedules",
        (
            _lr(""),
            Arg("factor", _ONE_THIRD, "", "scales lr before step total_iters"),
            Arg("total_iters", 5, "", "steps at lr * factor", "int"),
        ),
        transform=_constant,
        call="join_schedules([constant_schedule(lr * factor), constant_schedule(lr)]"
        ", boundaries=[total_iters]), or constant_schedule(lr * factor) for "
        "total_iters = 0, whose rate PyTorch's chainable update never restores",
    ),
    "LinearLR": Alias(
        TORCH,
        "linear_schedule",
        (
            _lr(""),
            Arg("start_factor", _ONE_THIRD, "init_value=lr * start_factor", "at 0"),
            Arg("end_factor", 1.0, "end_value=lr * end_factor", "from total_iters"),
            Arg("total_iters", 5, "transition_steps", "length, in steps", "int"),
        ),
        transform=lambda a: {
            "init_value": a["lr"] * a["start_factor"],
            "end_value": a["lr"] * a["end_factor"],
        },
    ),
    "ExponentialLR": Alias(
        TORCH,
        "exponential_decay",
        (_lr(), Arg("gamma", REQUIRED, "decay_rate", "factor applied every step")),
        fixed={"transition_steps": 1},
    ),
    "PolynomialLR": Alias(
        TORCH,
        "polynomial_schedule",
        (
            _lr(),
            Arg("total_iters", 5, "transition_steps", "steps to reach 0", "int"),
            _POWER,
        ),
        fixed={"end_value": 0.0},
    ),
    "CosineAnnealingLR": Alias(
        TORCH,
        "cosine_decay_schedule",
        (
            _lr(),
            Arg("T_max", REQUIRED, "decay_steps", "steps to reach eta_min", "int"),
            Arg("eta_min", 0.0, "alpha=eta_min / lr", "the rate at step T_max"),
        ),
        transform=lambda a: {"alpha": _over_lr("eta_min", a["eta_min"], a["lr"])},
        note="Same values up to step T_max; after it PyTorch's cosine rises "
        "again (period 2 * T_max) while lrjax holds eta_min.",
    ),
    "CyclicLR": Alias(
        TORCH,
        "cyclic_schedule",
        (
            Arg("base_lr", REQUIRED, "base_value", "the rate at each cycle's ends"),
            Arg("max_lr", REQUIRED, "max_value", "the first cycle's peak"),
            Arg("step_size_up", 2000, "step_size_up", "rising steps", "int"),
            Arg(
                "step_size_down", None, "step_size_down", "falling steps", "int | None"
            ),
            Arg("mode", "triangular", "mode", "triangular, triangular2 or exp_range"),
            Arg("gamma", 1.0, "gamma", "exp_range's factor per step"),
        ),
        note="A custom scale_fn and momentum cycling are not covered.",
    ),
    "OneCycleLR": Alias(
        TORCH,
        "one_cycle_schedule",
        (
            Arg("max_lr", REQUIRED, "max_value", "the peak rate"),
            Arg("total_steps", None, "total_steps", "cycle length", "int | None"),
            Arg("epochs", None, "", _EPOCHS, "int | None"),
            Arg("steps_per_epoch", None, "", _EPOCHS, "int | None"),
            Arg("pct_start", 0.3, "pct_start", "fraction of the cycle rising"),
            Arg("anneal_strategy", "cos", "anneal_strategy", "cos or linear", "str"),
            Arg("div_factor", 25.0, "div_factor", "start = max_lr / div_factor"),
            Arg("final_div_factor", 1e4, "final_div_factor", "end = start / it"),
            Arg("three_phase", False, "three_phase", "fall back to start", "bool"),
        ),
        transform=_one_cycle_steps,
        note="Same values for steps 0 .. total_steps - 1 (PyTorch allows no "
        "more); momentum cycling is not covered.",
    ),
    "CosineAnnealingWarmRestarts": Alias(
        TORCH,
        "cosine_restarts_schedule",
        (
            _lr(),
            Arg("T_0", REQUIRED, "first_period", "first cycle's length", "int"),
            Arg("T_mult", 1, "period_mult", "cycle length factor", "int"),
            Arg("eta_min", 0.0, "min_value", "the rate at each cycle's end"),
        ),
    ),
    "ExponentialDecay": Alias(
        KERAS,
        "exponential_decay",
        (
            _INIT,
            Arg("decay_steps", REQUIRED, "transition_steps", "decay period", "int"),
            Arg("decay_rate", REQUIRED, "decay_rate", "factor per decay_steps"),
            _STAIRCASE,
        ),
    ),
    "PiecewiseConstantDecay": Alias(
        KERAS,
        "join_schedules",
        (
            Arg(
                "boundaries",
                REQUIRED,
                "boundaries=[b + 1 for b in boundaries]",
                "the last step of each value but the last",
                "list[int]",
            ),
            Arg(
                "values",
                REQUIRED,
                "schedules=[constant_schedule(v) for v in values]",
                "the rates, one more than boundaries",
                "list[float]",
            ),
        ),
        transform=_piecewise,
    ),
    "PolynomialDecay": Alias(
        KERAS,
        "polynomial_schedule",
        (
            _INIT,
            Arg("decay_steps", REQUIRED, "transition_steps", "decay length", "int"),
            Arg("end_learning_rate", 1e-4, "end_value", "the final rate"),
            _POWER,
            Arg("cycle", False, "cycle", "restart past decay_steps", "bool"),
        ),
    ),
    "InverseTimeDecay": Alias(
        KERAS,
        "inverse_time_decay_schedule",
        (
            _INIT,
            Arg("decay_steps", REQUIRED, "decay_steps", "decay period", "int"),
            Arg("decay_rate", REQUIRED, "decay_rate", "added per decay_steps"),
            _STAIRCASE,
        ),
    ),
    "CosineDecay": Alias(
        KERAS,
        "cosine_decay_schedule",
        (
            _INIT,
            Arg("decay_steps", REQUIRED, "decay_steps", "decay length", "int"),
            Arg("alpha", 0.0, "alpha", "final rate, a fraction of the start"),
            Arg(
                "warmup_target", None, "", "given: warm up to it first", "float | None"
            ),
            Arg("warmup_steps", 0, "", "warmup length, with warmup_target", "int"),
        ),
        transform=_keras_cosine,
        call="cosine_decay_schedule(init_value=initial_learning_rate, "
        "decay_steps=decay_steps, alpha=alpha); with a warmup_target p: "
        "warmup_cosine_decay_schedule(init_value=initial_learning_rate, "
        "peak_value=p, warmup_steps=warmup_steps, decay_steps=warmup_steps + "
        "decay_steps, end_value=alpha * p)",
    ),
    "CosineDecayRestarts": Alias(
        KERAS,
        "cosine_restarts_schedule",
        (
            _INIT,
            Arg("first_decay_steps", REQUIRED, "first_period", "first cycle", "int"),
            Arg("t_mul", 2.0, "period_mult", "cycle length factor"),
            Arg("m_mul", 1.0, "peak_decay", "cycle height factor"),
            Arg("alpha", 0.0, "min_value=alpha * initial_learning_rate", "floor"),
        ),
        transform=lambda a: {"min_value": a["alpha"] * a["initial_learning_rate"]},
    ),
}

_PYTHON = "write it in Python"
_BASE = f"a base class, not a schedule: {_PYTHON} as a function step -> lr"
# Classes with no lrjax schedule: why, and what to use instead.
NO_EQUIVALENT: dict[str, str] = {
    "LambdaLR": f"it calls a Python function; {_PYTHON}: lambda t: lr * f(t), "
    "f using jax.numpy",
    "MultiplicativeLR": "it calls a Python function; for a constant factor g "
    "use ExponentialLR --gamma g, else tabulate lr * f(1) * ... * f(t) in Python",
    "ChainedScheduler": f"it combines scheduler objects; {_PYTHON} as the "
    "product lr * f1(t) * f2(t) * ... of their factors",
    "SequentialLR": "it combines scheduler objects; use join_schedules "
    "--schedules NAME:ARG=VALUE,... (once per scheduler) --boundaries MILESTONES",
    "ReduceLROnPlateau": "it reads a metric, not the step; in Python chain "
    "lrjax.reduce_on_plateau after the optimizer and call "
    "lrjax.report_metric(state, val_loss) once per epoch",
    "LRScheduler": _BASE,
    "_LRScheduler": _BASE,
    "LearningRateSchedule": _BASE,
}


def alias_function(name: str) -> Callable[..., Any]:
    """The alias ``name`` as a function of its class's arguments.

    Its signature and ``Args:`` docstring are the class's (for ``--help`` and
    the parser); called, it returns the lrjax schedule, and an error from the
    lrjax schedule names it.
    """
    alias = ALIASES[name]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature(
        [
            inspect.Parameter(a.name, kind, default=a.default, annotation=a.type)
            for a in alias.args
        ]
    )

    def build(*args: Any, **kwargs: Any) -> Any:
        import lrjax.schedules

        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        target, lrjax_kwargs = alias.lrjax_call(dict(bound.arguments))
        try:
            return getattr(lrjax.schedules, target)(**lrjax_kwargs)
        except (ValueError, TypeError) as e:  # say which argument it names
            shown = ", ".join(
                f"{arg}={value}"
                for arg, value in alias.parts()
                if arg != value and re.search(rf"\b{arg}\b", str(e))
            )
            if shown and target == alias.target:
                target = f"{target}({shown})"
            raise ValueError(f"in lrjax.{target}: {e}") from None

    source = "PyTorch" if alias.module == TORCH else "Keras"
    lines = [f"{source} {alias.module}.{name} as lrjax {alias.target}."]
    lines.append(f"The lrjax call: {alias.call_text()}.")
    lines += [alias.note, "", "Args:"] if alias.note else ["", "Args:"]
    for a in alias.args:
        lines.append(f"  {a.name}: {a.text}" + (f" -> {a.to}" if a.to else ""))
    build.__signature__ = signature  # type: ignore[attr-defined]
    build.__doc__ = "\n".join(lines)
    build.__name__ = build.__qualname__ = name
    return build
