"""Hyperparameters kept in the optimizer state, changeable between compiled steps.

``lrjax.inject_hyperparams(factory)(**hyperparams)`` follows
``optax.inject_hyperparams``'s calling convention and state layout
(``count``, ``hyperparams``, ``inner_state``; plus ``hyperparams_states`` when
a hyperparameter is an optax stateful schedule), with one deliberate
difference when no ``hyperparam_dtype`` is given: float hyperparameters stay
in (at least) float32 whatever the parameters' dtype. optax casts them to the
parameter dtype, so with bfloat16 parameters ``b2=0.999`` becomes exactly 1.0
and Adam's second moment stops moving.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    guard_state,
)

__all__ = [
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "inject_hyperparams",
]


class InjectHyperparamsState(NamedTuple):
    """State of an :func:`inject_hyperparams` transformation.

    Attributes:
      count: int32 number of updates made (saturating); schedules are
        evaluated at it.
      hyperparams: dict of the numeric hyperparameters used at the latest
        update (floats as float32 scalars). Assign a new array to a constant
        one between steps to change it, e.g.
        ``state.hyperparams["learning_rate"] = jnp.float32(1e-4)``; scheduled
        ones are recomputed at every update.
      inner_state: the state of the wrapped transformation.
    """

    count: jax.Array
    hyperparams: dict[str, Any]
    inner_state: Any


class InjectStatefulHyperparamsState(NamedTuple):
    """State of an :func:`inject_hyperparams` transformation with stateful schedules.

    Used instead of :class:`InjectHyperparamsState` when at least one
    hyperparameter is an optax stateful schedule
    (``optax.schedules.StatefulSchedule``): the same fields, in optax's order,
    plus the schedules' own states.

    Attributes:
      count: int32 number of updates made (saturating); plain schedules are
        evaluated at it.
      hyperparams: as in :class:`InjectHyperparamsState`.
      hyperparams_states: dict from the name of each stateful-schedule
        hyperparameter to that schedule's state (``schedule.init()``, then
        advanced by ``schedule.update(state, **extra_args)`` at each update).
      inner_state: the state of the wrapped transformation.
    """

    count: jax.Array
    hyperparams: dict[str, Any]
    hyperparams_states: dict[str, Any]
    inner_state: Any


def _is_stateful_schedule(value: Any) -> bool:
    """optax's StatefulSchedule protocol: ``init``, ``update`` and ``__call__``."""
    return callable(value) and all(
        callable(getattr(value, a, None)) for a in ("init", "update")
    )


def _rounded_by_cast(given: dict[str, Any], cast: dict[str, Any]) -> list[str]:
    """``name=given -> cast`` for each concrete scalar the cast changed."""
    out = []
    for name, value in cast.items():
        try:
            before = float(given[name])
            after = float(value)
        except (TypeError, ValueError):  # traced or non-scalar
            continue
        if before != after:
            out.append(f"{name}={before!r} to {after!r}")
    return out


def _check_hyperparam_dtype(value: Any) -> Any:
    """``None``, or ``value`` as a floating dtype that JAX can hold."""
    if value is None:
        return None
    try:
        dtype = jnp.dtype(value)
    except TypeError as e:
        raise TypeError(
            f"hyperparam_dtype must be None or a floating dtype, got {value!r}."
        ) from e
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"hyperparam_dtype must be None or a floating dtype (float32, "
            f"bfloat16, ...), got {dtype}."
        )
    # float64 without jax_enable_x64 is float32, as jnp.asarray would make it.
    return jax.dtypes.canonicalize_dtype(dtype)


def _cast_floats(value: Any, dtype: Any) -> Any:
    """optax's ``hyperparam_dtype`` rule: floats take ``dtype``.

    As in optax, a JAX array with a dtype of its own (not weakly typed) keeps
    it; Python and NumPy floats and weakly typed arrays are cast. Non-floats
    are stored as without ``hyperparam_dtype``.
    """
    if isinstance(value, jax.Array):
        if getattr(value, "weak_type", False) and jnp.issubdtype(
            value.dtype, jnp.floating
        ):
            return value.astype(dtype)
        return value
    arr = np.asarray(value)
    if jnp.issubdtype(arr.dtype, jnp.floating):
        return arr.astype(dtype)  # NumPy keeps concrete values concrete
    return _as_hyperparam(value)


