""":func:`lrjax.sweep`'s argument checks, all made before anything compiles.

Each check names the argument, the value it got and the valid range. Shapes
are checked abstractly (``jax.eval_shape``): the loss must be a scalar, the
evaluation a mapping of scalars holding the metric, and every factory must
return a ``GradientTransformation`` for a concrete rate.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _validation as val
from lrjax._learning_rate import get_learning_rate
from lrjax.tune.population import Tuned

__all__ = [
    "DEFAULT_ETA",
    "DEFAULT_RATES",
    "METHODS",
    "check_data",
    "check_factory",
    "check_loss",
    "check_method_arguments",
    "check_metric",
    "check_rates",
    "check_seeds",
    "check_strategies",
    "records_rate",
    "state_bytes",
]

METHODS = ("grid", "halving", "pbt")
# Successive halving's reduction factor when eta is None.
DEFAULT_ETA = 3
# The arguments only one method reads, and that method.
METHOD_ARGUMENTS = {"eta": "halving", "min_steps": "halving", "pbt_interval": "pbt"}
# Default grid for factories: ten rates, log-spaced over 1e-4..1.
DEFAULT_RATES = np.logspace(-4.0, 0.0, 10)


def check_method_arguments(method: str, **given: Any) -> None:
    """Refuses an argument the chosen method does not read (given, not None).

    ``eta=3``, halving's default, passes with any method: callers that
    forward their own default (``lrjax.compare.compare``) change nothing.
    """
    for name, value in given.items():
        used_by = METHOD_ARGUMENTS[name]
        if name == "eta" and isinstance(value, int) and value == DEFAULT_ETA:
            continue
        if value is not None and method != used_by:
            raise ValueError(
                f"{name} applies to method={used_by!r} only; got {name}={value!r} "
                f"with method={method!r} (leave it None, or use method={used_by!r})."
            )


def check_strategies(strategies: Any) -> tuple[dict[str, Tuned], list[str]]:
    """Factories given in a mapping, and the names to resolve as table rows.

    A mapping's values are factories ``rate -> GradientTransformation`` or
    ``(factory, eval_params)`` pairs; a sequence holds names of rows of
    :data:`lrjax.compare.STRATEGIES`.
    """
    if isinstance(strategies, Mapping):
        if not strategies:
            raise ValueError("strategies must not be empty, got {}.")
        tuned = {}
        for name, value in strategies.items():
            val.check_type(f"strategies key {name!r}", name, str)
            factory, eval_params = value, None
            if isinstance(value, tuple) and len(value) == 2:
                factory, eval_params = value
            if not callable(factory):
                raise TypeError(
                    f"strategies[{name!r}] must be a factory rate -> "
                    f"GradientTransformation (or a (factory, eval_params) pair), "
                    f"got {value!r}."
                )
            if eval_params is not None and not callable(eval_params):
                raise TypeError(
                    f"strategies[{name!r}]: eval_params must be callable "
                    f"(opt_state, params) -> params, got {eval_params!r}."
                )
            tuned[name] = Tuned(factory, eval_params)
        return tuned, []
    if isinstance(strategies, str) or not isinstance(strategies, Sequence):
        raise TypeError(
            "strategies must be a mapping name -> factory or a sequence of names "
            f"from lrjax.compare.STRATEGIES, got {strategies!r}."
        )
    if not strategies:
        raise ValueError(f"strategies must not be empty, got {strategies!r}.")
    names = list(strategies)
    if len(set(names)) != len(names):
        raise ValueError(f"strategies: names must be unique, got {names!r}.")
    return {}, names


def _positive_rates(name: str, values: Any) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not isinstance(
        values, Sequence | np.ndarray
    ):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}.")
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got {values!r}.")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold real numbers, got {values!r}.")
    arr = arr.astype(np.float64)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(
            f"{name} must be finite and > 0 (in (0, inf)), got {float(arr[bad][0])!r} "
            f"in {values!r}."
        )
    return arr


def check_rates(
    rates: Any, names: Sequence[str], defaults: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Each strategy's rates: given (one sequence for all, or per name) or default."""
    if rates is None:
        return {
            n: np.asarray(defaults.get(n, DEFAULT_RATES), np.float64) for n in names
        }
    if isinstance(rates, Mapping):
        unknown = [k for k in rates if k not in names]
        if unknown:
            raise ValueError(
                f"rates: {unknown[0]!r} names no strategy; strategies: {list(names)}."
            )
        out = {}
        for n in names:
            if n in rates:
                out[n] = _positive_rates(f"rates[{n!r}]", rates[n])
            else:
                out[n] = np.asarray(defaults.get(n, DEFAULT_RATES), np.float64)
        return out
    arr = _positive_rates("rates", rates)
    return {n: arr for n in names}


