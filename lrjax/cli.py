"""The ``lrjax`` command line: look at a schedule without writing code.

    lrjax schedule NAME --ARG VALUE ... --steps N [--points K] [--plot FILE.png]
    lrjax schedule --list

prints the schedule's value at ``K`` evenly spaced steps of ``0 .. N-1`` and at
its turning points, optionally plotting it. ``python -m lrjax`` is the same.

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

Turning points (jumps, extrema, kinks, plateau ends) are found from the
values at every step of ``0 .. N-1`` (a grid of ``2**22`` steps when ``N`` is
larger) by ``lrjax.plotting.turning_points``, which defines them.

Errors in the command (unknown schedule, unknown, missing or unreadable
arguments, values a constructor rejects) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lrjax.plotting import DENSE_LIMIT, find_turning_points, schedule_values_at

__all__ = ["main", "available_schedules"]

_PLOT_LIMIT = 2**24
_MAX_TURNING = 60
_VALUED_OPTIONS = ("--steps", "--points", "--plot", "--seed")
_EMPTY = inspect.Parameter.empty


class CliError(Exception):
    """A user error: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see `{self.prog} --help`)")


# ---------------------------------------------------------------- registry


def available_schedules() -> dict[str, Callable[..., Any]]:
    """The public schedule constructors of ``lrjax.schedules``, by name.

    Discovered at call time, so every schedule added to the package appears.
    """
    import lrjax.schedules as module

    names = getattr(module, "__all__", None) or dir(module)
    found = {}
    for name in sorted(names):
        obj = getattr(module, name, None)
        if not name.startswith("_") and inspect.isfunction(obj):
            found[name] = obj
    return found


def _lookup(name: str) -> Callable[..., Any]:
    registry = available_schedules()
    if name not in registry:
        hint = " (see `lrjax schedule --list`)"
        close = [n for n in registry if name.lower() in n]
        if close:
            hint = f"; did you mean {', '.join(close[:3])}?"
        raise CliError(f"unknown schedule {name!r}{hint}")
    return registry[name]


def _short_signature(fn: Callable[..., Any]) -> str:
    sig = inspect.signature(fn)
    params = [p.replace(annotation=_EMPTY) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=_EMPTY))


# ------------------------------------------------------------ value parsing


def _annotation_text(param: inspect.Parameter) -> str:
    ann = param.annotation
    if ann is _EMPTY:
        return ""
    return ann if isinstance(ann, str) else inspect.formatannotation(ann)


def _kind(param: inspect.Parameter) -> str:
    """How to read a command-line string for ``param``."""
    name, text, default = param.name, _annotation_text(param), param.default
    if name == "key" or re.search(r"PRNGKey|KeyArray", text):
        return "key"
    if name == "schedules" or re.search(
        r"(Sequence|list|Iterable)\[.*(Schedule|Callable)", text
    ):
        return "schedules"
    if name == "schedule" or re.fullmatch(r"(\w+\.)?Schedule|Callable.*", text):
        return "schedule"
    if name == "cosine_kwargs" or re.search(r"(Iterable|Sequence)\[dict", text):
        return "kwargs_list"
    if name == "boundaries_and_scales" or re.search(r"dict|Mapping", text):
        return "dict"
    if name in ("milestones", "boundaries") or re.search(
        r"Sequence|list|tuple|Iterable", text
    ):
        return "list"
    if text == "bool" or isinstance(default, bool):
        return "bool"
    if re.search(r"\bstr\b", text) or isinstance(default, str):
        return "str"
    if re.search(r"\bint\b", text) and not re.search(r"float|Num", text):
        return "int"
    if re.search(r"float|Num|Array", text) or isinstance(default, (int, float)):
        return "number"
    return "any"


def _literal(text: str) -> Any:
    word = text.strip()
    low = word.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for convert in (int, float):
        try:
            return convert(word)
        except ValueError:
            pass
    return word


def _split_items(text: str) -> list[str]:
    return [item for item in (s.strip() for s in text.split(",")) if item]


