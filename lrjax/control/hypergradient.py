"""Hypergradient descent: the learning rate learns itself (Baydin et al., 2018).

Baydin, Cornish, Martinez Rubio, Schmidt and Wood, "Online Learning Rate
Adaptation with Hypergradient Descent", ICLR 2018. Write an optimizer's step
as ``theta_t = theta_{t-1} + u_t`` with ``u_t = -alpha_t * d_t``, ``d_t`` its
descent direction. The derivative of the loss at ``theta_t`` with respect to
the rate used one step earlier is ``h_t = g_t . du_{t-1}/dalpha = -g_t . d_{t-1}``,
so one step of gradient descent on the rate, taken before the parameter step, is::

    alpha_t = alpha_{t-1} - beta * h_t = alpha_{t-1} + beta * g_t . d_{t-1}

(``beta`` is ``hypergrad_lr``; ``d_0 = 0``, so ``alpha_1 = alpha_0``). The dot
product runs over the whole parameter tree: one rate for the whole model.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation, elementwise_constructor
from lrjax.control._tree_reductions import tree_real_dot
from lrjax.transforms._moments import check_adam_args
from lrjax.transforms.adam import scale_by_adam
from lrjax.transforms.momentum import trace
from lrjax.transforms.scaling import identity

__all__ = ["HypergradientState", "hypergradient_descent", "sgd_hd", "adam_hd"]


class HypergradientState(NamedTuple):
    """State of :func:`hypergradient_descent` (and so of ``sgd_hd``, ``adam_hd``).

    Attributes:
      learning_rate: float32 rate ``alpha_t`` applied at the latest update
        (``alpha_0`` before any); the only rate in the state, so
        :func:`lrjax.get_learning_rate` returns it.
      direction: the previous descent direction ``d_{t-1}`` (zeros before the
        first update), one buffer per parameter.
      direction_state: the state of the block computing the direction.
    """

    learning_rate: jax.Array
    direction: Any
    direction_state: Any


def _check_rate(name: str, value: Any) -> None:
    if callable(value) or isinstance(value, str):
        raise TypeError(
            f"{name} must be a number >= 0, got {value!r}: hypergradient "
            "descent adapts the rate itself, so it takes an initial value, not "
            "a schedule."
        )
    val.check_non_negative(name, value)


@elementwise_constructor(
    "its rate follows a whole-tree dot product of gradients; packing changes its summation order"
)
def hypergradient_descent(
    direction: GradientTransformation,
    learning_rate: float,
    hypergrad_lr: float,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """Descends along ``direction``'s output with a rate tuned by its hypergradient.

    With ``g_t`` the incoming gradient and ``d_t`` what ``direction`` makes of
    it (``direction`` must not apply a rate of its own)::

        alpha_t = alpha_{t-1} + hypergrad_lr * Re(sum(conj(g_t) * d_{t-1}))
        u_t     = -alpha_t * d_t

    ``alpha_0 = learning_rate``, ``d_0 = 0``. :func:`sgd_hd` and
    :func:`adam_hd` are this block around ``identity``, Nesterov ``trace`` and
    ``scale_by_adam``; any other direction (RMSprop's, say) works the same way.
    The rate is not clipped: the paper lets it move freely (it shrinks, and
    can turn negative, when steps keep overshooting).

    Args:
      direction: a ``GradientTransformation`` mapping gradients to the descent
        direction ``d_t`` (without the learning rate and its sign).
      learning_rate: the initial rate ``alpha_0``, a number ``>= 0``.
      hypergrad_lr: the hypergradient step ``beta``, a number ``>= 0``
        (``0`` gives the underlying optimizer at a fixed rate).
      axis_name: lrjax addition (keyword-only): the mesh axis the parameters
        are split across under ``shard_map``; the dot product then runs over
        the whole sharded tree and every device keeps the same rate. See
        :func:`lrjax.global_norm`. Default None.

    Returns:
      A ``GradientTransformation`` with :class:`HypergradientState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.hypergradient_descent(lrjax.identity(), 0.1, hypergrad_lr=0.01)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # The quadratic |w|**2 / 2: the gradient is w. The rate moves from the
        >>> # second update on: alpha_2 = 0.1 + 0.01 * (0.9 * 1 + (-1.8) * (-2)).
        >>> for _ in range(2):
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        ...     print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.1000
        0.1450
    """
    if not isinstance(direction, GradientTransformation):
        raise TypeError(
            "direction must be an optax.GradientTransformation, got "
            f"{direction!r} of type {type(direction).__name__}."
        )
    _check_rate("learning_rate", learning_rate)
    _check_rate("hypergrad_lr", hypergrad_lr)
    val.check_axis_name("axis_name", axis_name)

    def init_fn(params):
        return HypergradientState(
            learning_rate=jnp.asarray(learning_rate, jnp.float32),
            direction=num.tree_buffers(params),
            direction_state=direction.init(params),
        )

    def update_fn(updates, state, params=None):
        val.check_tree_structure("hypergradient_descent", updates, state.direction)
        # The hypergradient uses g_t and d_{t-1}: the rate moves first, then
        # steps along the new direction.
        h = tree_real_dot(updates, state.direction, axis_name)
        rate = (state.learning_rate + hypergrad_lr * h).astype(jnp.float32)
        # The direction reaches the step unrounded (float32 or wider): a
        # float16 direction would be rounded twice. Its state keeps its dtypes.
        wide = jax.tree_util.tree_map(lambda g: num.upcast(g)[0], updates)
        new_dir, dir_state = direction.update(wide, state.direction_state, params)
        dir_state = num.tree_cast_like(dir_state, state.direction_state)

        def step(g, d, buf):
            d32, rate_c = num.upcast(d, rate)
            g = jnp.asarray(g)  # a Python-scalar leaf takes the buffer's dtype
            return num.cast(-rate_c * d32, num.update_dtype(g, buf.dtype))

        out = jax.tree_util.tree_map(step, updates, new_dir, state.direction)
        stored = jax.tree_util.tree_map(
            lambda d, buf: jnp.asarray(d).astype(buf.dtype), new_dir, state.direction
        )
        return out, HypergradientState(rate, stored, dir_state)

    return GradientTransformation(init_fn, update_fn)


@elementwise_constructor(
    "its rate follows a whole-tree dot product of gradients; packing changes its summation order"
)
def sgd_hd(
    learning_rate: float,
    hypergrad_lr: float,
    momentum: float | None = None,
    *,
    nesterov: bool = True,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """SGD with hypergradient descent on its rate (SGD-HD and SGDN-HD).

    SGD-HD (the paper's Algorithm 1), ``t`` counting updates from 1::

        alpha_t = alpha_{t-1} + beta * g_t . g_{t-1}          (g_0 = 0)
        theta_t = theta_{t-1} - alpha_t * g_t

    SGDN-HD (``momentum=mu``, the paper's Nesterov form)::

        alpha_t = alpha_{t-1} + beta * g_t . (g_{t-1} + mu * v_{t-1})
        v_t     = mu * v_{t-1} + g_t                          (v_0 = 0)
        theta_t = theta_{t-1} - alpha_t * (g_t + mu * v_t)

    ``nesterov=False`` (lrjax addition) uses the heavy-ball direction ``v_t``
    instead. The paper's experiments use ``hypergrad_lr=1e-3`` for both.

    Args:
      learning_rate: initial rate ``alpha_0``, ``>= 0``.
      hypergrad_lr: hypergradient step ``beta``, ``>= 0``.
      momentum: ``mu`` in ``[0, 1]``, or ``None`` for plain SGD-HD.
      nesterov: with a momentum, Nesterov's direction (the paper's SGDN).
      axis_name: lrjax addition: see :func:`hypergradient_descent`.

    Returns:
      A ``GradientTransformation`` with :class:`HypergradientState`;
      :func:`lrjax.get_learning_rate` returns ``alpha_t``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.sgd_hd(learning_rate=0.1, hypergrad_lr=0.01)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # The quadratic |w|**2 / 2: the gradient is w. The rate moves from the
        >>> # second update on: alpha_2 = 0.1 + 0.01 * (0.9 * 1 + (-1.8) * (-2)).
        >>> for _ in range(2):
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        ...     print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.1000
        0.1450
    """
    val.check_type("nesterov", nesterov, bool)
    if momentum is not None:
        # Checked here so the error names sgd_hd's argument, not trace's.
        val.check_in_range("momentum", momentum, 0.0, 1.0)
    if momentum is None:
        direction = identity()
    else:
        direction = trace(momentum, nesterov)
    return hypergradient_descent(
        direction, learning_rate, hypergrad_lr, axis_name=axis_name
    )


@elementwise_constructor(
    "its rate follows a whole-tree dot product of gradients; packing changes its summation order"
)
def adam_hd(
    learning_rate: float,
    hypergrad_lr: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    axis_name: num.AxisName = None,
) -> GradientTransformation:
    """Adam with hypergradient descent on its rate (Adam-HD, the paper's Algorithm 3).

    With ``t`` counting updates from 1 and ``d_0 = 0``::

        alpha_t = alpha_{t-1} + beta * g_t . d_{t-1}
        m_t = b1 * m_{t-1} + (1 - b1) * g_t
        v_t = b2 * v_{t-1} + (1 - b2) * g_t**2
        d_t = (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t)) + eps)
        theta_t = theta_{t-1} - alpha_t * d_t

    The paper's experiments use ``hypergrad_lr=1e-7``. The authors' PyTorch
    code tunes the rate once per parameter tensor, in turn; lrjax follows the
    paper: one dot product over the whole tree.

    Args:
      learning_rate: initial rate ``alpha_0``, ``>= 0``.
      hypergrad_lr: hypergradient step ``beta``, ``>= 0``.
      b1: first-moment decay, in ``[0, 1)``. Default 0.9.
      b2: second-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added to the denominator outside the root, ``>= 0``. Default 1e-8.
      axis_name: lrjax addition (keyword-only): see
        :func:`hypergradient_descent`.

    Returns:
      A ``GradientTransformation`` with :class:`HypergradientState`;
      :func:`lrjax.get_learning_rate` returns ``alpha_t``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adam_hd(learning_rate=0.1, hypergrad_lr=0.01)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> # The quadratic |w|**2 / 2: the gradient is w. Adam's first direction is
        >>> # sign(g), so alpha_2 = 0.1 + 0.01 * (0.9 * 1 + (-1.9) * (-1)).
        >>> for _ in range(2):
        ...     updates, state = tx.update(params, state, params)
        ...     params = lrjax.apply_updates(params, updates)
        ...     print(f"{float(lrjax.get_learning_rate(state)):.4f}")
        0.1000
        0.1280
    """
    check_adam_args(b1, b2, eps, 0.0)
    return hypergradient_descent(
        scale_by_adam(b1, b2, eps), learning_rate, hypergrad_lr, axis_name=axis_name
    )
