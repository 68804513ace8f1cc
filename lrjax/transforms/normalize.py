"""Gradient normalisation: centralisation and division by the update's norm."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation
from lrjax.transforms.clipping import global_norm

__all__ = ["NormalizeState", "centralize", "normalize", "normalize_by_update_norm"]

NormalizeState = EmptyState


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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.centralize()
        >>> g = {"w": jnp.array([[1.0, 3.0], [2.0, 2.0]]), "b": jnp.array([1.0, 3.0])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates["w"]  # each row minus its mean (2 and 2)
        Array([[-1.,  1.],
               [ 0.,  0.]], dtype=float32)
        >>> updates["b"]  # vectors pass through
        Array([1., 3.], dtype=float32)
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
    scale_factor: ArrayLike = 1.0, eps: ArrayLike = 1e-6
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

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.normalize_by_update_norm(scale_factor=2.0, eps=0.0)
        >>> g = {"w": jnp.array([3.0, 4.0])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates["w"]  # 2 * g / ||g|| with ||g|| = 5
        Array([1.2, 1.6], dtype=float32)
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


def normalize() -> GradientTransformation:
    """Divides the updates by their global L2 norm: ``u = g / ||g||``.

    SAM's adversarial direction (the paper's ``p = 2`` case, see
    :func:`lrjax.sam`): chained with ``sgd(rho)`` it gives the ascent step
    ``rho * g / ||g||``. The norm is :func:`lrjax.global_norm` (summed in at
    least float32, ``|g|**2`` for complex leaves). Unlike
    :func:`normalize_by_update_norm` there is no ``eps``: a zero gradient
    gives NaN, as in optax.contrib.

    Returns:
      A stateless ``GradientTransformation`` (state :class:`NormalizeState`).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.normalize()
        >>> g = {"a": jnp.array([3.0]), "b": jnp.array([0.0, 4.0])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates  # g / ||g|| with ||g|| = 5 over the whole tree
        {'a': Array([0.6], dtype=float32), 'b': Array([0. , 0.8], dtype=float32)}
    """

    def update_fn(updates, state, params=None):
        del params
        norm = global_norm(updates)
        out = jax.tree_util.tree_map(
            lambda g: num.cast(num.upcast(g)[0] / norm, jnp.result_type(g)), updates
        )
        return out, state

    return GradientTransformation(_empty_init, update_fn)
