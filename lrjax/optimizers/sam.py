"""Sharpness-Aware Minimization as a wrapper (Foret et al., 2021)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    checks_state,
)

__all__ = ["SAMState", "sam"]


class SAMState(NamedTuple):
    """State of :func:`sam` (optax.contrib's fields).

    Attributes:
      steps_since_sync: int32 adversarial steps since the last outer update.
      opt_state: the outer optimizer's state.
      adv_state: the adversarial optimizer's state.
      cache: the outer ("true") parameters; None in opaque mode.
    """

    steps_since_sync: jax.Array
    opt_state: Any
    adv_state: Any
    cache: Any

    # lrjax.get_learning_rate reads the outer optimizer's rate only: the
    # adversarial radius is no learning rate on the path of the update.
    rate_fields = ("opt_state",)


@checks_state
def sam(
    optimizer: GradientTransformation,
    adv_optimizer: GradientTransformation,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = False,
    batch_axis_name: str | None = None,
) -> GradientTransformationExtraArgs:
    """SAM (Foret et al., ICLR 2021), as ``optax.contrib.sam``.

    "Sharpness-Aware Minimization for Efficiently Improving Generalization":
    minimise ``max_{||e|| <= rho} L(w + e)`` by first stepping to the
    adversarial point ``w + rho * g / ||g||`` and then applying the gradient
    taken there to ``w``::

        opt = lrjax.sam(lrjax.sgd(lr), optax.chain(lrjax.normalize(), lrjax.sgd(rho)))

    is the paper's SAM (``sync_period=2``: one adversarial step, then the
    outer step). In every cycle of ``sync_period`` updates the first
    ``sync_period - 1`` are adversarial steps of ``adv_optimizer`` (ascent:
    its update is negated) from the cached outer parameters, and the last
    applies ``optimizer`` to the cached parameters with the gradient at the
    adversarial point, returning the update that lands there. The caller's
    loop is unchanged (transparent mode), but every other step of the
    parameters it sees is adversarial: evaluate on the outer parameters.

    ``opaque_mode=True`` runs the whole cycle inside one ``update``: pass
    ``grad_fn(params, i)`` (the gradient at the ``i``-th adversarial point)
    through the extra arguments; each call then returns the outer update
    only (needed with BatchNorm statistics or other side effects of the
    forward pass). ``batch_axis_name`` then averages those gradients across
    a ``pmap``/``shard_map`` axis. ``reset_state`` re-initialises
    ``adv_optimizer`` after each outer step. :func:`lrjax.get_learning_rate`
    reports the outer optimizer's rate. PyTorch core and Keras have no SAM.

    Args:
      optimizer: the outer optimizer (any ``GradientTransformation``).
      adv_optimizer: the adversarial optimizer, e.g.
        ``chain(normalize(), sgd(rho))``.
      sync_period: updates per cycle, an integer ``>= 1``. Default 2.
      reset_state: reset ``adv_optimizer`` after each outer step. Default True.
      opaque_mode: run a whole cycle per ``update`` (needs ``grad_fn=``).
        Default False.
      batch_axis_name: axis to ``pmean`` adversarial gradients over (opaque
        mode only), or None.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`SAMState`.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import lrjax
        >>> def loss(params):
        ...     return 0.5 * jnp.sum(params["w"] ** 2)
        >>> rho = 0.05
        >>> adversary = lrjax.chain(lrjax.normalize(), lrjax.sgd(rho))
        >>> tx = lrjax.sam(lrjax.sgd(0.1), adversary)
        >>> params = {"w": jnp.array([3.0, 4.0])}
        >>> state = tx.init(params)
        >>> updates, state = tx.update(jax.grad(loss)(params), state, params)
        >>> params = optax.apply_updates(params, updates)
        >>> params["w"]  # the adversarial point w + rho * g / ||g||
        Array([3.03, 4.04], dtype=float32)
        >>> updates, state = tx.update(jax.grad(loss)(params), state, params)
        >>> params = optax.apply_updates(params, updates)
        >>> params["w"]  # [3, 4] - 0.1 * (gradient at [3.03, 4.04])
        Array([2.697, 3.596], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))  # the outer optimizer's
        0.1
        >>> # opaque_mode: the whole cycle in one update, given grad_fn(params, i)
        >>> tx = lrjax.sam(lrjax.sgd(0.1), adversary, opaque_mode=True)
        >>> params = {"w": jnp.array([3.0, 4.0])}
        >>> grad_fn = lambda p, i: jax.grad(loss)(p)
        >>> state = tx.init(params)
        >>> grads = jax.grad(loss)(params)
        >>> updates, state = tx.update(grads, state, params, grad_fn=grad_fn)
        >>> optax.apply_updates(params, updates)["w"]  # as the two steps above
        Array([2.697, 3.596], dtype=float32)
    """
    for name, tx in (("optimizer", optimizer), ("adv_optimizer", adv_optimizer)):
        if not isinstance(tx, GradientTransformation):
            raise TypeError(
                f"{name} must be a GradientTransformation, got {tx!r} of type "
                f"{type(tx).__name__}."
            )
    val.check_positive_int("sync_period", sync_period)
    val.check_type("reset_state", reset_state, bool)
    val.check_type("opaque_mode", opaque_mode, bool)
    val.check_axis_name("batch_axis_name", batch_axis_name)

    def init_fn(params):
        return SAMState(
            num.zero_count(),
            optimizer.init(params),
            adv_optimizer.init(params),
            None if opaque_mode else num.tree_copy(params),
        )

    def select(pred, if_true, if_false):
        return jax.tree_util.tree_map(
            lambda a, b: jnp.where(pred, a, b), if_true, if_false
        )

    def transparent_update(updates, state, params=None, **extra_args):
        val.check_params("sam", updates, params)
        first = state.steps_since_sync == 0
        last = state.steps_since_sync == sync_period - 1
        ascent, adv_state = adv_optimizer.update(updates, state.adv_state, params)
        ascent = jax.tree_util.tree_map(jnp.negative, ascent)
        outer, opt_state = optimizer.update(updates, state.opt_state, state.cache)
        # From the current (adversarial) params back to the cache, plus the
        # outer step.
        outer = jax.tree_util.tree_map(
            lambda c, p, u: (c - p + u).astype(jnp.result_type(u)),
            state.cache,
            params,
            outer,
        )
        # The outer optimizer's dtypes (a Python-scalar leaf's ascent step
        # is float32, its outer update takes the state's dtype, as in optax).
        new_updates = jax.tree_util.tree_map(
            lambda a, b: jnp.where(last, a, b.astype(jnp.result_type(a))), outer, ascent
        )
        if reset_state:
            adv_state = select(last, adv_optimizer.init(params), adv_state)
        else:
            adv_state = select(last, state.adv_state, adv_state)
        return new_updates, SAMState(
            (state.steps_since_sync + 1) % sync_period,
            select(last, opt_state, state.opt_state),
            adv_state,
            select(first, params, state.cache),
        )

    def opaque_update(
        updates,
        state,
        params=None,
        *,
        grad_fn: Callable[[Any, int], Any] | None = None,
        **extra_args,
    ):
        if grad_fn is None:
            raise ValueError(
                "sam(opaque_mode=True) needs grad_fn: call update(grads, state, "
                "params, grad_fn=lambda p, i: gradient at p)."
            )
        val.check_params("sam", updates, params)
        point, grads, adv_state = params, updates, state.adv_state
        for i in range(sync_period - 1):
            ascent, adv_state = adv_optimizer.update(grads, adv_state, point)
            point = optax.apply_updates(
                point, jax.tree_util.tree_map(jnp.negative, ascent)
            )
            grads = grad_fn(point, i)
            if batch_axis_name is not None:
                grads = jax.lax.pmean(grads, axis_name=batch_axis_name)
        if reset_state:
            adv_state = adv_optimizer.init(params)
        new_updates, opt_state = optimizer.update(grads, state.opt_state, params)
        return new_updates, SAMState(num.zero_count(), opt_state, adv_state, None)

    update_fn = opaque_update if opaque_mode else transparent_update
    return GradientTransformationExtraArgs(init_fn, update_fn)
