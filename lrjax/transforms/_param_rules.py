"""Rules that pick parameters by path: what param groups and LLRD share.

A leaf's path is its keys from the root joined by ``/``: dict keys and
attribute names as they are, list/tuple positions as numbers; an
``nnx.Variable`` counts as a leaf, so its ``value`` is not part of the path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import jax

from lrjax import _containers

__all__ = ["DEFAULT_GROUP", "Rule", "all_of", "label_tree", "matcher", "path_string"]

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


def label_tree(tree: Any, rules: Sequence[tuple[str, Matcher]]) -> Any:
    """``tree`` with each leaf replaced by the name of the first rule matching
    it, or :data:`DEFAULT_GROUP`; ``nnx.Variable`` boxes count as leaves."""

    def label(path, leaf):
        p = path_string(path)
        value = _unboxed(leaf) if _is_variable(leaf) else leaf
        for name, matches in rules:
            if matches(p, value):
                return name
        return DEFAULT_GROUP

    return jax.tree_util.tree_map_with_path(label, tree, is_leaf=_is_variable)


def all_of(*matchers: Matcher) -> Matcher:
    return lambda path, leaf: all(m(path, leaf) for m in matchers)
