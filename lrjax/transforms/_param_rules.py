"""Rules that pick parameters by path: what param groups and LLRD share,
and the diagnosis of groups whose rules end up with no leaf.

A leaf's path is its keys from the root joined by ``/``: dict keys and
attribute names as they are, list/tuple positions as numbers; an
``nnx.Variable`` counts as a leaf, so its ``value`` is not part of the path.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import jax

from lrjax import _containers

__all__ = [
    "DEFAULT_GROUP",
    "Rule",
    "all_of",
    "label_tree",
    "matcher",
    "path_string",
    "shadowing_groups",
    "unmatched_message",
    "user_stacklevel",
]

Rule = str | re.Pattern | Callable[[str, Any], bool]
Matcher = Callable[[str, Any], bool]
DEFAULT_GROUP = "default"


def _key_str(key: Any) -> str:
    for attr in ("key", "name", "idx"):  # DictKey, GetAttrKey, SequenceKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def path_string(path: Sequence[Any]) -> str:
    """A key path (from ``tree_flatten_with_path``) as ``"a/0/b"``."""
    return "/".join(_key_str(k) for k in path)


def _is_variable(x: Any) -> bool:
    nnx = _containers.nnx_or_none()
    return nnx is not None and isinstance(x, nnx.Variable)


def _unboxed(var: Any) -> Any:
    # flax >= 0.12 deprecates `.value` in favour of `get_value()`.
    get = getattr(var, "get_value", None)
    return get() if get is not None else var.value


def matcher(where: str, rule: Any) -> Matcher:
    """``rule`` (a regex, predicate or list of them) as a predicate."""
    if isinstance(rule, (list, tuple)):
        if not rule:
            raise ValueError(f"{where} must not be an empty list of rules.")
        parts = [matcher(f"{where}[{i}]", r) for i, r in enumerate(rule)]
        return lambda path, leaf: any(m(path, leaf) for m in parts)
    if isinstance(rule, str):
        try:
            rule = re.compile(rule)
        except re.error as e:
            raise ValueError(
                f"{where} must be a valid regular expression, got {rule!r}: {e}."
            ) from None
    if isinstance(rule, re.Pattern):
        return lambda path, leaf: rule.search(path) is not None
    if callable(rule):

        def predicate(path: str, leaf: Any) -> bool:
            result = rule(path, leaf)
            try:
                return bool(result)
            except Exception:
                raise TypeError(
                    f"{where}: the predicate returned {result!r} for path "
                    f"{path!r}; it must return a Python bool computed from the "
                    "path, shape and dtype (not from traced values)."
                ) from None

        return predicate
    raise TypeError(
        f"{where} must be a regular expression (str), a predicate "
        f"(path, leaf) -> bool or a list of them, got {rule!r} of type "
        f"{type(rule).__name__}."
    )


def _first_match(rules: Sequence[tuple[str, Matcher]], path: str, value: Any) -> str:
    for name, matches in rules:
        if matches(path, value):
            return name
    return DEFAULT_GROUP


def label_tree(tree: Any, rules: Sequence[tuple[str, Matcher]]) -> Any:
    """``tree`` with each leaf replaced by the name of the first rule matching
    it, or :data:`DEFAULT_GROUP`; ``nnx.Variable`` boxes count as leaves."""

    def label(path, leaf):
        value = _unboxed(leaf) if _is_variable(leaf) else leaf
        return _first_match(rules, path_string(path), value)

    return jax.tree_util.tree_map_with_path(label, tree, is_leaf=_is_variable)


def shadowing_groups(
    tree: Any, rules: Sequence[tuple[str, Matcher]], name: str
) -> dict[str, str]:
    """``{earlier group: first path}`` for the leaves that rule ``name``
    matches but an earlier rule took (first match wins); empty when ``name``
    matches no leaf at all (a typo rather than an ordering mistake)."""
    own = dict(rules)[name]
    taken: dict[str, str] = {}
    leaves = jax.tree_util.tree_leaves_with_path(tree, is_leaf=_is_variable)
    for path, leaf in leaves:
        p = path_string(path)
        value = _unboxed(leaf) if _is_variable(leaf) else leaf
        if own(p, value):
            taken.setdefault(_first_match(rules, p, value), p)
    taken.pop(name, None)  # only reached when the group is not empty after all
    return taken


def unmatched_message(
    empty: list[str], tree: Any, rules: Sequence[tuple[str, Matcher]], unmatched: str
) -> str:
    """:func:`lrjax.param_groups`' message for groups ``empty`` without leaves."""
    # A rule that matches nothing is likely a typo; one whose leaves all went
    # to earlier groups is an ordering mistake: say which.
    causes = []
    for name in empty:
        taken = shadowing_groups(tree, rules, name)
        if taken:
            took = ", ".join(f"{g!r} took {p!r}" for g, p in list(taken.items())[:3])
            if len(taken) > 3:
                took += f" and {len(taken) - 3} more"
            causes.append(
                f"{name!r} matches only leaves that earlier groups took (the "
                f"first match wins: {took}); put {name!r} before them or narrow "
                "their rules"
            )
        else:
            causes.append(f"{name!r} matches no path")
    relax = (
        "pass unmatched='ignore' to silence this"
        if unmatched == "warn"
        else "pass unmatched='warn' or 'ignore'"
    )
    return (
        f"param_groups: groups {empty} match no parameter: {'; '.join(causes)}. "
        "Check the rules with lrjax.param_group_labels, set optional=True on a "
        f"group that may be empty, or {relax}."
    )


# Frames a warning skips to reach the user's line that called ``init``.
_INTERNAL_PACKAGES = ("lrjax", "optax", "jax", "flax")


def user_stacklevel() -> int:
    """The ``stacklevel`` of a ``warnings.warn`` made by this function's caller
    that names the first frame outside lrjax, optax, jax and flax: the user's
    ``tx.init(params)``, also when ``nnx.Optimizer``, ``optax.chain`` or
    ``jax.jit`` runs it (a fixed level would name lrjax's state guard)."""
    dirs = []
    for name in _INTERNAL_PACKAGES:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file:
            dirs.append(os.path.dirname(file) + os.sep)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(tuple(dirs)):
        frame, level = frame.f_back, level + 1
    return level if frame is not None else 1


def all_of(*matchers: Matcher) -> Matcher:
    return lambda path, leaf: all(m(path, leaf) for m in matchers)