def _as_hyperparam(value: Any) -> Any:
    """A numeric hyperparameter as an array; floats in at least float32.

    Values known outside any trace are kept as NumPy arrays, so that a
    factory's static shortcuts (``if dampening == 0``) still see concrete
    values when ``init`` and ``update`` run inside one trace; values from a
    traced state stay JAX arrays.
    """
    if isinstance(value, jax.Array):
        if jnp.issubdtype(value.dtype, jnp.floating):
            return value.astype(num.compute_dtype(value.dtype))
        return value
    if isinstance(value, float):
        return np.asarray(value, np.float32)
    arr = np.asarray(value)
    dtype = arr.dtype
    if jnp.issubdtype(dtype, jnp.floating):
        dtype = num.compute_dtype(dtype)
    return arr.astype(jax.dtypes.canonicalize_dtype(dtype))


def _is_numeric(value: Any) -> bool:
    return isinstance(value, (int, float, np.number, np.ndarray, jax.Array))


def inject_hyperparams(
    factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: DTypeLike | None = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Wraps ``factory`` so that its numeric hyperparameters live in the state.

    ``inject_hyperparams(lrjax.adam)(learning_rate=sched, b2=0.99)`` builds an
    optimizer whose state is :class:`InjectHyperparamsState`:

    * numbers (int, float, arrays; not bools) go into ``state.hyperparams``;
      change one between jitted steps by assigning a new array of the same
      dtype and shape, and the step does not recompile;
    * callables are schedules ``step -> value``, evaluated at ``state.count``
      (0 at the first update) and recorded in ``state.hyperparams``, unless
      named in ``static_args``;
    * optax stateful schedules (``optax.schedules.StatefulSchedule``: objects
      with ``init()``, ``update(state, **extra_args)`` and ``__call__(state,
      **extra_args)``) keep their state in ``state.hyperparams_states``; at
      each update the value is ``schedule(schedule_state, **extra_args)``,
      recorded in ``state.hyperparams``, and the schedule state advances by
      ``schedule.update(schedule_state, **extra_args)``, as in optax. The
      state is then an :class:`InjectStatefulHyperparamsState`;
    * everything else (bools, strings, dtypes, ``static_args``) is passed to
      ``factory`` unchanged.

    At every ``update`` the transformation is rebuilt from these values and
    applied; extra keyword arguments (``value=...``) are forwarded when the
    inner transformation accepts them. Updates come back in the gradients'
    dtypes. :func:`lrjax.get_learning_rate` reads the rate from the state.

    Float dtypes. With ``hyperparam_dtype`` given, float hyperparameters
    (constants, schedule values, values assigned to ``state.hyperparams``)
    are cast to it, by optax's rule: a JAX array with a dtype of its own (not
    weakly typed; the output of most schedules) keeps its dtype. With
    ``hyperparam_dtype=None`` (default) lrjax deliberately differs from optax:
    float hyperparameters are kept in float32 (wider if given wider), not cast
    to the parameters' dtype, so ``b2=0.999`` survives bfloat16 parameters
    (optax rounds it to 1.0). Python floats assigned to ``state.hyperparams``
    are weakly typed and make ``jit`` trace the step once more: assign
    ``jnp.float32(x)`` instead.

    lrjax optimizers also work under ``optax.inject_hyperparams``. With bf16
    parameters there, optax's rounding of ``b2=0.999`` to 1.0 is rejected by
    lrjax's argument check (``ValueError`` naming ``b2``) rather than left to
    freeze Adam's second moment; pass ``hyperparam_dtype=jnp.float32`` to
    optax, or use this function.

    Args:
      factory: a function returning a ``GradientTransformation``.
      static_args: names of ``factory``'s arguments that are callables but not
        schedules (or numbers that must stay Python values).
      hyperparam_dtype: ``None`` (float hyperparameters in at least float32)
        or a floating dtype to cast float hyperparameters to, as optax's
        argument of that name.

    Returns:
      A function with ``factory``'s signature returning a
      ``GradientTransformationExtraArgs``.

    Raises:
      TypeError: when ``factory`` is not callable, or ``hyperparam_dtype`` is
        not a dtype.
      ValueError: when ``static_args`` names an argument ``factory`` lacks, or
        ``hyperparam_dtype`` is not a floating dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> opt = lrjax.inject_hyperparams(lrjax.sgd)(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = opt.init(params)
        >>> updates, state = opt.update(params, state, params)
        >>> print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.1000
        >>> state.hyperparams["learning_rate"] = jnp.float32(0.01)  # no recompilation
        >>> updates, state = opt.update(params, state, params)
        >>> updates  # -0.01 * g
        Array([-0.01,  0.02], dtype=float32)
        >>> print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.0100
    """
    if not callable(factory):
        raise TypeError(f"factory must be a callable, got {factory!r}.")
    dtype = _check_hyperparam_dtype(hyperparam_dtype)
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(factory)

    def convert(value: Any) -> Any:
        if dtype is None:
            return _as_hyperparam(value)
        return _cast_floats(value, dtype)

    unknown = static - set(signature.parameters)
    if unknown:
        raise ValueError(
            f"static_args must name arguments of {getattr(factory, '__name__', factory)}"
            f" ({sorted(signature.parameters)}), got {sorted(unknown)}."
        )

    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        schedules, stateful, numeric, fixed = {}, {}, {}, {}
        for name, value in bound.arguments.items():
            if name in static or isinstance(value, (bool, np.bool_)):
                fixed[name] = value
            elif _is_stateful_schedule(value):
                stateful[name] = value
            elif callable(value):
                schedules[name] = value
            elif _is_numeric(value):
                numeric[name] = convert(value)
            else:
                fixed[name] = value

        def values_at(
            count: jax.Array,
            hyperparams: dict[str, Any],
            schedule_states: dict[str, Any],
            extra_args: dict[str, Any],
        ) -> dict[str, Any]:
            out = {k: convert(hyperparams[k]) for k in numeric}
            out.update({k: convert(f(count)) for k, f in schedules.items()})
            out.update(
                {
                    k: convert(f(schedule_states[k], **extra_args))
                    for k, f in stateful.items()
                }
            )
            return out

        def build(hyperparams: dict[str, Any]) -> GradientTransformationExtraArgs:
            inner = factory(**fixed, **hyperparams)
            return optax.with_extra_args_support(inner)

        def make_state(count, hyperparams, schedule_states, inner_state):
            if stateful:
                return InjectStatefulHyperparamsState(
                    count, hyperparams, schedule_states, inner_state
                )
            return InjectHyperparamsState(count, hyperparams, inner_state)

        # Build once now, with concrete values, so that the factory's argument
        # checks reject bad hyperparameters here rather than inside a trace.
        first_states = {k: f.init() for k, f in stateful.items()}
        try:
            build(values_at(num.zero_count(), numeric, first_states, {}))
        except ValueError as e:
            rounded = _rounded_by_cast(bound.arguments, numeric)
            # The argument the factory named, if the cast changed it.
            named = [r for r in rounded if str(e).startswith(r.split("=")[0] + " ")]
            rounded = named or rounded
            if dtype is None or not rounded:
                raise
            raise ValueError(
                f"{e} inject_hyperparams cast the float hyperparameters to "
                f"hyperparam_dtype={jnp.dtype(dtype).name}, which rounded "
                f"{', '.join(rounded)}; pass hyperparam_dtype=None (lrjax's "
                "float32) to keep them."
            ) from e

        def init_fn(params):
            count = num.zero_count()
            # optax evaluates stateful schedules at init without extra args.
            schedule_states = {k: f.init() for k, f in stateful.items()}
            hyperparams = values_at(count, numeric, schedule_states, {})
            inner_state = build(hyperparams).init(params)
            return make_state(count, hyperparams, schedule_states, inner_state)

        def update_fn(updates, state, params=None, **extra_args):
            schedule_states = getattr(state, "hyperparams_states", {})
            hyperparams = values_at(
                state.count, state.hyperparams, schedule_states, extra_args
            )
            out, inner_state = build(hyperparams).update(
                updates, state.inner_state, params, **extra_args
            )
            # Float32 hyperparameters may promote an inner block's bf16 output.
            out = jax.tree_util.tree_map(
                lambda u, g: jnp.asarray(u).astype(jnp.asarray(g).dtype), out, updates
            )
            schedule_states = {
                k: f.update(schedule_states[k], **extra_args)
                for k, f in stateful.items()
            }
            count = num.safe_increment(state.count)
            return out, make_state(count, hyperparams, schedule_states, inner_state)

        tx = GradientTransformationExtraArgs(init_fn, update_fn)
        return guard_state(tx, "inject_hyperparams")

    wrapped.__name__ = f"inject_hyperparams({getattr(factory, '__name__', 'factory')})"
    wrapped.__doc__ = factory.__doc__
    wrapped.__signature__ = signature  # type: ignore[attr-defined]
    return wrapped
