"""Argument checks shared by every public constructor.

Each check names the argument, the value it got and the valid range. A check
does nothing when the value is a JAX tracer (the constructor is being called
inside ``jit``, ``vmap`` or ``optax.inject_hyperparams``) or, for the
arguments that take one (:func:`check_learning_rate`), a schedule (a callable,
whose values are only known per step), so constructors stay usable under
every JAX transformation. Elsewhere a callable is a ``TypeError``.

``None`` is a ``TypeError`` naming the argument: otherwise it would pass
construction and fail deep inside JAX at the first update. Constructors skip
the check for the arguments whose docs give ``None`` a meaning
(``check_learning_rate(..., allow_none=True)``, ``if x is not None``).

The number checks take scalars: a concrete array (``adam(jnp.array([1e-3,
1e-2]))``) is a ``TypeError`` giving its shape, since it too would fail only
at the first update, as a broadcasting error. A batch of values belongs under
``jax.vmap``, where the constructor sees a tracer and lets it through.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _numerics as num

__all__ = [
    "is_checkable",
    "is_zero",
    "check_type",
    "check_number",
    "check_positive",
    "check_non_negative",
    "check_in_range",
    "check_learning_rate",
    "check_one_of",
    "check_increasing",
    "check_positive_int",
    "check_non_negative_int",
    "check_dtype",
    "check_real",
    "check_axis_name",
    "check_tree_structure",
    "check_params",
    "state_skeleton",
    "check_state_skeleton",
]


def is_checkable(value: Any) -> bool:
    """True when ``value`` is a concrete number that can be checked now."""
    return value is not None and num.is_concrete(value)


def _concrete(name: str, value: Any, expected: str) -> bool:
    """True when ``value`` can be checked now (not traced).

    Raises on ``None`` and on a callable: both would pass construction and
    fail at the first update, deep inside JAX. Arguments documented to take
    ``None`` skip the check when it is ``None``; only learning rates and
    weight decays (:func:`check_learning_rate`) take schedules.
    """
    if value is None:
        raise TypeError(f"{name} must be {expected}, got None.")
    if callable(value):
        raise TypeError(
            f"{name} must be {expected}, got the callable {value!r} (only "
            "learning rates and weight decays take schedules)."
        )
    return is_checkable(value)


def is_zero(value: Any) -> bool:
    """True when ``value`` is a concrete number equal to 0.

    Reads concrete values through NumPy: comparing a JAX array inside a trace
    would give a traced boolean that ``if`` cannot read.
    """
    if not is_checkable(value):
        return False
    try:
        return bool(np.all(np.asarray(value) == 0))
    except (TypeError, ValueError):
        return False


def _as_float_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got the bool {value!r}.")
    if isinstance(value, numbers.Real):
        return np.asarray(float(value))
    try:
        arr = np.asarray(value)
    except Exception as e:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} must be a real number, got {value!r}.") from e
    # jnp.issubdtype knows the ML dtypes (bfloat16: optax.inject_hyperparams
    # casts hyperparameters to bf16 parameters' dtype); NumPy's does not.
    if arr.dtype == bool or not jnp.issubdtype(arr.dtype, jnp.number):
        raise TypeError(
            f"{name} must be a real number, got {value!r} "
            f"of type {type(value).__name__}."
        )
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be a real number, got the complex {value!r}.")
    if arr.ndim != 0:
        # An array here would only fail at the first update, as a broadcasting
        # error deep inside JAX. Batched values come as tracers (vmap) and are
        # not checked.
        raise TypeError(
            f"{name} must be a scalar (a number or a 0-d array), got an array "
            f"of shape {arr.shape} with values {_describe_array(arr)}. To try "
            "several values at once, build the optimizer inside jax.vmap."
        )
    return arr.astype(np.float64)


def _describe_array(arr: np.ndarray) -> str:
    """The first few values, flattened: a large array is not printed whole."""
    flat = arr.ravel()
    # str of NumPy scalars: the shortest repr in the array's own precision.
    head = ", ".join(str(x) for x in flat[:4])
    return f"[{head}{', ...' if flat.size > 4 else ''}]"


def _describe(value: Any) -> str:
    arr = np.asarray(value)
    return repr(arr.item()) if arr.ndim == 0 else repr(arr.tolist())


def check_number(name: str, value: Any) -> None:
    """Requires a real, non-NaN scalar."""
    if not _concrete(name, value, "a real number"):
        return
    arr = _as_float_array(name, value)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must be a number, got {_describe(value)}.")


def check_type(name: str, value: Any, types: type | tuple[type, ...]) -> None:
    """Requires ``isinstance(value, types)``; raises ``TypeError`` otherwise."""
    if not isinstance(value, types):
        names = (
            types.__name__
            if isinstance(types, type)
            else " or ".join(t.__name__ for t in types)
        )
        raise TypeError(
            f"{name} must be of type {names}, got {value!r} of type "
            f"{type(value).__name__}."
        )


def check_axis_name(name: str, value: Any) -> None:
    """Requires ``None``, a mesh axis name (``str``) or a tuple of them.

    ``jax.lax.psum`` would accept other hashables, but a typo such as a list
    or a mesh object fails only at the first update, deep inside a trace.
    """
    if value is None or isinstance(value, str):
        return
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return
    raise TypeError(
        f"{name} must be None, a mesh axis name (str) or a non-empty tuple of "
        f"them, got {value!r} of type {type(value).__name__}."
    )


def check_in_range(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Requires ``value`` in the interval given by ``low``/``high``."""
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    interval = f"{left}{low}, {high}{right}"
    if not _concrete(name, value, f"a number in {interval}"):
        return
    arr = _as_float_array(name, value)
    ok_low = arr >= low if low_inclusive else arr > low
    ok_high = arr <= high if high_inclusive else arr < high
    if not (np.all(ok_low) and np.all(ok_high)) or np.any(np.isnan(arr)):
        raise ValueError(f"{name} must be in {interval}, got {_describe(value)}.")


