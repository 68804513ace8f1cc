"""Muon's blocks: momentum orthogonalised by a Newton-Schulz iteration.

Jordan et al., 2024, "Muon: An optimizer for hidden layers in neural
networks" (modded-nanogpt); Bernstein & Newhouse, 2024, "Old Optimizer, New
Norm: An Anthology"; Liu et al., 2025, "Muon is Scalable for LLM Training".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax.contrib
from jax.typing import ArrayLike, DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import EmptyState, GradientTransformation

__all__ = [
    "MuonDimensionNumbers",
    "MuonState",
    "orthogonalize_via_newton_schulz",
    "scale_by_muon",
    "scale_by_shape",
]

DEFAULT_NS_COEFFS = (3.4445, -4.7750, 2.0315)
_PRECONDITIONINGS = ("frobenius", "spectral", "aol", "schatten")


class MuonDimensionNumbers(NamedTuple):
    """Which axes of a weight form the matrix Muon orthogonalises.

    ``x @ W = y``: ``reduction_axis`` (the input, fan-in) and ``output_axis``
    (fan-out) may each be one axis or several (flattened together); every
    other axis is a batch axis, orthogonalised independently.
    """

    reduction_axis: Sequence[int] | int = 0
    output_axis: Sequence[int] | int = 1


def is_dim_nums(x: Any) -> bool:
    # optax.contrib's own MuonDimensionNumbers work too (a switched codebase).
    return isinstance(x, (MuonDimensionNumbers, optax.contrib.MuonDimensionNumbers))


def _axes(x: jax.Array, dims: MuonDimensionNumbers):
    def norm(a):
        return tuple(i % x.ndim for i in ((a,) if isinstance(a, int) else a))

    red, out = norm(dims.reduction_axis), norm(dims.output_axis)
    if x.ndim < 2:
        raise ValueError(f"Muon needs parameters of rank >= 2, got shape {x.shape}.")
    if set(red) & set(out):
        raise ValueError(
            f"MuonDimensionNumbers: reduction axes {red} and output axes {out} "
            f"of a shape-{x.shape} parameter overlap."
        )
    return red, out


def _fans(x: jax.Array, dims: MuonDimensionNumbers) -> tuple[int, int]:
    red, out = _axes(x, dims)
    return math.prod(x.shape[a] for a in red), math.prod(x.shape[a] for a in out)


def _ns_step(x: jax.Array, c: jax.Array) -> jax.Array:
    """One quintic step ``c0 X + (c1 A + c2 A A) X`` with ``A = X X^H``."""
    a = x @ x.T.conj()
    return c[0] * x + (c[1] * a + c[2] * (a @ a)) @ x


def _first_step(x: jax.Array, c: jax.Array, mode: str, eps: float) -> jax.Array:
    """The first step; ``aol`` and ``schatten`` rescale ``X`` inside it."""
    if mode not in ("aol", "schatten"):
        return _ns_step(x, c)
    a = x @ x.T.conj()
    if mode == "aol":  # row scaling from the absolute row sums of X X^H
        s = jax.lax.rsqrt(jnp.maximum(jnp.sum(jnp.abs(a), axis=-1), eps))[:, None]
        x, a = x * s, a * s * s.T
    else:  # Schatten-4: ||X||_S4**2 = ||X X^H||_F
        s = jax.lax.rsqrt(jnp.maximum(jnp.linalg.norm(a), eps))
        x, a = x * s, a * s**2
    return c[0] * x + (c[1] * a + c[2] * (a @ a)) @ x


def _orthogonalize_matrix(x, coeffs, ns_steps, mode, eps):
    transposed = x.shape[0] > x.shape[1]
    if transposed:  # f(X) = f(X^T)^T: iterate on the smaller Gram matrix
        x = x.T
    if mode == "frobenius":
        x = x / (jnp.linalg.norm(x) + eps)
    elif mode == "spectral":
        x = x / (jnp.linalg.norm(x, ord=2) + eps)
    coeffs = coeffs.astype(x.dtype)
    if coeffs.ndim == 2:  # one row per step
        x = _first_step(x, coeffs[0], mode, eps)
        for c in coeffs[1:]:
            x = _ns_step(x, c)
    elif isinstance(ns_steps, jax.core.Tracer):  # a traced hyperparameter
        x = jax.lax.fori_loop(
            0,
            ns_steps,
            lambda i, x: jax.lax.cond(
                i == 0,
                lambda x: _first_step(x, coeffs, mode, eps),
                lambda x: _ns_step(x, coeffs),
                x,
            ),
            x,
        )
    else:  # unrolled: few steps, and vmap-friendly
        for i in range(ns_steps):
            x = _first_step(x, coeffs, mode, eps) if i == 0 else _ns_step(x, coeffs)
    return x.T if transposed else x


def orthogonalize_via_newton_schulz(
    x: ArrayLike,
    ns_coeffs: ArrayLike,
    ns_steps: int = 5,
    preconditioning: Literal["frobenius", "spectral", "aol", "schatten"] = "frobenius",
    eps: float = 1e-8,
    dimension_numbers: MuonDimensionNumbers | None = None,
) -> jax.Array:
    """Approximately ``U V^H`` for ``x = U S V^H``, by a quintic iteration.

    ``X`` is first scaled so its singular values are at most about 1
    (``preconditioning``: by its Frobenius or spectral norm, or, inside the
    first step, by AOL row sums or its Schatten-4 norm), then
    ``X <- c0 X + c1 (X X^H) X + c2 (X X^H)^2 X`` is applied ``ns_steps``
    times. Keller Jordan's coefficients (3.4445, -4.7750, 2.0315) push every
    singular value into roughly ``[0.7, 1.2]`` in 5 steps rather than
    exactly to 1, which trains as well. ``ns_coeffs`` of shape ``(n, 3)``
    give one row per step (and set the number of steps).

    Args:
      x: a matrix, or an array with ``dimension_numbers``.
      ns_coeffs: shape ``(3,)`` or ``(n, 3)``.
      ns_steps: number of steps for ``(3,)`` coefficients.
      preconditioning: ``"frobenius"``, ``"spectral"``, ``"aol"`` or
        ``"schatten"``.
      eps: keeps the scalings finite for a zero matrix.
      dimension_numbers: which axes form the matrix (required unless ``x``
        is 2-D).

    Returns:
      An array shaped like ``x``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> x = jnp.array([[3.0, 0.0], [0.0, 0.1]])  # U V^T = I
        >>> o = lrjax.orthogonalize_via_newton_schulz(x, (3.4445, -4.7750, 2.0315))
        >>> [round(float(s), 2) for s in jnp.linalg.svd(o, compute_uv=False)]
        [1.13, 0.7]
        >>> o = lrjax.orthogonalize_via_newton_schulz(x, (1.5, -0.5, 0.0), ns_steps=30)
        >>> o.round(4)  # the cubic iteration converges to U V^T exactly, slowly
        Array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    x = jnp.asarray(x)
    if x.ndim != 2 and not is_dim_nums(dimension_numbers):
        raise ValueError(
            f"orthogonalize_via_newton_schulz needs a matrix or dimension_numbers, "
            f"got shape {x.shape} and dimension_numbers={dimension_numbers!r}."
        )
    coeffs = jnp.asarray(ns_coeffs)
    if coeffs.ndim > 2 or coeffs.shape[-1] != 3:
        raise ValueError(
            f"ns_coeffs must have shape (3,) or (n, 3), got {coeffs.shape}."
        )
    val.check_one_of("preconditioning", preconditioning, _PRECONDITIONINGS)
    dims = MuonDimensionNumbers() if x.ndim == 2 else dimension_numbers
    red, out = _axes(x, dims)
    batch = tuple(a for a in range(x.ndim) if a not in red + out)
    order = batch + red + out
    shape = [x.shape[a] for a in order]
    nb = math.prod(shape[: len(batch)])
    flat = jnp.transpose(x, order).reshape(
        nb, math.prod(x.shape[a] for a in red), math.prod(x.shape[a] for a in out)
    )
    ortho = jax.vmap(
        lambda m: _orthogonalize_matrix(m, coeffs, ns_steps, preconditioning, eps)
    )(flat)
    inverse = sorted(range(x.ndim), key=lambda i: order[i])
    return jnp.transpose(ortho.reshape(shape), inverse)


