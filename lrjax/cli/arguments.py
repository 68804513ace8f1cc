"""Reading the ``lrjax schedule`` command's arguments into schedule calls.

The schedule registry (lrjax's schedules and the PyTorch/Keras aliases of
:mod:`lrjax.cli.aliases`), the literal parser guided by each schedule's
signature, the ``NAME:ARG=VALUE`` and call syntaxes for schedule arguments,
and constructing the schedule with one-line errors (:class:`CliError`).
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from typing import Any

from lrjax.cli.aliases import ALIASES, NO_EQUIVALENT, alias_function

__all__ = [
    "CliError",
    "available_schedules",
    "construct",
    "first_line",
    "flag_of",
    "from_call_syntax",
    "lookup",
    "parse_kind",
    "read_value",
    "short_signature",
    "unknown_argument",
]

_EMPTY = inspect.Parameter.empty


class CliError(Exception):
    """A user error: reported on one line, exit status 2."""


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


def lookup(name: str) -> Callable[..., Any]:
    """The lrjax schedule, or PyTorch/Keras alias, called ``name``."""
    registry = available_schedules()
    if name in registry:
        return registry[name]
    if name in ALIASES:
        return alias_function(name)
    if name in NO_EQUIVALENT:
        raise CliError(f"{name} has no lrjax schedule: {NO_EQUIVALENT[name]}")
    hint = " (see `lrjax schedule --list`)"
    close = [n for n in [*registry, *ALIASES] if name.lower() in n.lower()]
    if close:
        hint = f"; did you mean {', '.join(close[:3])}?"
    raise CliError(f"unknown schedule {name!r}{hint}")


def short_signature(fn: Callable[..., Any]) -> str:
    """``fn``'s signature without annotations: ``(init_value, decay_steps, ...)``."""
    sig = inspect.signature(fn)
    params = [p.replace(annotation=_EMPTY) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=_EMPTY))


# ------------------------------------------------------------ value parsing


def _annotation_text(param: inspect.Parameter) -> str:
    ann = param.annotation
    if ann is _EMPTY:
        return ""
    return ann if isinstance(ann, str) else inspect.formatannotation(ann)


# An annotation ``X | Sequence[X]`` (or list, tuple): one value or a list.
_ONE_OR_LIST = re.compile(r"(\w+) \| (?:Sequence|list|tuple)\[\1\]")
_NUMBER_TYPES = ("float", "Numeric", "ArrayLike")


def parse_kind(param: inspect.Parameter) -> str:
    """How to read a command-line string for ``param``.

    An argument annotated ``X | Sequence[X]`` takes one value or a list
    (``"int_or_list"``, ``"number_or_list"``), so the annotation of a
    schedule argument that accepts a list decides how the flag is read.
    """
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
    one_or_list = _ONE_OR_LIST.fullmatch(text)  # X | Sequence[X]
    if one_or_list and one_or_list.group(1) == "int":
        return "int_or_list"  # a count, or a list (wsd_schedule's cycles)
    if one_or_list and one_or_list.group(1) in _NUMBER_TYPES:
        return "number_or_list"  # a value, or one per cycle (its peak_value)
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


def _number(flag: str, text: str, or_list: str = "") -> int | float:
    value = _literal(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CliError(f"{flag} expects a number{or_list}, got {text!r}")
    return value


def read_value(kind: str, flag: str, texts: list[str]) -> Any:
    """Converts the strings given to ``flag`` into a value of ``kind``."""
    if kind in ("schedules", "kwargs_list"):
        read_one = _inner_schedule if kind == "schedules" else _kwargs_group
        return [read_one(flag, text) for text in texts]
    if not texts:
        if kind == "bool":
            return True
        raise CliError(f"{flag} needs a value")
    if kind == "number_or_list" and len(texts) > 1:
        return [_number(flag, t, " or a list of numbers") for t in texts]
    if kind in ("list", "int_or_list", "any") and len(texts) > 1:
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
        return _number(flag, text)
    if kind == "number_or_list":
        items = _split_items(text)
        if len(items) > 1:
            return [_number(flag, item, " or a list of numbers") for item in items]
        return _number(flag, text, " or a list of numbers")
    if kind == "list":
        return [_literal(item) for item in _split_items(text)]
    if kind == "int_or_list":
        items = _split_items(text)
        if len(items) > 1:
            return [_literal(item) for item in items]
        if not isinstance(value, int) or isinstance(value, bool):
            raise CliError(f"{flag} expects an integer or a list, got {text!r}")
        return value
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
        return from_call_syntax(spec)
    name, _, arg_text = spec.partition(":")
    fn = lookup(name.strip())
    params = inspect.signature(fn).parameters
    kwargs = {}
    for key, value in _pairs(flag, arg_text):
        if key not in params:
            raise unknown_argument(name, repr(key), fn)
        kind = parse_kind(params[key])
        if kind in ("schedule", "schedules"):
            raise CliError(
                f"{flag}: a schedule inside a schedule needs the call syntax, "
                f"e.g. {name}({key}=...)"
            )
        kwargs[key] = read_value(kind, f"{name}:{key}", [value])
    return construct(name.strip(), fn, (), kwargs)


def from_call_syntax(spec: str) -> Any:
    """The schedule a call such as ``"clip_schedule(cosine_decay_schedule(0.1,
    100), min_value=0.01)"`` builds: registered schedules on literals only."""
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
        fn = lookup(name)
        args = tuple(_evaluate_node(a, spec) for a in node.args)
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise CliError(f"cannot read ** arguments in {spec!r}")
            kwargs[keyword.arg] = _evaluate_node(keyword.value, spec)
        return construct(name, fn, args, kwargs)
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


def flag_of(name: str) -> str:
    """The command-line flag of argument ``name``, as ``--help`` shows it."""
    return "--" + name.replace("_", "-")


def _takes(name: str, fn: Callable[..., Any], flags: bool) -> str:
    if not flags:
        return f"it takes {name}{short_signature(fn)}"
    params = inspect.signature(fn).parameters.values()
    shown = [
        flag_of(p.name) if p.default is _EMPTY else f"[{flag_of(p.name)}]"
        for p in params
    ]
    return f"it takes {' '.join(shown)}"


def unknown_argument(
    name: str, shown: str, fn: Callable[..., Any], *, flags: bool = False
) -> CliError:
    """``shown``: the argument as the user wrote it (a flag, or a quoted name)."""
    return CliError(f"{name} has no argument {shown}; {_takes(name, fn, flags)}")


def construct(
    name: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    flags: bool = False,
) -> Callable[..., Any]:
    """Calls ``fn``, turning its errors into one-line errors that name ``name``.

    ``flags``: the arguments came as ``--ARG`` flags, and a missing one is
    named by its flag (``--total-steps``), else by its name.
    """
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
        if parse_kind(sig.parameters[key]) == "key" and isinstance(value, int):
            bound.arguments[key] = read_value("key", key, [str(value)])
    if missing:
        names = ", ".join(flag_of(m) if flags else m for m in missing)
        plural = "s" if len(missing) > 1 else ""
        raise CliError(
            f"{name}: missing required argument{plural} {names}; "
            f"{_takes(name, fn, flags)}"
        )
    try:
        return fn(*bound.args, **bound.kwargs)
    except Exception as e:  # ValueError/TypeError from validation, mostly
        raise CliError(f"{name}: {first_line(e)}") from None


def first_line(error: BaseException) -> str:
    """An error's first line, for a one-line report (its type when empty)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
