"""Diagonal-Hessian estimates: Hutchinson's estimator and AdaHessian's scaling.

Both blocks need the curvature of the loss, which a gradient does not carry,
so their ``update`` takes it through optax's extra-args protocol
(``GradientTransformationExtraArgs``): ``loss_fn=`` (a function
``params -> scalar loss``, differentiated here by forward-over-reverse) or
``hvp_fn=`` (a function ``(params, v) -> H v``). ``obj_fn=`` is accepted as
a synonym of ``loss_fn``: it is the keyword optax.contrib's Sophia hands its
``hessian_diagonal_fn``. Other extra arguments are ignored, as the protocol
asks, so the blocks chain with ones that take ``value=``.

The probe vectors are drawn from ``fold_in(key, count)``: the estimate is a
pure function of the key, the step count and the parameters, so a restored
checkpoint continues with the same draws, and a jitted step never retraces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs

__all__ = [
    "HutchinsonDiagonalState",
    "ScaleByAdaHessianState",
    "hutchinson_diagonal",
    "scale_by_adahessian",
]

LossFn = Callable[[Any], Any]
HvpFn = Callable[[Any, Any], Any]


def check_key(name: str, key: Any) -> None:
    """Requires an int seed ``>= 0`` or a PRNG key (typed, or raw uint32[2])."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        val.check_non_negative_int(name, key)
        return
    dtype = getattr(key, "dtype", None)
    shape = jnp.shape(key) if dtype is not None else None
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape == ():
            return
    elif dtype is not None and jnp.dtype(dtype) == jnp.uint32 and shape == (2,):
        return  # a raw key, jax.random.PRNGKey(seed)
    elif dtype is not None and jnp.issubdtype(dtype, jnp.integer) and shape == ():
        # An integer array seed; a traced one (inject_hyperparams) passes.
        if not isinstance(key, jax.core.Tracer):
            val.check_non_negative_int(name, np.asarray(key).item())
        return
    raise TypeError(
        f"{name} must be an integer seed >= 0 or a single PRNG key "
        "(jax.random.key(seed), or jax.random.PRNGKey(seed)), got "
        f"{key!r} of type {type(key).__name__}."
    )