def _int_list(name: str, values: Any) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not isinstance(
        values, Sequence | np.ndarray
    ):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {values!r}.")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty, got {values!r}.")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must hold ints, got {v!r} in {values!r}.")
        if not 0 <= v < 2**31:
            raise ValueError(f"{name} must hold ints in [0, 2**31), got {v!r}.")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a seed, got {values!r}.")
    return np.asarray(values, np.int64)


def check_seeds(seeds: Any, final_seeds: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The seeds, and the fresh seeds of the re-run (``None`` for none).

    An int ``n`` means ``0..n-1``; an int of final seeds means the ``n``
    integers after the largest seed.
    """
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        val.check_positive_int("seeds", seeds)
        seeds = list(range(int(seeds)))
    chosen = _int_list("seeds", seeds)
    if final_seeds is None:
        return chosen, None
    if isinstance(final_seeds, numbers.Integral) and not isinstance(final_seeds, bool):
        val.check_positive_int("final_seeds", final_seeds)
        first = int(chosen.max()) + 1
        final_seeds = list(range(first, first + int(final_seeds)))
    fresh = _int_list("final_seeds", final_seeds)
    reused = sorted(set(fresh.tolist()) & set(chosen.tolist()))
    if reused:
        raise ValueError(
            f"final_seeds must be fresh (not in seeds {chosen.tolist()}), got "
            f"{fresh.tolist()}, which reuses {reused}."
        )
    return chosen, fresh


def check_data(data: Any, batch_size: Any, batch_fn: Any) -> tuple[int, Any]:
    """The number of examples (0 with ``batch_fn``) and a batch's abstract value."""
    if (data is None) == (batch_fn is None):
        raise ValueError(
            "pass exactly one of data (a tree of arrays with a leading example "
            f"axis, with batch_size) and batch_fn (key, step) -> batch; got "
            f"data={'None' if data is None else type(data).__name__} and "
            f"batch_fn={batch_fn!r}."
        )
    if batch_fn is not None:
        if not callable(batch_fn):
            raise TypeError(
                f"batch_fn must be callable (key, step) -> batch, got {batch_fn!r}."
            )
        if batch_size is not None:
            raise ValueError(
                f"batch_size applies to data, not batch_fn; got batch_size={batch_size!r}."
            )
        return 0, jax.eval_shape(batch_fn, jax.random.PRNGKey(0), jnp.int32(0))
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError(f"data must hold at least one array, got {data!r}.")
    sizes = [np.shape(x)[0] if np.ndim(x) else None for x in leaves]
    if None in sizes or len(set(sizes)) != 1:
        shapes = [tuple(np.shape(x)) for x in leaves]
        raise ValueError(
            f"data: every array needs the same leading (example) axis, got shapes "
            f"{shapes}."
        )
    n = sizes[0]
    val.check_positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(
            f"batch_size must be in [1, {n}] (the number of examples), got {batch_size}."
        )
    batch = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(
            (batch_size, *np.shape(x)[1:]), jnp.asarray(x).dtype
        ),
        data,
    )
    return n, batch


def _is_scalar(x: Any) -> bool:
    return hasattr(x, "shape") and tuple(x.shape) == ()


