"""AdaHessian's scaling (Yao et al., AAAI 2021): Adam on a Hessian diagonal."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs
from lrjax.transforms.hessian import (
    REAL_ONLY_HINT,
    as_key,
    check_key,
    hutchinson_estimate,
    resolve_hvp,
    static_int,
)

__all__ = [
    "ScaleByAdaHessianState",
    "scale_by_adahessian",
    "spatial_average",
]


def _window(shape: tuple[int, ...]) -> int:
    return math.prod(shape[:-2])


def check_spatial_blocks(params: Any, size: int, where: str) -> None:
    """Every kernel window (ndim >= 3) must split into blocks of ``size``."""
    if size == 1:
        return
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        shape = jnp.shape(leaf)
        if len(shape) >= 3 and _window(shape) % size:
            raise ValueError(
                f"{where}: spatial_average_size={size} does not divide the kernel "
                f"window of the parameter at {jax.tree_util.keystr(path)} (shape "
                f"{shape}: window {shape[:-2]} of {_window(shape)} elements). "
                "Use a divisor of the window, or 1 for no averaging."
            )


def spatial_average(d: jax.Array, size: int) -> jax.Array:
    """AdaHessian's spatial averaging of ``|d|`` over kernel windows.

    For a leaf of ndim >= 3, taken as a convolution kernel in JAX's layout
    (window axes first, then input and output features: Flax's ``HWIO``), the
    window positions of each (input, output) pair are split, in row-major
    order, into blocks of ``size`` consecutive positions, and every element
    gets its block's mean of ``|d|``. Leaves of ndim <= 2 and ``size == 1``:
    ``d`` unchanged (its sign is irrelevant: only ``d**2`` is used).
    """
    shape = d.shape
    if size == 1 or d.ndim < 3:
        return d
    w = _window(shape)
    blocks = jnp.abs(d).reshape(w // size, size, -1)
    mean = jnp.mean(blocks, axis=1, keepdims=True)
    return jnp.broadcast_to(mean, blocks.shape).reshape(shape)


class ScaleByAdaHessianState(NamedTuple):
    """State of :func:`scale_by_adahessian`.

    Attributes:
      count: int32 number of updates made (saturating); the probes of an
        update are drawn from ``fold_in(key, count)``.
      mu: EMA of the gradients, dtype ``mu_dtype``.
      nu: EMA of the squared (spatially averaged) Hessian-diagonal estimates,
        in the parameter's dtype.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_adahessian(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-4,
    hessian_power: float = 1.0,
    spatial_average_size: int = 1,
    mu_dtype: DTypeLike | None = None,
    *,
    key: ArrayLike = 0,
    num_samples: int = 1,
) -> GradientTransformationExtraArgs:
    """AdaHessian's direction (Yao et al., AAAI 2021).

    With ``t`` the number of updates including this one, ``D`` the Hutchinson
    estimate of the Hessian diagonal (:func:`hutchinson_diagonal`, probes from
    ``fold_in(key, t - 1)``) and ``D_s`` its spatial average::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * D_s**2
        u = (m / (1 - b1**t)) / ((v / (1 - b2**t))**(hessian_power / 2) + eps)

    Conventions (the paper's Algorithm 1 and the authors' PyTorch code,
    github.com/amirgholami/adahessian): ``eps`` is outside the power; leaves
    of ndim <= 2 are not averaged; for kernels (ndim >= 3) ``D_s`` is the
    block mean of ``|D|`` (the authors' code takes the modulus before the
    mean; with ``spatial_average_size`` equal to the window, e.g. 9 for a 3x3
    kernel, it is their full-window average). See :func:`spatial_average` for
    the layout (JAX's window-first ``HWIO``, where PyTorch is ``OIHW``).

    The update needs ``loss_fn=`` or ``hvp_fn=`` (see
    :func:`hutchinson_diagonal`). Complex parameters are rejected at init.

    Args:
      b1: gradient-moment decay, in ``[0, 1)``. Default 0.9.
      b2: Hessian-moment decay, in ``[0, 1)``. Default 0.999.
      eps: added to the denominator outside the power, ``>= 0``. Default 1e-4.
      hessian_power: ``k`` in ``[0, 1]``; 1 is the paper's default, 0 gives
        momentum SGD. Default 1.
      spatial_average_size: block size of the spatial average over kernel
        windows, an integer ``> 0`` dividing every window; 1 (no averaging)
        by default.
      mu_dtype: dtype of ``m`` (default: the parameter's).
      key: PRNG key or integer seed ``>= 0`` of the probes. Default 0.
      num_samples: Hutchinson probes per step, an integer ``> 0``. Default 1.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`ScaleByAdaHessianState`.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> def loss(params):  # Hessian diag([1, 4]): Hutchinson's estimate is exact
        ...     return 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * params["w"] ** 2)
        >>> tx = lrjax.scale_by_adahessian()
        >>> params = {"w": jnp.array([1.0, 1.0])}
        >>> state = tx.init(params)
        >>> grads = jax.grad(loss)(params)
        >>> updates, state = tx.update(grads, state, params, loss_fn=loss)
        >>> # step 1: g / (|D| + eps) = H^-1 g = w, Newton's direction
        >>> [round(float(u), 3) for u in updates["w"]]
        [1.0, 1.0]
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_in_range("hessian_power", hessian_power, 0.0, 1.0)
    val.check_positive_int("spatial_average_size", spatial_average_size)
    val.check_dtype("mu_dtype", mu_dtype)
    check_key("key", key)
    val.check_positive_int("num_samples", num_samples)
    spatial_average_size = static_int("spatial_average_size", spatial_average_size)
    num_samples = static_int("num_samples", num_samples)
    base_key = as_key(key)

    def init_fn(params):
        num.check_optimizable(params, "scale_by_adahessian init")
        val.check_real("scale_by_adahessian init", params, hint=REAL_ONLY_HINT)
        check_spatial_blocks(params, spatial_average_size, "scale_by_adahessian")
        return ScaleByAdaHessianState(
            num.zero_count(),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, holds_real=True),
        )

    def update_fn(
        updates,
        state,
        params=None,
        *,
        loss_fn=None,
        hvp_fn=None,
        obj_fn=None,
        **extra_args,
    ):
        del extra_args
        # Shapes first: a wrong gradient is the likelier mistake.
        val.check_tree_structure("scale_by_adahessian", updates, state.mu)
        hvp = resolve_hvp(params, loss_fn, hvp_fn, obj_fn, "scale_by_adahessian")
        est = hutchinson_estimate(
            jax.random.fold_in(base_key, state.count), params, hvp, num_samples
        )
        count = num.safe_increment(state.count)
        mu_corr = num.bias_correction(b1, count)
        nu_corr = num.bias_correction(b2, count)

        def step(g, m, v, d):
            g = jnp.asarray(g)
            gc, m_new, v_new, d = num.upcast(g, m, v, d)
            d = spatial_average(d, spatial_average_size)
            m_new = b1 * m_new + (1 - b1) * gc
            v_new = b2 * v_new + (1 - b2) * num.abs_sq(d)
            denom = (v_new * nu_corr) ** (hessian_power / 2) + eps
            u = m_new * mu_corr / denom
            out = num.cast(u, num.update_dtype(g, m.dtype))
            return out, m_new.astype(m.dtype), v_new.astype(v.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu, est)
        updates, mu, nu = num.tree_unzip(updates, out, 3)
        return updates, ScaleByAdaHessianState(count, mu, nu)

    return GradientTransformationExtraArgs(init_fn, update_fn)
