"""Resilient backpropagation: per-element step sizes driven by gradient signs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["ScaleByRpropState", "scale_by_rprop"]


class ScaleByRpropState(NamedTuple):
    """State of :func:`scale_by_rprop` (optax's fields, in optax's order).

    Attributes:
      step_sizes: the per-element step sizes ``Delta``, in the parameter's
        dtype. For a complex parameter the real and imaginary parts are two
        coordinates, each with its own step size, kept in the real and
        imaginary parts of a complex buffer.
      prev_updates: the update returned at the previous step (0 where the
        gradient's sign flipped there); only its sign is read.
    """

    step_sizes: Any
    prev_updates: Any


def _rprop_real(g, prev, step, eta_minus, eta_plus, min_step, max_step):
    """One iRprop- step of real arrays: ``(update, new step size)``."""
    agree = g * prev
    grown = jnp.clip(
        step * jnp.where(agree > 0, eta_plus, eta_minus), min_step, max_step
    )
    step = jnp.where(agree == 0, step, grown)
    update = jnp.where(agree < 0, jnp.zeros_like(g), step * jnp.sign(g))
    return update, step


def scale_by_rprop(
    learning_rate: ArrayLike,
    eta_minus: ArrayLike = 0.5,
    eta_plus: ArrayLike = 1.2,
    min_step_size: ArrayLike = 1e-6,
    max_step_size: ArrayLike = 50.0,
) -> GradientTransformation:
    """Rprop's direction: a per-element step size that follows gradient signs.

    Riedmiller & Braun, 1993, "A direct adaptive method for faster
    backpropagation learning: the RPROP algorithm", in the iRprop- form of
    Igel & Huesken, 2003, "Empirical evaluation of the improved Rprop learning
    algorithms" (as ``torch.optim.Rprop``). Per element, with ``Delta_0 =
    learning_rate`` and ``u_0 = 0``::

        s = g_t * u_{t-1}
        Delta_t = clip(Delta_{t-1} * (eta_plus if s > 0 else eta_minus),
                       min_step_size, max_step_size)   if s != 0
                = Delta_{t-1}                           if s == 0
        u_t = 0 if s < 0 else Delta_t * sign(g_t)

    A sign flip shrinks the step and skips the move (the zeroed ``u_t`` makes
    the next step neither grow nor shrink). The output is the *ascent*
    direction with the step length already in it; :func:`lrjax.rprop` flips
    its sign. Complex parameters are pairs of real coordinates (the real and
    imaginary parts, each with its own step size), as PyTorch treats them.

    optax 0.2.8's ``scale_by_rprop`` computes ``u_t`` into its state but
    returns ``u_{t-1}`` (every update one step late, the first one 0: its
    open pull request 1725); lrjax returns ``u_t``, which matches
    ``torch.optim.Rprop`` and the papers.

    Args:
      learning_rate: the initial step size ``Delta_0``, ``>= 0`` (a number:
        the step sizes then adapt on their own). Required.
      eta_minus: factor applied to the step size on a sign flip, in
        ``(0, 1]``. Default 0.5.
      eta_plus: factor applied when the sign is kept, ``>= 1``. Default 1.2.
      min_step_size: lower bound of the step sizes, ``>= 0``. Default 1e-6.
      max_step_size: upper bound of the step sizes, ``> 0`` and ``>=
        min_step_size``. Default 50.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByRpropState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_rprop(learning_rate=0.1)
        >>> g = {"w": jnp.array([1.0, 1.0])}
        >>> state = tx.init(g)
        >>> updates, state = tx.update(g, state)
        >>> updates["w"]  # Delta_0 * sign(g): the ascent direction
        Array([0.1, 0.1], dtype=float32)
        >>> updates, state = tx.update({"w": jnp.array([2.0, -2.0])}, state)
        >>> updates["w"]  # kept: 0.1 * 1.2; flipped: 0 (and Delta halved)
        Array([0.12, 0.  ], dtype=float32)
        >>> state.step_sizes["w"]
        Array([0.12, 0.05], dtype=float32)
    """
    val.check_non_negative("learning_rate", learning_rate)
    val.check_in_range("eta_minus", eta_minus, 0.0, 1.0, low_inclusive=False)
    val.check_in_range("eta_plus", eta_plus, 1.0)
    val.check_non_negative("min_step_size", min_step_size)
    val.check_positive("max_step_size", max_step_size)
    if val.is_checkable(min_step_size) and val.is_checkable(max_step_size):
        if np.any(np.asarray(min_step_size) > np.asarray(max_step_size)):
            raise ValueError(
                f"max_step_size must be >= min_step_size={min_step_size!r}, "
                f"got {max_step_size!r}."
            )

    def init_fn(params):
        def steps(p):
            buf = num.buffer_like(p, None, 1.0)
            # Two coordinates per complex element: both start at Delta_0.
            fill = learning_rate * (1 + 1j) if jnp.iscomplexobj(buf) else learning_rate
            return (buf * jnp.asarray(fill, num.compute_dtype(buf.dtype))).astype(
                buf.dtype
            )

        num.check_optimizable(params, "lrjax init")
        return ScaleByRpropState(
            jax.tree_util.tree_map(steps, params), num.tree_buffers(params)
        )

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_rprop", updates, state.step_sizes)
        hyper = (eta_minus, eta_plus, min_step_size, max_step_size)

        def step(g, prev, delta):
            g = jnp.asarray(g)
            gc, prev_c, delta_c = num.upcast(g, prev, delta)
            if jnp.iscomplexobj(gc):
                u_re, d_re = _rprop_real(gc.real, prev_c.real, delta_c.real, *hyper)
                u_im, d_im = _rprop_real(gc.imag, prev_c.imag, delta_c.imag, *hyper)
                u, d = jax.lax.complex(u_re, u_im), jax.lax.complex(d_re, d_im)
            else:
                u, d = _rprop_real(gc.real, prev_c.real, delta_c.real, *hyper)
            dtype = num.update_dtype(g, delta.dtype)
            return num.cast(u, dtype), num.cast(u, prev.dtype), d.astype(delta.dtype)

        out = jax.tree_util.tree_map(
            step, updates, state.prev_updates, state.step_sizes
        )
        updates, prev_updates, step_sizes = num.tree_unzip(updates, out, 3)
        return updates, ScaleByRpropState(step_sizes, prev_updates)

    return GradientTransformation(init_fn, update_fn)