def check_positive(name: str, value: Any) -> None:
    """Requires ``value > 0`` (finite)."""
    if not _concrete(name, value, "a number > 0"):
        return
    arr = _as_float_array(name, value)
    if not np.all(arr > 0) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be > 0 and finite, got {_describe(value)}.")


def check_non_negative(name: str, value: Any) -> None:
    """Requires ``value >= 0`` (finite)."""
    if not _concrete(name, value, "a number >= 0"):
        return
    arr = _as_float_array(name, value)
    if not np.all(arr >= 0) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be >= 0 and finite, got {_describe(value)}.")


def check_learning_rate(name: str, value: Any, *, allow_none: bool = False) -> None:
    """A learning rate is a number ``>= 0`` or a schedule ``step -> rate``."""
    if value is None:
        if allow_none:
            return
        raise TypeError(f"{name} must be a number >= 0 or a schedule, got None.")
    if isinstance(value, str):
        raise TypeError(
            f"{name} must be a number >= 0 or a schedule, got the string {value!r}."
        )
    if callable(value):
        return  # a schedule: its values are only known per step
    check_non_negative(name, value)


def check_positive_int(name: str, value: Any) -> None:
    """Requires a Python or NumPy integer ``> 0``."""
    _concrete(name, value, "an integer > 0")
    try:
        check_non_negative_int(name, value)
    except ValueError:  # a negative integer: name this check's range
        raise ValueError(f"{name} must be an integer > 0, got {value!r}.") from None
    if is_checkable(value) and int(value) <= 0:
        raise ValueError(f"{name} must be an integer > 0, got {value!r}.")


def check_non_negative_int(name: str, value: Any) -> None:
    """Requires a Python or NumPy integer ``>= 0``."""
    if not _concrete(name, value, "an integer >= 0"):
        return
    is_int = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not is_int:
        arr = np.asarray(value)
        is_int = arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer)
    if not is_int:
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}."
        )
    if int(value) < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}.")


def check_one_of(name: str, value: Any, options: Iterable[Any]) -> None:
    """Requires ``value`` to be one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")


def check_increasing(name: str, values: Sequence[Any], *, strict: bool = True) -> None:
    """Requires a (strictly) increasing sequence of concrete numbers."""
    vals = list(values)
    for i, v in enumerate(vals):
        _concrete(f"{name}[{i}]", v, "a number")
    if not all(is_checkable(v) for v in vals):
        return
    for a, b in zip(vals[:-1], vals[1:], strict=True):
        if (b <= a) if strict else (b < a):
            kind = "strictly increasing" if strict else "non-decreasing"
            raise ValueError(f"{name} must be {kind}, got {vals!r}.")


def check_dtype(name: str, value: Any) -> None:
    """Requires ``None`` or something NumPy/JAX accepts as an inexact dtype.

    Floating and complex dtypes are both state dtypes: complex parameters keep
    complex moments (``mu_dtype="complex64"``) as in optax.
    """
    if value is None:
        return
    try:
        dt = jnp.dtype(value)
    except TypeError as e:
        raise TypeError(f"{name} must be a dtype or None, got {value!r}.") from e
    # jnp.issubdtype knows the ML dtypes (bfloat16, float8_*) NumPy does not.
    if not jnp.issubdtype(dt, jnp.inexact):
        raise ValueError(
            f"{name} must be a floating or complex dtype or None, got {dt}."
        )


def check_real(where: str, tree: Any, what: str = "parameter", hint: str = "") -> None:
    """For real-only blocks: a complex leaf is a ``TypeError`` naming ``where``,
    the argument (``what``), the leaf's path and dtype; ``hint``: what to do."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = jnp.result_type(getattr(leaf, "dtype", leaf))  # ShapeDtypeStructs
        if jnp.issubdtype(dtype, jnp.complexfloating):
            raise TypeError(
                f"{where}: the {what} at {jax.tree_util.keystr(path) or 'the root'}"
                f" is complex ({dtype}), but it takes real {what}s "
                f"only. {hint}".rstrip()
            )


