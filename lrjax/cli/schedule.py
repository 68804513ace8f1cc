"""``lrjax schedule``: look at a schedule without writing code.

    lrjax schedule NAME --ARG VALUE ... --steps N [--points K] [--plot FILE.png]
    lrjax schedule NAME --help
    lrjax schedule --list

prints the schedule's value at ``K`` evenly spaced steps of ``0 .. N-1`` and at
its turning points, optionally plotting it; values are printed to six
significant digits (``lrjax.plotting.format_rate``), so float32 rounding noise
does not show. ``NAME --help`` lists that schedule's arguments, their defaults
and descriptions. ``python -m lrjax schedule`` is the same.

Argument values are read as Python-like literals, guided by the schedule's
signature: ``0.1``, ``1e-3``, ``100``, ``true``/``false``, ``none``; lists
``30,60,90`` (or ``--milestones 30 60 90``); dicts of step to value
``100:0.1,200:0.1``; plain words for strings (``--mode triangular2``).
``--init-value`` and ``--init_value`` are the same. A PRNG ``key`` argument
(``random_schedule``) comes from ``--seed N`` (default 0).

A schedule argument (``clip_schedule``, ``warmup_schedule``,
``per_epoch_schedule``) is written ``NAME:ARG=VALUE,ARG=VALUE``, e.g.
``--schedule cosine_decay_schedule:init_value=0.1,decay_steps=100``; a list of
schedules (``join_schedules``) repeats the flag or lists several specs after
it; ``sgdr_schedule``'s ``cosine_kwargs`` takes one ``ARG=VALUE,...`` group per
cycle the same way. For nesting, write calls instead:
``"warmup_schedule(schedule=clip_schedule(cosine_decay_schedule(0.1, 100),
min_value=0.01), warmup_steps=10)"``, also accepted in place of ``NAME``.

Aliases: a PyTorch ``torch.optim.lr_scheduler`` or Keras
``keras.optimizers.schedules`` class name (``OneCycleLR``, ``CosineDecay``)
is accepted wherever a schedule name is, with that class's own arguments and
defaults (``--max-lr``, ``--T-max``; PyTorch's base rate, which it reads from
the optimizer, as ``--lr``), and runs the equivalent lrjax schedule of the
README's mapping; ``--list`` lists them, ``NAME --help`` shows the lrjax call.

Turning points (jumps, extrema, kinks, plateau ends) are found from the
values at every step of ``0 .. N-1`` (a grid of ``2**22`` steps when ``N`` is
larger) by ``lrjax.plotting.turning_points``, which defines them.

Errors in the command (unknown schedule, unknown, missing or unreadable
arguments, values a constructor rejects) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import inspect
import re
import shutil
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lrjax.cli.aliases import ALIASES, NO_EQUIVALENT
from lrjax.cli.arguments import (
    CliError,
    available_schedules,
    construct,
    first_line,
    flag_of,
    from_call_syntax,
    lookup,
    parse_kind,
    read_value,
    short_signature,
    unknown_argument,
)
from lrjax.plotting import (
    DENSE_LIMIT,
    find_turning_points,
    format_rate,
    schedule_values_at,
)

__all__ = ["add_parser", "run"]

_PLOT_LIMIT = 2**24
_PLOT_WIDTH = 7.0  # inches
_TITLE_SIZE = 9  # points
_MAX_TURNING = 60
_VALUED_OPTIONS = ("--steps", "--points", "--plot", "--seed")
_EMPTY = inspect.Parameter.empty
_ALIAS_HEADING = (
    "\nPyTorch and Keras class names, with their own arguments "
    "(`lrjax schedule NAME --help` shows the lrjax call):\n"
)


# ------------------------------------------------------------------ table


def _format_table(
    schedule: Callable[..., Any], title: str, num_steps: int, points: int
) -> str:
    try:  # a one-line report, never a traceback
        turning = find_turning_points(schedule, num_steps)
        shown = sorted(turning)[:_MAX_TURNING]
        even = np.round(np.linspace(0, num_steps - 1, points)).astype(int)
        rows = sorted(set(even.tolist()) | set(shown))
        values = schedule_values_at(schedule, np.asarray(rows))
    except Exception as e:
        raise CliError(f"evaluating the schedule failed: {first_line(e)}") from None
    note = ""
    if num_steps > DENSE_LIMIT:
        note = f" (turning points searched on a grid of {DENSE_LIMIT} steps)"
    lines = [f"# {title}, steps 0..{num_steps - 1}{note}"]
    lines.append(f"{'step':>10}  {'learning rate':>14}  turning point")
    for step, value in zip(rows, values, strict=True):
        kinds = ", ".join(turning.get(step, [])) if step in shown else ""
        lines.append(f"{step:>10}  {format_rate(value):>14}  {kinds}".rstrip())
    if len(turning) > len(shown):
        lines.append(f"# ... {len(turning) - len(shown)} more turning points not shown")
    return "\n".join(lines)


# ------------------------------------------------------------ NAME --help

# How each kind of argument is written on the command line (arguments.parse_kind).
_FORMS = {
    "bool": "true or false; the bare flag means true",
    "list": "a list: 30,60,90 or 30 60 90",
    "int_or_list": "an integer, or a list: 3 or 300,300,400",
    "number_or_list": "a number, or a list: 1e-3 or 1e-3,5e-4 or 1e-3 5e-4",
    "dict": "STEP:VALUE pairs: 100:0.1,200:0.1",
    "schedule": "a schedule: NAME:ARG=VALUE,... or a call NAME(...)",
    "schedules": "schedules: repeat the flag, one NAME:ARG=VALUE,... each",
    "kwargs_list": "one ARG=VALUE,... group per cycle, repeating the flag",
    "key": "an integer seed (default: --seed, else 0)",
}


def _argument_docs(fn: Callable[..., Any]) -> dict[str, str]:
    """``{name: one-line description}`` from the docstring's ``Args:`` section."""
    doc = inspect.getdoc(fn) or ""
    match = re.search(r"^Args:\n((?:[ \t]+\S.*\n?|\n(?=[ \t]))+)", doc, re.M)
    if not match:
        return {}
    found: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines():
        head = re.match(r"^ {1,4}([A-Za-z_][\w, ]*):(?:\s|$)(.*)", line)
        if head and len(line) - len(line.lstrip()) <= 4:
            names = [n.strip() for n in head.group(1).split(",")]
            text = head.group(2).strip()
        else:
            text = line.strip()
        for n in names:
            found[n] = f"{found.get(n, '')} {text}".strip()
    return {
        n: re.sub(r":\w+:`~?([^`]+)`|``([^`]+)``", r"\1\2", t) for n, t in found.items()
    }


