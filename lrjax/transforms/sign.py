"""Sign-based directions: signSGD's ``sign(g)`` and Lion (Chen et al., 2023)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation

__all__ = ["ScaleByLionState", "scale_by_lion", "scale_by_sign"]

_MODES = ("hard", "smooth", "refined")


class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion`.

    Attributes:
      count: int32 number of updates made (saturating).
      mu: the momentum ``m`` (EMA of gradients with decay ``b2``), dtype
        ``mu_dtype``.
    """

    count: jax.Array
    mu: Any


def scale_by_lion(
    b1: float = 0.9,
    b2: float = 0.99,
    mu_dtype: DTypeLike | None = None,
    *,
    mode: Literal["hard", "smooth", "refined"] = "hard",
    smooth_beta: float = 1.0,
) -> GradientTransformation:
    """Lion's direction: the sign of an interpolated momentum.

    Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"::

        c = b1 * m + (1 - b1) * g         (interpolation, uses the old m)
        u = s(c)
        m <- b2 * m + (1 - b2) * g        (the momentum, updated after)

    with ``s`` chosen by ``mode``:

    * ``"hard"``: ``sign(c)`` (the paper's Lion; every element moves by +-1);
    * ``"smooth"``: ``tanh(smooth_beta * c)``, a differentiable sign;
    * ``"refined"``: ``clip(c, -1, 1)``, linear near 0 and saturating at +-1.

    For complex parameters each mode acts on the modulus and keeps the phase:
    ``sign(c) = c / |c|`` (as ``jnp.sign`` and optax), ``"refined"`` gives
    ``c`` where ``|c| < 1`` and ``c / |c|`` elsewhere (optax's form), and
    ``"smooth"`` gives ``tanh(smooth_beta * |c|) * c / |c|``. optax applies
    the complex ``tanh`` there, which has poles on the imaginary axis
    (``|c| = pi / (2 * smooth_beta)`` can give an infinite update); the
    modulus form equals the real one for real ``c``.

    The output is the *ascent* direction; chain
    :func:`lrjax.scale_by_learning_rate` after it (as :func:`lrjax.lion` does).

    Args:
      b1: interpolation weight of the momentum in ``c``, in ``[0, 1]``.
        Default 0.9.
      b2: decay of the momentum ``m``, in ``[0, 1)``. Default 0.99.
      mu_dtype: dtype of ``m`` (default: the parameter's).
      mode: ``"hard"``, ``"smooth"`` or ``"refined"``. Default ``"hard"``.
      smooth_beta: sharpness of the ``"smooth"`` mode, ``> 0``. Default 1.

    Returns:
      A ``GradientTransformation`` with :class:`ScaleByLionState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_lion(b1=0.9, b2=0.99)
        >>> g = {"w": jnp.array([0.5, -3.0])}
        >>> state = tx.init(g)
        >>> updates, state = tx.update(g, state)
        >>> updates["w"]  # sign(0.1 * g)
        Array([ 1., -1.], dtype=float32)
        >>> state.mu["w"]  # m = 0.01 * g, after the update
        Array([ 0.005, -0.03 ], dtype=float32)
        >>> updates, state = tx.update({"w": jnp.array([-0.01, -0.01])}, state)
        >>> updates["w"]  # sign(0.9 * m + 0.1 * g): the momentum wins
        Array([ 1., -1.], dtype=float32)
    """
    val.check_in_range("b1", b1, 0.0, 1.0)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_dtype("mu_dtype", mu_dtype)
    val.check_one_of("mode", mode, _MODES)
    val.check_positive("smooth_beta", smooth_beta)

    def shape(c):
        if mode == "hard":
            return jnp.sign(c)
        if not jnp.iscomplexobj(c):
            if mode == "smooth":
                return jnp.tanh(smooth_beta * c)
            return jnp.clip(c, -1.0, 1.0)
        modulus = jnp.abs(c)
        if mode == "smooth":
            return jnp.tanh(smooth_beta * modulus) * jnp.sign(c)
        return jnp.where(modulus < 1.0, c, jnp.sign(c))

    def init_fn(params):
        return ScaleByLionState(num.zero_count(), num.tree_buffers(params, mu_dtype))

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_lion", updates, state.mu)

        def step(g, m):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            u = shape(b1 * m_new + (1 - b1) * gc)
            m_new = b2 * m_new + (1 - b2) * gc
            return num.cast(u, num.update_dtype(g, m.dtype)), m_new.astype(m.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu)
        updates, mu = num.tree_unzip(updates, out, 2)
        return updates, ScaleByLionState(num.safe_increment(state.count), mu)

    return GradientTransformation(init_fn, update_fn)


def scale_by_sign() -> GradientTransformation:
    """The sign of every gradient element: ``u = sign(g)``.

    signSGD's direction (Bernstein et al., 2018, "signSGD: Compressed
    Optimisation for Non-Convex Problems"): each coordinate moves by +-1
    (0 where the gradient is exactly 0), whatever the gradient's scale. For a
    complex element ``sign(g) = g / |g|``, the unit number of ``g``'s phase
    (as ``jnp.sign`` and optax). Stateless; the update keeps the gradient's
    dtype. Chain :func:`lrjax.scale_by_learning_rate` after it (as
    :func:`lrjax.sign_sgd` does).

    Returns:
      A stateless ``GradientTransformation``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_sign()
        >>> g = {"w": jnp.array([0.5, -30.0, 0.0]), "z": jnp.array([3.0 + 4.0j])}
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> updates["w"]
        Array([ 1., -1.,  0.], dtype=float32)
        >>> updates["z"]  # g / |g| for a complex element
        Array([0.6+0.8j], dtype=complex64)
    """

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return jax.tree_util.tree_map(jnp.sign, updates), state

    return GradientTransformation(init_fn, update_fn)
