"""Hyperparameters kept in the optimizer state, changeable between compiled steps.

``lrjax.inject_hyperparams(factory)(**hyperparams)`` follows
``optax.inject_hyperparams``'s calling convention and state layout
(``count``, ``hyperparams``, ``inner_state``), with one deliberate difference:
float hyperparameters stay in (at least) float32 whatever the parameters'
dtype. optax casts them to the parameter dtype, so with bfloat16 parameters
``b2=0.999`` becomes exactly 1.0 and Adam's second moment stops moving.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _numerics as num
from lrjax._base import GradientTransformation, GradientTransformationExtraArgs

__all__ = ["InjectHyperparamsState", "inject_hyperparams"]


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
    * everything else (bools, strings, dtypes, ``static_args``) is passed to
      ``factory`` unchanged.

    At every ``update`` the transformation is rebuilt from these values and
    applied; extra keyword arguments (``value=...``) are forwarded when the
    inner transformation accepts them. Updates come back in the gradients'
    dtypes. :func:`lrjax.get_learning_rate` reads the rate from the state.

    Differs from ``optax.inject_hyperparams`` (same convention, same state
    fields): float hyperparameters are kept in float32 (wider if given wider),
    not cast to the parameters' dtype, so ``b2=0.999`` survives bfloat16
    parameters; there is no ``hyperparam_dtype`` argument, and optax's
    stateful schedules are not supported. Python floats assigned to
    ``state.hyperparams`` are weakly typed and make ``jit`` trace the step
    once more: assign ``jnp.float32(x)`` instead.

    lrjax optimizers also work under ``optax.inject_hyperparams``. With bf16
    parameters there, optax's rounding of ``b2=0.999`` to 1.0 is rejected by
    lrjax's argument check (``ValueError`` naming ``b2``) rather than left to
    freeze Adam's second moment; pass ``hyperparam_dtype=jnp.float32`` to
    optax, or use this function.

    Args:
      factory: a function returning a ``GradientTransformation``.
      static_args: names of ``factory``'s arguments that are callables but not
        schedules (or numbers that must stay Python values).

    Returns:
      A function with ``factory``'s signature returning a
      ``GradientTransformationExtraArgs``.

    Raises:
      TypeError: when ``factory`` is not callable.
      ValueError: when ``static_args`` names an argument ``factory`` lacks.
    """
    if not callable(factory):
        raise TypeError(f"factory must be a callable, got {factory!r}.")
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(factory)
    unknown = static - set(signature.parameters)
    if unknown:
        raise ValueError(
            f"static_args must name arguments of {getattr(factory, '__name__', factory)}"
            f" ({sorted(signature.parameters)}), got {sorted(unknown)}."
        )

    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        schedules, numeric, fixed = {}, {}, {}
        for name, value in bound.arguments.items():
            if name in static or isinstance(value, (bool, np.bool_)):
                fixed[name] = value
            elif callable(value) and all(
                callable(getattr(value, a, None)) for a in ("init", "update")
            ):  # an optax stateful schedule (init, update, __call__)
                raise TypeError(
                    f"{name}: optax stateful schedules are not supported by "
                    "lrjax.inject_hyperparams; use optax.inject_hyperparams."
                )
            elif callable(value):
                schedules[name] = value
            elif _is_numeric(value):
                numeric[name] = _as_hyperparam(value)
            else:
                fixed[name] = value

        def values_at(count: jax.Array, hyperparams: dict[str, Any]) -> dict:
            out = {k: _as_hyperparam(hyperparams[k]) for k in numeric}
            out.update({k: _as_hyperparam(f(count)) for k, f in schedules.items()})
            return out

        def build(hyperparams: dict[str, Any]) -> GradientTransformationExtraArgs:
            inner = factory(**fixed, **hyperparams)
            return optax.with_extra_args_support(inner)

        # Build once now, with concrete values, so that the factory's argument
        # checks reject bad hyperparameters here rather than inside a trace.
        build(values_at(num.zero_count(), numeric))

        def init_fn(params):
            count = num.zero_count()
            hyperparams = values_at(count, numeric)
            inner_state = build(hyperparams).init(params)
            return InjectHyperparamsState(count, hyperparams, inner_state)

        def update_fn(updates, state, params=None, **extra_args):
            hyperparams = values_at(state.count, state.hyperparams)
            out, inner_state = build(hyperparams).update(
                updates, state.inner_state, params, **extra_args
            )
            # Float32 hyperparameters may promote an inner block's bf16 output.
            out = jax.tree_util.tree_map(
                lambda u, g: jnp.asarray(u).astype(jnp.asarray(g).dtype), out, updates
            )
            count = num.safe_increment(state.count)
            return out, InjectHyperparamsState(count, hyperparams, inner_state)

        return GradientTransformationExtraArgs(init_fn, update_fn)

    wrapped.__name__ = f"inject_hyperparams({getattr(factory, '__name__', 'factory')})"
    wrapped.__doc__ = factory.__doc__
    wrapped.__signature__ = signature  # type: ignore[attr-defined]
    return wrapped