def _default_text(param: inspect.Parameter) -> str:
    if param.default is _EMPTY:
        return "required" if parse_kind(param) != "key" else "--seed"
    value = param.default
    if value is None or isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _schedule_help(name: str, fn: Callable[..., Any]) -> str:
    """The help of ``lrjax schedule NAME --help``: that schedule's own arguments."""
    width = max(min(shutil.get_terminal_size().columns, 100), 60) - 2
    params = inspect.signature(fn).parameters.values()
    docs = _argument_docs(fn)
    summary = (inspect.getdoc(fn) or "").split("\n\n", 1)[0].replace("``", "")
    flags = {p.name: "--" + p.name.replace("_", "-") for p in params}
    flag_width = max(len(f) for f in flags.values()) + 2 if flags else 0
    default_width = max([len(_default_text(p)) for p in params] + [7]) + 2
    lines = [
        f"usage: lrjax schedule {name} [--ARG VALUE ...] --steps N "
        "[--points K] [--plot FILE.png] [--seed S]",
        "",
        textwrap.fill(" ".join(summary.split()), width),
        "",
        f"{ALIASES[name].module if name in ALIASES else 'lrjax'}.{name}"
        f"{short_signature(fn)}",
        "",
        f"arguments of {name} (flag, default, description):",
    ]
    indent = " " * (2 + flag_width + default_width)
    for p in params:
        text = docs.get(p.name, "")
        form = _FORMS.get(parse_kind(p))
        if form:
            text = f"{text} [{form}]".strip()
        head = f"  {flags[p.name]:<{flag_width}}{_default_text(p):<{default_width}}"
        lines.append(
            textwrap.fill(
                text or "-", width, initial_indent=head, subsequent_indent=indent
            )
        )
    own = (
        "--steps N (required), --points K, --plot FILE and --seed S are the "
        "command's own options: see `lrjax schedule --help`."
    )
    lines += ["", textwrap.fill(own, width)]
    return "\n".join(lines)


