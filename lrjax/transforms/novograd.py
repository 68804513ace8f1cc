"""NovoGrad's layer-wise moments (Ginsburg et al., 2019)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation, ScalarOrSchedule

__all__ = ["ScaleByNovogradState", "scale_by_novograd"]


class ScaleByNovogradState(NamedTuple):
    """State of :func:`scale_by_novograd`.

    Attributes:
      count: int32 number of updates made (saturating).
      mu: the momentum of normalised gradients, per element, dtype ``mu_dtype``.
      nu: one scalar per parameter leaf: the EMA of the leaf's squared norm
        ``||g||**2`` (in the parameter's dtype, as in optax).
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_novograd(
    b1: float = 0.9,
    b2: float = 0.25,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mu_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """NovoGrad's direction: gradients normalised by a per-layer second moment.

    Ginsburg et al., 2019, "Stochastic Gradient Methods with Layer-wise
    Adaptive Moments for Training of Deep Networks". Each parameter leaf
    (a layer's weight or bias) keeps one scalar second moment, of the whole
    leaf's squared norm, instead of one per element::

        nu <- ||g||**2                              (first step)
        nu <- b2 * nu + (1 - b2) * ||g||**2         (later steps)
        mu <- b1 * mu + g / (sqrt(nu + eps_root) + eps) + weight_decay * w
        u = mu

    ``mu`` starts at 0 and has no ``(1 - b1)`` factor (the paper's form, and
    optax's); the decay enters the momentum, scaled by the layer's
    normalisation like the gradient. For complex parameters ``||g||**2`` sums
    ``|g|**2``.

    Args:
      b1: momentum decay, in ``[0, 1)``. Default 0.9.
      b2: decay of the per-layer second moment, in ``[0, 1)``. Default 0.25.
      eps: added to the denominator outside the root, ``>= 0``. Default 1e-8.
      eps_root: added inside the root, ``>= 0``. Default 0.
      weight_decay: ``>= 0``, or a schedule ``step -> coefficient`` (an lrjax
        addition: evaluated at the number of earlier updates). Default 0.
        Nonzero needs ``params`` in ``update``.
      mu_dtype: dtype of ``mu`` (default: the parameter's).

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByNovogradState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_novograd(b1=0.9, b2=0.25, eps=0.0)
        >>> g = {"w": jnp.array([3.0, 4.0]), "b": jnp.array([2.0])}
        >>> state = tx.init(g)
        >>> updates, state = tx.update(g, state)
        >>> updates  # per leaf: g / ||g||
        {'b': Array([1.], dtype=float32), 'w': Array([0.6, 0.8], dtype=float32)}
        >>> state.nu  # one second moment per leaf: ||g||**2
        {'b': Array(4., dtype=float32), 'w': Array(25., dtype=float32)}
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_non_negative("eps_root", eps_root)
    val.check_learning_rate("weight_decay", weight_decay)
    val.check_dtype("mu_dtype", mu_dtype)
    decays = callable(weight_decay) or not val.is_zero(weight_decay)

    def init_fn(params):
        mu = num.tree_buffers(params, mu_dtype)
        nu = jax.tree_util.tree_map(
            lambda p: jnp.zeros([], num.resolve_dtype(p, None)), params
        )
        return ScaleByNovogradState(num.zero_count(), mu, nu)

    def update_fn(updates, state, params=None):
        val.check_tree_structure("scale_by_novograd", updates, state.mu)
        if decays:
            val.check_params("scale_by_novograd", updates, params)
        else:
            params = jax.tree_util.tree_map(lambda _: None, updates)
        first = state.count == 0
        wd = num.rate_at(weight_decay, state.count)

        def step(g, m, n, p):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            sq_norm = jnp.sum(num.abs_sq(gc))
            (n_old,) = num.upcast(num.real_part(n))
            n_new = jnp.where(first, sq_norm, b2 * n_old + (1 - b2) * sq_norm)
            step_dir = gc / (jnp.sqrt(n_new + eps_root) + eps)
            if p is not None:
                step_dir = step_dir + wd * jnp.asarray(p).astype(step_dir.dtype)
            m_new = b1 * m_new + step_dir
            out = num.cast(m_new, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), n_new.astype(n.dtype)

        out = jax.tree_util.tree_map(
            step, updates, state.mu, state.nu, params, is_leaf=lambda x: x is None
        )
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByNovogradState(num.safe_increment(state.count), mu, nu)

    return GradientTransformation(init_fn, update_fn)