def check_loss(
    loss_fn: Callable, has_aux: bool, params: Any, batch: Any, what: str = "loss_fn"
) -> None:
    """Requires a scalar loss (a ``(loss, aux)`` pair with ``has_aux``)."""
    out = jax.eval_shape(loss_fn, params, batch)
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(
                f"{what} must return (loss, aux) with has_aux=True, got {out!r}."
            )
        out = out[0]
    if not _is_scalar(out):
        raise ValueError(
            f"{what} must return a scalar loss (shape ()), got {getattr(out, 'shape', out)!r}"
            " (average over the batch; set has_aux=True to return (loss, aux))."
        )


def check_metric(
    eval_fn: Any,
    metric: Any,
    params: Any,
    eval_data: Any,
    loss_fn: Callable,
    has_aux: bool,
) -> tuple[str, list[str]]:
    """The selection metric's name (default the first key) and every name, in
    the evaluation's order."""
    if eval_fn is None:
        check_loss(loss_fn, has_aux, params, eval_data, "loss_fn on eval_data")
        names = ["loss"]
    else:
        if not callable(eval_fn):
            raise TypeError(
                f"eval_fn must be callable (params, eval_data) -> dict, got {eval_fn!r}."
            )
        keys: list[Any] = []

        def keyed(params: Any, eval_data: Any) -> Any:
            out = eval_fn(params, eval_data)
            # The dict's own order: eval_shape's result comes back key-sorted.
            keys.extend(out.keys() if isinstance(out, Mapping) else ())
            return out

        out = jax.eval_shape(keyed, params, eval_data)
        if not isinstance(out, Mapping) or not out:
            raise ValueError(
                f"eval_fn must return a non-empty dict name -> scalar, got {out!r}."
            )
        bad = [k for k, v in out.items() if not _is_scalar(v)]
        if bad:
            raise ValueError(
                f"eval_fn must return scalars, got {bad[0]!r} of shape "
                f"{getattr(out[bad[0]], 'shape', None)}."
            )
        names = keys
    if metric is None:
        return names[0], names
    if metric not in names:
        raise ValueError(
            f"metric must be one of {names} (the evaluation's keys), got {metric!r}."
        )
    return metric, names


def check_factory(name: str, tuned: Tuned, rate: float, params: Any) -> Any:
    """Calls the factory with a concrete rate, then traces its ``init`` and
    ``update`` with a traced rate (as the population runs it: nothing is
    compiled); returns its state's abstract value."""
    tx = tuned.factory(float(rate))
    if not isinstance(tx, optax.GradientTransformation):
        raise TypeError(
            f"strategies[{name!r}] must return an optax GradientTransformation "
            f"for a rate (tried {float(rate)!r}), got {type(tx).__name__}: {tx!r}."
        )

    def traced(rate: jax.Array, params: Any) -> Any:
        tx = tuned.factory(rate)
        state = tx.init(params)
        return tx.update(params, state, params)

    try:
        jax.eval_shape(traced, jax.ShapeDtypeStruct((), jnp.float32), params)
    except (
        jax.errors.ConcretizationTypeError,
        jax.errors.TracerIntegerConversionError,
        jax.errors.TracerArrayConversionError,
    ) as err:
        raise TypeError(
            f"strategies[{name!r}]: the factory must accept a traced rate (a "
            "float32 scalar inside jit and vmap: every member's rate is data): no "
            "Python control flow (if, min/max, range) on the rate and no float() "
            f"or int() of it; use jnp.where / jnp.minimum instead. JAX said: "
            f"{type(err).__name__}: {str(err).splitlines()[0]}"
        ) from err
    return jax.eval_shape(tx.init, params)


def records_rate(state: Any) -> bool:
    """Whether an (abstract) optimizer state records one applied rate
    (:func:`lrjax.get_learning_rate`); else the sweep records the base rate."""
    try:
        rate = jax.eval_shape(get_learning_rate, state)
    except ValueError:
        return False
    return not isinstance(rate, dict)


def state_bytes(tree: Any) -> int:
    """Bytes of an abstract tree's arrays."""
    return sum(
        math.prod(x.shape) * np.dtype(x.dtype).itemsize
        for x in jax.tree_util.tree_leaves(tree)
    )