# ---------------------------------------------------------------- parsing


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Adds ``schedule`` to ``commands`` (``add_subparsers()``'s result)."""
    doc = __doc__ or ""
    sched = commands.add_parser(
        "schedule",
        help="print (and plot) a learning-rate schedule",
        description="Print a schedule's values at evenly spaced steps and at "
        "its turning points; optionally plot it.",
        epilog=doc[doc.index("Argument values") : doc.index("Errors in")].replace(
            "``", ""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="lrjax schedule NAME [--ARG VALUE ...] --steps N "
        "[--points K] [--plot FILE.png] [--seed S]\n"
        "       lrjax schedule NAME --help\n       lrjax schedule --list",
    )
    sched.add_argument("name", nargs="?", metavar="NAME", help="schedule name")
    sched.add_argument("--steps", type=int, help="number of steps N (0 .. N-1)")
    sched.add_argument(
        "--points", type=int, default=11, help="evenly spaced rows (default 11)"
    )
    sched.add_argument("--plot", metavar="FILE", help="write a plot (matplotlib)")
    sched.add_argument("--seed", type=int, help="PRNG seed for a `key` argument")
    sched.add_argument("--list", action="store_true", help="list the schedules")
    return sched


def _split_schedule_argv(
    argv: Sequence[str],
) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Separates the command's own options from the schedule's ``--ARG``s."""
    own: list[str] = []
    schedule_args: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        option, eq, _ = token.partition("=")
        if option in _VALUED_OPTIONS:
            own.extend(argv[i : i + (1 if eq else 2)])
            i += 1 if eq else 2
        elif token in ("-h", "--help", "--list") or not token.startswith("--"):
            own.append(token)  # argparse reports stray words
            i += 1
        else:
            values = [token.partition("=")[2]] if eq else []
            i += 1
            while not eq and i < len(argv) and not argv[i].startswith("--"):
                values.append(argv[i])
                i += 1
            schedule_args.append((option, values))
    return own, schedule_args


def run(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    """Runs ``lrjax schedule`` with the arguments after ``schedule``.

    Raises:
      CliError: for an error in the command (reported on one line).
    """
    own, schedule_args = _split_schedule_argv(argv)
    wants_help = any(token in ("-h", "--help") for token in own)
    if wants_help:  # NAME --help: that schedule's arguments, not the command's
        rest = [token for token in own if token not in ("-h", "--help")]
        opts = parser.parse_args(rest)
        if opts.name is None or "(" in opts.name:
            parser.print_help()
        else:
            print(_schedule_help(opts.name, lookup(opts.name)))
        return 0
    opts = parser.parse_args(own)
    if opts.list:
        aliases = {name: lookup(name) for name in ALIASES}
        for heading, found in (("", available_schedules()), (_ALIAS_HEADING, aliases)):
            print(heading, end="")
            for name, fn in found.items():
                summary = (inspect.getdoc(fn) or "").split("\n", 1)[0]
                print(f"{name}{short_signature(fn)}")
                if summary:
                    print(f"    {summary}")
        print(
            f"\nNo lrjax schedule (`lrjax schedule NAME` says what to use "
            f"instead): {', '.join(NO_EQUIVALENT)}"
        )
        return 0
    if opts.name is None:
        raise CliError("missing schedule NAME (see `lrjax schedule --list`)")
    if "(" not in opts.name:
        lookup(opts.name)  # an unknown or unmappable NAME is the first error
    if opts.steps is None:
        raise CliError("missing --steps N (see `lrjax schedule --help`)")
    if not 1 <= opts.steps <= 2**31:
        raise CliError(f"--steps must be in [1, 2**31], got {opts.steps}")
    if opts.points < 1:
        raise CliError(f"--points must be >= 1, got {opts.points}")

    if "(" in opts.name:
        if schedule_args:
            raise CliError("give the arguments inside the call, not as --ARG")
        schedule, title = from_call_syntax(opts.name), opts.name
    else:
        schedule, title = _schedule_from_flags(opts.name, schedule_args, opts.seed)

    table = _format_table(schedule, title, opts.steps, opts.points)
    if opts.plot:  # before printing, so a failed plot prints only the error
        _plot(schedule, opts.steps, title, opts.plot)
    print(table)
    if opts.plot:
        print(f"# plot written to {opts.plot}")
    return 0


def _shown(kind: str, texts: list[str]) -> str:
    """A flag's value as the title's call shows it: lists as ``[30, 60]``."""
    if not texts:
        return "true"
    if kind in ("list", "int_or_list", "number_or_list"):
        items = [i.strip() for t in texts for i in t.split(",") if i.strip()]
        if len(items) > 1:
            return f"[{', '.join(items)}]"
    return " ".join(texts)


def _schedule_from_flags(
    name: str, schedule_args: list[tuple[str, list[str]]], seed: int | None
) -> tuple[Callable[..., Any], str]:
    fn = lookup(name)
    params = inspect.signature(fn).parameters
    texts: dict[str, list[str]] = {}
    by_lower = {key.lower(): key for key in params}  # PyTorch's T_max: --t-max
    for flag, values in schedule_args:
        key = flag[2:].replace("-", "_")
        key = by_lower.get(key.lower(), key)
        if key not in params:
            raise unknown_argument(name, flag_of(key), fn, flags=True)
        if key in texts and parse_kind(params[key]) not in ("schedules", "kwargs_list"):
            raise CliError(f"{flag_of(key)} given twice")
        texts.setdefault(key, []).extend(values)
    kwargs = {
        key: read_value(parse_kind(params[key]), flag_of(key), v)
        for key, v in texts.items()
    }
    shown = [f"{key}={_shown(parse_kind(params[key]), v)}" for key, v in texts.items()]
    for key, param in params.items():
        if parse_kind(param) == "key" and key not in kwargs:
            kwargs[key] = read_value("key", "--seed", [str(seed or 0)])
            shown.append(f"{key}=PRNGKey({seed or 0})")
        elif parse_kind(param) == "key" and seed is not None:
            raise CliError(f"give either --seed or --{key}, not both")
    schedule = construct(name, fn, (), kwargs, flags=True)
    return schedule, f"{name}({', '.join(shown)})"


def wrap_title(
    title: str, width: float = _PLOT_WIDTH, fontsize: float = _TITLE_SIZE
) -> str:
    """``title`` (the whole call) in lines that fit a figure ``width`` inches wide.

    A line holds as many characters as fit in the width less half an inch of
    margins at 0.65 em a character (wider than DejaVu Sans's average), and
    breaks after a space, else inside a word too long for a line; no character
    is dropped but the spaces the lines break at.
    """
    chars = max(int((width - 0.5) * 72 / (0.65 * fontsize)), 20)
    lines = textwrap.wrap(title, chars, break_on_hyphens=False)
    return "\n".join(lines) or title


def _plot(schedule: Callable[..., Any], n: int, title: str, path: str) -> None:
    if n > _PLOT_LIMIT:
        raise CliError(f"--plot draws at most {_PLOT_LIMIT} steps, got --steps {n}")
    from lrjax.plotting import plot_schedule

    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise CliError(
            '--plot needs matplotlib: pip install "lrjax[examples]"'
        ) from None
    figure = Figure(figsize=(_PLOT_WIDTH, 4), layout="constrained")
    ax = figure.add_subplot()
    plot_schedule(schedule, n, ax=ax)
    ax.set_title(wrap_title(title), fontsize=_TITLE_SIZE)
    ax.grid(alpha=0.3)
    try:
        figure.savefig(path, dpi=120)
    except (OSError, ValueError) as e:
        raise CliError(f"--plot {path}: {first_line(e)}") from None