def _check_same_tree(
    name: str,
    updates: Any,
    reference: Any,
    reference_name: str,
    is_leaf: Callable | None,
    check_shapes: bool,
) -> None:
    got = jax.tree_util.tree_structure(updates, is_leaf=is_leaf)
    want = jax.tree_util.tree_structure(reference, is_leaf=is_leaf)
    if got != want:
        raise ValueError(
            f"{name}: the updates have tree structure {got}, expected {want} "
            f"(that of {reference_name}). Pass updates with the structure of "
            "the params given to init."
        )
    if not check_shapes:
        return
    # Shapes are static, so inside jit this runs once, at trace time.
    leaves, _ = jax.tree_util.tree_flatten_with_path(updates, is_leaf=is_leaf)
    ref_leaves = jax.tree_util.tree_leaves(reference, is_leaf=is_leaf)
    for (path, leaf), ref in zip(leaves, ref_leaves, strict=True):
        if np.shape(leaf) != np.shape(ref):
            raise ValueError(
                f"{name}: the update at {jax.tree_util.keystr(path)} has shape "
                f"{np.shape(leaf)}, expected {np.shape(ref)} (that of "
                f"{reference_name} there). Pass updates shaped like the params "
                "given to init: they are not broadcast."
            )


def check_tree_structure(
    name: str,
    updates: Any,
    reference: Any,
    is_leaf: Callable | None = None,
    *,
    check_shapes: bool = True,
) -> None:
    """Raises when ``updates`` does not have the tree structure of ``reference``.

    With ``check_shapes`` (default) every leaf must also have the shape of the
    reference's leaf at the same path, for state buffers that mirror the
    params; pass ``False`` where the state's leaves have other shapes
    (factored statistics). Runs at trace time only (structures and shapes are
    static), so it costs nothing inside a compiled step.
    """
    _check_same_tree(
        name,
        updates,
        reference,
        "the optimizer state",
        is_leaf,
        check_shapes,
    )


def check_params(name: str, updates: Any, params: Any) -> None:
    """For blocks that read the parameters: ``params`` given, shaped like ``updates``."""
    if params is None:
        raise ValueError(f"{name} needs params: call update(updates, state, params).")
    _check_same_tree(name, updates, params, "the params", None, True)


# What an optimizer state is made of, above its per-parameter trees: the state
# classes (NamedTuples) and the tuples and dicts that hold them. Two states of
# one optimizer for different parameters share it; another optimizer's state
# has other classes. Per-parameter trees (of arrays, Flax variables, or
# optax.MaskedNode) all read as `_ARRAYS`, so the skeleton does not depend on
# how the parameters are wrapped.
_ARRAYS = "*"


def _is_state_node(node: Any) -> bool:
    return (
        isinstance(node, tuple)
        and hasattr(type(node), "_fields")
        and type(node).__name__ != "MaskedNode"  # optax's placeholder leaf
    )


def state_skeleton(state: Any) -> Any:
    """A hashable summary of ``state``'s state classes (see ``_ARRAYS``).

    Descends only through state classes and through the tuples, lists and
    dicts that hold one directly, so a per-parameter dict of arrays costs one
    look at its values, not a walk of the whole tree.
    """
    if _is_state_node(state):
        t = type(state)
        return ((t.__module__, t.__qualname__), tuple(map(state_skeleton, state)))
    if isinstance(state, (tuple, list)) and any(map(_is_state_node, state)):
        return (type(state).__name__, tuple(map(state_skeleton, state)))
    if isinstance(state, dict) and any(map(_is_state_node, state.values())):
        items = tuple((repr(k), state_skeleton(v)) for k, v in state.items())
        return ("dict", items)
    return _ARRAYS


def _render(skeleton: Any) -> str:
    if skeleton == _ARRAYS:
        return "arrays"
    kind, children = skeleton
    if isinstance(kind, tuple):  # a state class: (module, qualname)
        if all(c == _ARRAYS for c in children):
            return kind[1]
        return f"{kind[1]}({', '.join(map(_render, children))})"
    if kind == "dict":
        return "{" + ", ".join(f"{k}: {_render(v)}" for k, v in children) + "}"
    inner = ", ".join(map(_render, children))
    return f"[{inner}]" if kind == "list" else f"({inner})"


def check_state_skeleton(name: str, state: Any, expected: Any) -> None:
    """Raises ``TypeError`` when ``state`` is not shaped like ``expected``.

    ``expected`` is a state (or its ``jax.eval_shape``) that the optimizer's
    ``init`` made; only the state classes are compared (``state_skeleton``),
    so this catches another optimizer's state, not other parameters.
    """
    got, want = state_skeleton(state), state_skeleton(expected)
    if got != want:
        given = _render(got)
        if got == _ARRAYS:  # None, a bare array, a dict of arrays, ...
            kind = type(state).__name__
            if state is None:
                given = "None"
            elif isinstance(state, (tuple, list, dict)) and not state:
                given = f"an empty {kind}"
            else:
                given = f"a {kind} of arrays"
        raise TypeError(
            f"{name}: the state passed to update was not made by this "
            f"optimizer's init: expected a state of {_render(want)}, got "
            f"{given}. Pass the state returned by this optimizer's init "
            "(or by its previous update)."
        )
