"""Hutchinson's diagonal-Hessian estimator and its extra-args protocol.

The estimator (and :func:`lrjax.scale_by_adahessian`, which draws its
estimates with it) needs the curvature of the loss, which a gradient does
not carry, so an ``update`` takes it through optax's extra-args protocol
(``GradientTransformationExtraArgs``): ``loss_fn=`` (a function
``params -> scalar loss``, differentiated here by forward-over-reverse) or
``hvp_fn=`` (a function ``(params, v) -> H v``). ``obj_fn=`` is accepted as
a synonym of ``loss_fn``: it is the keyword optax.contrib's Sophia hands its
``hessian_diagonal_fn``. Other extra arguments are ignored, as the protocol
asks, so these blocks chain with ones that take ``value=``.

The probe vectors are drawn from ``fold_in(key, count)``: the estimate is a
pure function of the key, the step count and the parameters, so a restored
checkpoint continues with the same draws, and a jitted step never retraces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs

__all__ = [
    "HutchinsonDiagonalState",
    "hutchinson_diagonal",
    "hutchinson_estimate",
    "rademacher_probes",
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


def static_int(name: str, value: Any) -> int:
    """``value`` as a Python int; it sets shapes or loop lengths, so not traced."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{name} sets array shapes and loop lengths, so it must be a "
            "concrete integer, got a traced value; with optax.inject_hyperparams "
            f"name it in static_args=('{name}',)."
        )
    return int(value)


def as_key(key: Any) -> jax.Array:
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    if jnp.issubdtype(key.dtype, jnp.integer) and jnp.ndim(key) == 0:
        return jax.random.key(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(key)


# What val.check_real adds for a complex parameter of a Hessian block.
REAL_ONLY_HINT = (
    "A diagonal Hessian of a real loss in complex parameters is not defined "
    "by Hutchinson's estimator: optimize the real and imaginary parts as "
    "separate real parameters."
)


def resolve_hvp(
    params: Any, loss_fn: Any, hvp_fn: Any, obj_fn: Any, where: str
) -> HvpFn:
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


def rademacher_probes(key: jax.Array, params: Any) -> Any:
    """One Rademacher probe (entries +-1) per leaf, in the leaf's dtype.

    Leaf ``i`` draws from ``split(key, n_leaves)[i]``: optax.contrib's
    Hutchinson estimator draws the same bits (it draws in float32 and casts;
    +-1 is exact in every float dtype, so the probes are equal).
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return treedef.unflatten(
        [
            jax.random.rademacher(k, jnp.shape(p), jnp.result_type(p))
            for k, p in zip(keys, leaves, strict=True)
        ]
    )


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
        probes = rademacher_probes(sample_key, params)
        z = treedef.flatten_up_to(probes)
        hz = treedef.flatten_up_to(hvp(params, probes))
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
    key: ArrayLike = 0, num_samples: int = 1
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

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> def loss(params):
        ...     w = params["w"]
        ...     return 0.5 * (w[0] ** 2 + 4 * w[1] ** 2) + w[0] * w[1]
        >>> est = lrjax.hutchinson_diagonal(key=0, num_samples=1)
        >>> params = {"w": jnp.array([1.0, 1.0])}
        >>> state = est.init(params)
        >>> grads = jax.grad(loss)(params)
        >>> d, state = est.update(grads, state, params, loss_fn=loss)
        >>> d["w"]  # diag(H) = [1, 4], plus z_0 z_1 H_01 = +-1 from one probe
        Array([2., 5.], dtype=float32)
        >>> est = lrjax.hutchinson_diagonal(num_samples=1000)
        >>> d, _ = est.update(grads, est.init(params), params, loss_fn=loss)
        >>> [round(float(x), 1) for x in d["w"]]  # the error falls as 1 / sqrt(n)
        [1.0, 4.0]
    """
    check_key("key", key)
    val.check_positive_int("num_samples", num_samples)
    num_samples = static_int("num_samples", num_samples)
    base_key = as_key(key)

    def init_fn(params):
        num.check_optimizable(params, "hutchinson_diagonal init")
        val.check_real("hutchinson_diagonal init", params, hint=REAL_ONLY_HINT)
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
        if params is not None:
            val.check_tree_structure("hutchinson_diagonal", updates, params)
        hvp = resolve_hvp(params, loss_fn, hvp_fn, obj_fn, "hutchinson_diagonal")
        step_key = jax.random.fold_in(base_key, state.count)
        est = hutchinson_estimate(step_key, params, hvp, num_samples)

        def out(d, g, p):
            g = jnp.asarray(g)
            return num.cast(d, num.update_dtype(g, jnp.result_type(p)))

        est = jax.tree_util.tree_map(out, est, updates, params)
        return est, HutchinsonDiagonalState(num.safe_increment(state.count))

    return GradientTransformationExtraArgs(init_fn, update_fn)