def _as_key(key: Any) -> jax.Array:
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    if jnp.issubdtype(key.dtype, jnp.integer) and jnp.ndim(key) == 0:
        return jax.random.key(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(key)


def _check_real(params: Any, where: str) -> None:
    num.check_optimizable(params, where)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if jnp.issubdtype(jnp.result_type(leaf), jnp.complexfloating):
            raise TypeError(
                f"{where}: the parameter at {jax.tree_util.keystr(path) or 'the root'}"
                " is complex. A diagonal Hessian of a real loss in complex "
                "parameters is not defined by Hutchinson's estimator: optimize "
                "the real and imaginary parts as separate real parameters."
            )


def _hvp(params: Any, loss_fn: Any, hvp_fn: Any, obj_fn: Any, where: str) -> HvpFn:
    """The Hessian-vector product given through the extra arguments."""
    if params is None:
        raise ValueError(f"{where}: update needs params (the point of the Hessian).")
    if obj_fn is not None:
        if loss_fn is not None:
            raise ValueError(
                f"{where}: give loss_fn or obj_fn (its synonym), not both."
            )
        loss_fn = obj_fn
    if (loss_fn is None) == (hvp_fn is None):
        got = "both" if loss_fn is not None else "neither"
        raise ValueError(
            f"{where}: update needs exactly one of loss_fn= (params -> scalar "
            f"loss) or hvp_fn= ((params, v) -> H v) as a keyword; got {got}. "
            "Call opt.update(grads, state, params, loss_fn=lambda p: "
            "loss(p, batch))."
        )
    if hvp_fn is not None:
        if not callable(hvp_fn):
            raise TypeError(f"{where}: hvp_fn must be callable, got {hvp_fn!r}.")
        return hvp_fn
    if not callable(loss_fn):
        raise TypeError(f"{where}: loss_fn must be callable, got {loss_fn!r}.")
    # Forward-over-reverse: one jvp of the gradient, about the cost of two
    # backward passes, and no Hessian is formed.
    return lambda p, v: jax.jvp(jax.grad(loss_fn), (p,), (v,))[1]


def hutchinson_estimate(
    key: jax.Array, params: Any, hvp: HvpFn, num_samples: int
) -> Any:
    """``mean_s z_s * (H z_s)`` over ``num_samples`` Rademacher ``z_s``, float32+.

    Every leaf gets its own probe from ``key``; sample ``s`` uses
    ``fold_in(key, s)``. The probes have the parameters' dtypes (a jvp tangent
    must); the products are taken in :func:`lrjax._numerics.compute_dtype`.
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)

    def one(sample_key):
        keys = jax.random.split(sample_key, len(leaves))
        z = [
            jax.random.rademacher(k, jnp.shape(p), jnp.result_type(p))
            for k, p in zip(keys, leaves, strict=True)
        ]
        hz = treedef.flatten_up_to(hvp(params, treedef.unflatten(z)))
        return [jnp.multiply(*num.upcast(a, b)) for a, b in zip(z, hz, strict=True)]

    if num_samples == 1:
        total = one(jax.random.fold_in(key, 0))
    else:

        def body(s, acc):
            new = one(jax.random.fold_in(key, s))
            return [a + b for a, b in zip(acc, new, strict=True)]

        first = one(jax.random.fold_in(key, 0))
        total = jax.lax.fori_loop(1, num_samples, body, first)
        total = [t / num_samples for t in total]
    return treedef.unflatten(total)


class HutchinsonDiagonalState(NamedTuple):
    """State of :func:`hutchinson_diagonal`.

    Attributes:
      count: int32 number of estimates made (saturating); the probes of an
        update are drawn from ``fold_in(key, count)``.
    """

    count: jax.Array


def hutchinson_diagonal(
    key: jax.Array | int = 0, num_samples: int = 1
) -> GradientTransformationExtraArgs:
    """Hutchinson's estimate of the Hessian diagonal, as the block's output.

    Bekas, Kokiopoulou & Saad, 2007, "An estimator for the diagonal of a
    matrix": for Rademacher ``z`` (entries +-1 with probability 1/2),
    ``E[z * (H z)] = diag(H)`` because ``E[z z^T] = I``::

        D = (1 / n) * sum_{s=1..n} z_s * (H z_s),   z_s ~ Rademacher

    The estimate is unbiased; its variance per element is
    ``sum_{j != i} H_ij**2 / n`` (exact for a diagonal ``H``). ``H`` is the
    Hessian of the loss at ``params``.

    The incoming ``updates`` (the gradients) are replaced by ``D``, in their
    dtypes: use the block where a Hessian diagonal is wanted as updates (a
    preconditioner, ``hessian_diagonal_fn`` of a Sophia-style method,
    monitoring). :func:`scale_by_adahessian` draws its estimates the same way.

    Calling convention (extra-args protocol)::

        D, state = est.update(grads, state, params, loss_fn=lambda p: loss(p, batch))
        D, state = est.update(grads, state, params, hvp_fn=my_hvp)  # (params, v) -> H v

    ``loss_fn`` is differentiated by ``jax.jvp(jax.grad(loss_fn), (params,),
    (z,))``; ``hvp_fn`` replaces that (a Gauss-Newton product, a model-parallel
    product). ``obj_fn`` is a synonym of ``loss_fn`` (optax.contrib's name).
    Exactly one is required; other extra keywords are ignored.

    Args:
      key: PRNG key (``jax.random.key``/``PRNGKey``) or an integer seed
        ``>= 0``. The probes of update ``t`` (from 0) come from
        ``fold_in(key, t)``. Default 0.
      num_samples: probes averaged per estimate, an integer ``> 0``; the error
        falls like ``1 / sqrt(num_samples)``, the cost grows linearly.
        Default 1.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`HutchinsonDiagonalState`.
    """
    check_key("key", key)
    val.check_positive_int("num_samples", num_samples)
    base_key = _as_key(key)

    def init_fn(params):
        _check_real(params, "hutchinson_diagonal init")
        return HutchinsonDiagonalState(num.zero_count())

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
        hvp = _hvp(params, loss_fn, hvp_fn, obj_fn, "hutchinson_diagonal")
        val.check_tree_structure("hutchinson_diagonal", updates, params)
        step_key = jax.random.fold_in(base_key, state.count)
        est = hutchinson_estimate(step_key, params, hvp, num_samples)

        def out(d, g, p):
            g = jnp.asarray(g)
            return num.cast(d, num.update_dtype(g, jnp.result_type(p)))

        est = jax.tree_util.tree_map(out, est, updates, params)
        return est, HutchinsonDiagonalState(num.safe_increment(state.count))

    return GradientTransformationExtraArgs(init_fn, update_fn)


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
    mu_dtype: Any | None = None,
    *,
    key: jax.Array | int = 0,
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
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("eps", eps)
    val.check_in_range("hessian_power", hessian_power, 0.0, 1.0)
    val.check_positive_int("spatial_average_size", spatial_average_size)
    val.check_dtype("mu_dtype", mu_dtype)
    check_key("key", key)
    val.check_positive_int("num_samples", num_samples)
    base_key = _as_key(key)

    def init_fn(params):
        _check_real(params, "scale_by_adahessian init")
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
        hvp = _hvp(params, loss_fn, hvp_fn, obj_fn, "scale_by_adahessian")
        val.check_tree_structure("scale_by_adahessian", updates, state.mu)
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