def _read(kind: str, flag: str, texts: list[str]) -> Any:
    """Converts the strings given to ``flag`` into a value of ``kind``."""
    if kind in ("schedules", "kwargs_list"):
        read_one = _inner_schedule if kind == "schedules" else _kwargs_group
        return [read_one(flag, text) for text in texts]
    if not texts:
        if kind == "bool":
            return True
        raise CliError(f"{flag} needs a value")
    if kind in ("list", "any") and len(texts) > 1:
        return [_literal(t) for t in texts]
    if len(texts) > 1:
        raise CliError(f"{flag} takes one value, got {' '.join(texts)!r}")
    text = texts[0]
    if kind == "schedule":
        return _inner_schedule(flag, text)
    if kind == "str":
        return text
    value = _literal(text)
    if value is None:
        return None
    if kind == "key":
        if not isinstance(value, int) or isinstance(value, bool):
            raise CliError(f"{flag} expects an integer seed, got {text!r}")
        import jax

        return jax.random.PRNGKey(value)
    if kind == "bool":
        if value in (0, 1) and not isinstance(value, float):
            return bool(value)
        raise CliError(f"{flag} expects true or false, got {text!r}")
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise CliError(f"{flag} expects an integer, got {text!r}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CliError(f"{flag} expects a number, got {text!r}")
        return value
    if kind == "list":
        return [_literal(item) for item in _split_items(text)]
    if kind == "dict":
        table = {}
        for item in _split_items(text):
            step, sep, scale = item.partition(":")
            if not sep:
                raise CliError(
                    f"{flag} expects STEP:VALUE pairs such as 100:0.1,200:0.1, "
                    f"got {text!r}"
                )
            table[_literal(step)] = _literal(scale)
        return table
    return value  # "any": a plain literal


# Splits "a=1,b=2,3,c=x:1,y:2" before each "name=" only, so values keep commas.
_ARG_SPLIT = re.compile(r",(?=\s*[A-Za-z_][\w-]*\s*=)")


def _pairs(flag: str, text: str) -> list[tuple[str, str]]:
    pairs = []
    for chunk in _ARG_SPLIT.split(text):
        if not chunk.strip():
            continue
        key, sep, value = chunk.partition("=")
        if not sep:
            raise CliError(f"{flag}: expected ARG=VALUE, got {chunk.strip()!r}")
        pairs.append((key.strip().replace("-", "_"), value.strip()))
    return pairs


def _kwargs_group(flag: str, text: str) -> dict[str, Any]:
    return {key: _literal(value) for key, value in _pairs(flag, text)}


def _inner_schedule(flag: str, text: str) -> Callable[..., Any]:
    spec = text.strip()
    if "(" in spec:
        return _from_call_syntax(spec)
    name, _, arg_text = spec.partition(":")
    fn = _lookup(name.strip())
    params = inspect.signature(fn).parameters
    kwargs = {}
    for key, value in _pairs(flag, arg_text):
        if key not in params:
            raise _unknown_argument(name, key, fn)
        kind = _kind(params[key])
        if kind in ("schedule", "schedules"):
            raise CliError(
                f"{flag}: a schedule inside a schedule needs the call syntax, "
                f"e.g. {name}({key}=...)"
            )
        kwargs[key] = _read(kind, f"{name}:{key}", [value])
    return _construct(name.strip(), fn, (), kwargs)


def _from_call_syntax(spec: str) -> Any:
    try:
        tree = ast.parse(spec, mode="eval").body
    except SyntaxError as e:
        raise CliError(f"cannot read {spec!r}: {e.msg}") from None
    return _evaluate_node(tree, spec)


def _evaluate_node(node: ast.AST, spec: str) -> Any:
    """Evaluates calls of registered schedules on literals, and nothing else."""
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise CliError(f"cannot read {ast.unparse(node.func)!r} in {spec!r}")
        name = node.func.id
        fn = _lookup(name)
        args = tuple(_evaluate_node(a, spec) for a in node.args)
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise CliError(f"cannot read ** arguments in {spec!r}")
            kwargs[keyword.arg] = _evaluate_node(keyword.value, spec)
        return _construct(name, fn, args, kwargs)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_evaluate_node(item, spec) for item in node.elts]
    if isinstance(node, ast.Dict):
        return {
            _evaluate_node(k, spec): _evaluate_node(v, spec)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        raise CliError(f"cannot read {ast.unparse(node)!r} in {spec!r}") from None


def _unknown_argument(name: str, key: str, fn: Callable[..., Any]) -> CliError:
    return CliError(
        f"{name} has no argument {key!r}; it takes {name}{_short_signature(fn)}"
    )


def _construct(
    name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[..., Any]:
    sig = inspect.signature(fn)
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError as e:
        raise CliError(f"{name}: {e}") from None
    missing = [
        p.name
        for p in sig.parameters.values()
        if p.default is _EMPTY
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name not in bound.arguments
    ]
    for key, value in bound.arguments.items():  # a seed in the call syntax
        if _kind(sig.parameters[key]) == "key" and isinstance(value, int):
            bound.arguments[key] = _read("key", key, [str(value)])
    if missing:
        names = ", ".join(f"--{m}" for m in missing)
        raise CliError(
            f"{name}: missing required argument {names}; "
            f"it takes {name}{_short_signature(fn)}"
        )
    try:
        return fn(*bound.args, **bound.kwargs)
    except Exception as e:  # ValueError/TypeError from validation, mostly
        raise CliError(f"{name}: {_first_line(e)}") from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


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
        raise CliError(f"evaluating the schedule failed: {_first_line(e)}") from None
    note = ""
    if num_steps > DENSE_LIMIT:
        note = f" (turning points searched on a grid of {DENSE_LIMIT} steps)"
    lines = [f"# {title}, steps 0..{num_steps - 1}{note}"]
    lines.append(f"{'step':>10}  {'learning rate':>14}  turning point")
    for step, value in zip(rows, values, strict=True):
        kinds = ", ".join(turning.get(step, [])) if step in shown else ""
        lines.append(f"{step:>10}  {str(value):>14}  {kinds}".rstrip())
    if len(turning) > len(shown):
        lines.append(f"# ... {len(turning) - len(shown)} more turning points not shown")
    return "\n".join(lines)


# -------------------------------------------------------------- commands


def _build_parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    top = _Parser(
        prog="lrjax",
        description="lrjax: learning-rate schedules and optimizers for JAX.",
    )
    from lrjax import __version__

    top.add_argument("--version", action="version", version=f"lrjax {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
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
        "[--points K] [--plot FILE.png] [--seed S]\n       lrjax schedule --list",
    )
    sched.add_argument("name", nargs="?", metavar="NAME", help="schedule name")
    sched.add_argument("--steps", type=int, help="number of steps N (0 .. N-1)")
    sched.add_argument(
        "--points", type=int, default=11, help="evenly spaced rows (default 11)"
    )
    sched.add_argument("--plot", metavar="FILE", help="write a plot (matplotlib)")
    sched.add_argument("--seed", type=int, help="PRNG seed for a `key` argument")
    sched.add_argument("--list", action="store_true", help="list the schedules")
    return top, sched


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


def _run_schedule(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    own, schedule_args = _split_schedule_argv(argv)
    opts = parser.parse_args(own)
    if opts.list:
        for name, fn in available_schedules().items():
            summary = (inspect.getdoc(fn) or "").split("\n", 1)[0]
            print(f"{name}{_short_signature(fn)}")
            if summary:
                print(f"    {summary}")
        return 0
    if opts.name is None:
        raise CliError("missing schedule NAME (see `lrjax schedule --list`)")
    if opts.steps is None:
        raise CliError("missing --steps N (see `lrjax schedule --help`)")
    if not 1 <= opts.steps <= 2**31:
        raise CliError(f"--steps must be in [1, 2**31], got {opts.steps}")
    if opts.points < 1:
        raise CliError(f"--points must be >= 1, got {opts.points}")

    if "(" in opts.name:
        if schedule_args:
            raise CliError("give the arguments inside the call, not as --ARG")
        schedule, title = _from_call_syntax(opts.name), opts.name
    else:
        schedule, title = _schedule_from_flags(opts.name, schedule_args, opts.seed)

    table = _format_table(schedule, title, opts.steps, opts.points)
    if opts.plot:  # before printing, so a failed plot prints only the error
        _plot(schedule, opts.steps, title, opts.plot)
    print(table)
    if opts.plot:
        print(f"# plot written to {opts.plot}")
    return 0


def _schedule_from_flags(
    name: str, schedule_args: list[tuple[str, list[str]]], seed: int | None
) -> tuple[Callable[..., Any], str]:
    fn = _lookup(name)
    params = inspect.signature(fn).parameters
    texts: dict[str, list[str]] = {}
    flags: dict[str, str] = {}
    for flag, values in schedule_args:
        key = flag[2:].replace("-", "_")
        if key not in params:
            raise _unknown_argument(name, key, fn)
        if key in texts and _kind(params[key]) not in ("schedules", "kwargs_list"):
            raise CliError(f"{flag} given twice")
        texts.setdefault(key, []).extend(values)
        flags[key] = flag
    kwargs = {key: _read(_kind(params[key]), flags[key], v) for key, v in texts.items()}
    shown = [f"{key}={' '.join(v) if v else 'true'}" for key, v in texts.items()]
    for key, param in params.items():
        if _kind(param) == "key" and key not in kwargs:
            kwargs[key] = _read("key", "--seed", [str(seed or 0)])
            shown.append(f"{key}=PRNGKey({seed or 0})")
        elif _kind(param) == "key" and seed is not None:
            raise CliError(f"give either --seed or --{key}, not both")
    return _construct(name, fn, (), kwargs), f"{name}({', '.join(shown)})"


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
    figure = Figure(figsize=(7, 4), layout="constrained")
    ax = figure.add_subplot()
    plot_schedule(schedule, n, ax=ax)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    try:
        figure.savefig(path, dpi=120)
    except (OSError, ValueError) as e:
        raise CliError(f"--plot {path}: {_first_line(e)}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``lrjax`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top, sched = _build_parsers()
    try:
        try:
            if argv and argv[0] == "schedule":
                return _run_schedule(sched, argv[1:])
            top.parse_args(argv)
            raise CliError("missing COMMAND (see `lrjax --help`)")
        except SystemExit as e:  # --help and --version
            return e.code if isinstance(e.code, int) else 0
    except CliError as e:
        print(f"lrjax: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `lrjax ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