class MuonState(NamedTuple):
    """State of :func:`scale_by_muon` (optax.contrib's fields).

    Attributes:
      count: int32 number of updates made (saturating).
      mu: momentum (EMA of gradients), dtype ``mu_dtype``.
      ns_coeffs: the Newton-Schulz coefficients in use, ``(3,)`` or ``(n, 3)``.
    """

    count: jax.Array
    mu: Any
    ns_coeffs: jax.Array


def _resolve(dim_nums: Any, updates: Any) -> Any:
    return dim_nums(updates) if callable(dim_nums) else dim_nums


def _map_dims(fn: Callable, tree: Any, dims: Any) -> Any:
    """``fn(leaf, dims)`` per leaf; ``dims`` a tree of dimension numbers or None."""
    if dims is None:
        return jax.tree_util.tree_map(lambda x: fn(x, None), tree)
    return jax.tree_util.tree_map(fn, tree, dims, is_leaf=is_dim_nums)


def scale_by_muon(
    ns_coeffs: tuple = DEFAULT_NS_COEFFS,
    ns_steps: int = 5,
    beta: float = 0.95,
    eps: float = 1e-8,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: Literal["frobenius", "spectral", "aol", "schatten"] = "frobenius",
    weight_dimension_numbers: Any | None = None,
) -> GradientTransformation:
    """Muon's direction: the orthogonalised, debiased momentum of each matrix.

    With ``t`` the number of updates including this one::

        m <- beta * m + (1 - beta) * g
        m_hat = m / (1 - beta**t)        (nesterov: beta * m / (1 - beta**(t+1))
                                          + (1 - beta) * g / (1 - beta**t))
        u = NS(m_hat)                    (orthogonalize_via_newton_schulz)
        adaptive:  u <- <m_hat, u> u     (Bernstein & Newhouse's dual-norm scale)

    Every leaf must be a matrix, or have ``weight_dimension_numbers`` (a
    tree of :class:`MuonDimensionNumbers`, or a callable ``params -> tree``)
    saying which axes form it. Use :func:`lrjax.muon` for the full optimizer
    (Adam on the other leaves, shape scaling, decay). The iteration runs in
    at least float32; the result is cast to the update's dtype.

    Args:
      ns_coeffs: Newton-Schulz coefficients, ``(3,)`` or one row per step.
      ns_steps: number of steps, ``> 0`` (the last ``ns_steps`` rows of a
        2-D ``ns_coeffs`` are used).
      beta: momentum decay, in ``[0, 1)``. Default 0.95.
      eps: keeps the normalisations finite, ``>= 0``. Default 1e-8.
      mu_dtype: dtype of the momentum (default: the parameter's).
      nesterov: Nesterov momentum. Default True.
      adaptive: scale by ``<m_hat, NS(m_hat)>``. Default False.
      preconditioning: see :func:`orthogonalize_via_newton_schulz`.
      weight_dimension_numbers: tree or callable; None: every leaf is 2-D.

    Returns:
      A ``GradientTransformation`` with :class:`MuonState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.scale_by_muon(nesterov=False)
        >>> g = {"w": jnp.array([[0.0, 2.0], [0.5, 0.0]])}  # U V^T = [[0, 1], [1, 0]]
        >>> updates, state = tx.update(g, tx.init(g))
        >>> updates["w"].round(2)  # NS(g): singular values pushed into [0.7, 1.2]
        Array([[0.  , 0.74],
               [0.74, 0.  ]], dtype=float32)
        >>> state.count
        Array(1, dtype=int32)
    """
    val.check_positive_int("ns_steps", ns_steps)
    val.check_in_range("beta", beta, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_dtype("mu_dtype", mu_dtype)
    val.check_type("nesterov", nesterov, bool)
    val.check_type("adaptive", adaptive, bool)
    val.check_one_of("preconditioning", preconditioning, _PRECONDITIONINGS)
    shape = np.shape(ns_coeffs)
    if len(shape) not in (1, 2) or shape[-1] != 3:
        raise ValueError(
            f"ns_coeffs must have shape (3,) or (n, 3), got shape {shape}."
        )
    if len(shape) == 2 and val.is_checkable(ns_steps) and shape[0] > ns_steps:
        raise ValueError(
            f"ns_coeffs has {shape[0]} rows, more than ns_steps={ns_steps} "
            "(optax.contrib rejects that too)."
        )

    def init_fn(params):
        # In the default float (float64 under jax_enable_x64), made at init
        # as optax does, so float64 training iterates with exact coefficients.
        coeffs = jnp.asarray(ns_coeffs, num.float_dtype())
        if coeffs.ndim == 2:
            if not val.is_checkable(ns_steps):
                raise ValueError(
                    "scale_by_muon: with rows of ns_coeffs per step, ns_steps "
                    "sets the state's shape and cannot be traced: make it a "
                    "static argument (optax.inject_hyperparams(static_args=...))."
                )
            coeffs = coeffs[-ns_steps:]
        return MuonState(num.zero_count(), num.tree_buffers(params, mu_dtype), coeffs)

    def update_fn(updates, state, params=None):
        del params
        val.check_tree_structure("scale_by_muon", updates, state.mu)
        dims = _resolve(weight_dimension_numbers, updates)
        count = num.safe_increment(state.count)
        corr = num.bias_correction(beta, count)
        next_corr = num.bias_correction(beta, num.safe_increment(count))

        def moment(g, m):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            m_new = beta * m_new + (1 - beta) * gc
            if nesterov:
                m_hat = beta * m_new * next_corr + (1 - beta) * gc * corr
            else:
                m_hat = m_new * corr
            return m_hat, m_new.astype(m.dtype)

        out = jax.tree_util.tree_map(moment, updates, state.mu)
        m_hat, mu = num.tree_unzip(updates, out, 2)

        def direction(x, d):
            o = orthogonalize_via_newton_schulz(
                x, state.ns_coeffs, ns_steps, preconditioning, eps, d
            )
            if adaptive:
                o = jnp.sum(jnp.conj(x) * o) * o
            return o

        ortho = _map_dims(direction, m_hat, dims)
        new_updates = jax.tree_util.tree_map(
            lambda o, g, m: num.cast(o, num.update_dtype(jnp.asarray(g), m.dtype)),
            ortho,
            updates,
            state.mu,
        )
        return new_updates, MuonState(count, mu, state.ns_coeffs)

    return GradientTransformation(init_fn, update_fn)


def scale_by_shape(
    weight_dimension_numbers: Any | None = None,
    consistent_rms: float | None = None,
) -> GradientTransformation:
    """Scales each matrix's update by a factor of its shape (stateless).

    ``sqrt(max(1, fan_out / fan_in))`` (Keller Jordan's width transfer), or
    with ``consistent_rms`` ``sqrt(max(fan_in, fan_out)) * consistent_rms``
    (Liu et al., 2025: update RMS like AdamW's at ``consistent_rms = 0.2``).

    Args:
      weight_dimension_numbers: as in :func:`scale_by_muon`.
      consistent_rms: ``>= 0`` or None (width transfer). Default None.

    Returns:
      A stateless ``GradientTransformation``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> g = {"w": jnp.ones((2, 8))}  # fan_in 2, fan_out 8
        >>> tx = lrjax.scale_by_shape()
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> print(updates["w"][0, 0])  # sqrt(max(1, 8 / 2))
        2.0
        >>> tx = lrjax.scale_by_shape(consistent_rms=0.2)
        >>> updates, _ = tx.update(g, tx.init(g))
        >>> print(f"{float(updates['w'][0, 0]):.4f}")  # sqrt(8) * 0.2
        0.5657
    """
    if consistent_rms is not None:
        val.check_non_negative("consistent_rms", consistent_rms)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params

        def rescale(u, d):
            fan_in, fan_out = _fans(u, MuonDimensionNumbers() if d is None else d)
            if consistent_rms is None:
                factor = math.sqrt(max(1.0, fan_out / fan_in))
            else:
                factor = math.sqrt(max(fan_in, fan_out)) * consistent_rms
            (uc,) = num.upcast(u)
            return num.keep_weak(num.cast(uc * factor, u.dtype), u)

        dims = _resolve(weight_dimension_numbers, updates)
        return _map_dims(rescale, updates, dims), state

    return GradientTransformation(init_fn, update_fn)
