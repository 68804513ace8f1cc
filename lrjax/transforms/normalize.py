"""Gradient normalisation: centralisation and division by the update's norm."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation
from lrjax.transforms.clipping import global_norm

__all__ = ["centralize", "normalize_by_update_norm"]


def _empty_init(params):
    del params
    return EmptyState()


def centralize() -> GradientTransformation:
    """Gradient centralisation (Yong et al., 2020, "Gradient Centralization:
    A New Optimization Technique for Deep Neural Networks").

    Every leaf with two or more axes loses its mean over all axes but the
    first (for a kernel of shape ``(out, ...)``, each output unit's gradient
    gets zero mean)::

        u[i, ...] = g[i, ...] - mean(g[i, ...])

    Scalars and vectors (biases, scales) pass through unchanged. The mean is
    taken in at least float32 and the result rounded once to the gradient's
    dtype. As optax, the first axis is the one kept; note that Flax's
    ``Dense`` kernels are ``(in, out)``, so for them this centres each input's
    row, not each output unit.

    Returns:
      A stateless ``GradientTransformation``.
    """

    def centred(g):
        g = jnp.asarray(g)
        if g.ndim < 2:
            return g
        gc = num.upcast(g)[0]
        out = gc - jnp.mean(gc, axis=tuple(range(1, g.ndim)), keepdims=True)
        return out.astype(g.dtype)

    def update_fn(updates, state, params=None):
        del params
        return jax.tree_util.tree_map(centred, updates), state

    return GradientTransformation(_empty_init, update_fn)


def normalize_by_update_norm(
    scale_factor: float | jax.Array = 1.0, eps: float | jax.Array = 1e-6
) -> GradientTransformation:
    """Divides the updates by their global norm: ``u = s * g / (||g|| + eps)``.

    ``||g||`` is the L2 norm of the whole tree (the modulus for complex
    leaves, summed in at least float32, :func:`lrjax.global_norm`), so the
    update has norm ``s`` (just under, by ``eps``) whatever the gradient's
    scale: normalised gradient descent (e.g. Hazan, Levy & Shalev-Shwartz,
    2015, "Beyond Convexity: Stochastic Quasi-Convex Optimization").

    Args:
      scale_factor: ``s``, the norm of the output, a real number. Default 1.
      eps: added to the norm (no division by 0), ``>= 0``. Default 1e-6.

    Returns:
      A stateless ``GradientTransformation``.
    """
    val.check_number("scale_factor", scale_factor)
    val.check_non_negative("eps", eps)

    def update_fn(updates, state, params=None):
        del params
        norm = global_norm(updates)
        factor = jnp.asarray(scale_factor, norm.dtype) / (norm + eps)

        def scaled(g):
            g = jnp.asarray(g)
            gc, f = num.upcast(g, factor)
            return num.keep_weak((gc * f).astype(g.dtype), g)

        return jax.tree_util.tree_map(scaled, updates), state

    return GradientTransformation(_empty_init, update_fn)
