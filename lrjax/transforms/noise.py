"""Annealed Gaussian gradient noise (Neelakantan et al., 2015)."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation

__all__ = ["AddNoiseState", "add_noise"]


class AddNoiseState(NamedTuple):
    """State of :func:`add_noise` (optax's fields, in optax's order).

    Attributes:
      count: int32 number of updates made (saturating).
      rng_key: the key the next step's noise is split from, as its raw
        ``uint32`` data (``jax.random.key_data``): plain arrays checkpoint,
        replicate and pass tree-wide checks (``isfinite``) as every other
        state leaf does.
    """

    count: jax.Array
    rng_key: jax.Array


def _as_key(key: Any, name: str) -> jax.Array:
    """A typed PRNG key from a typed key, a raw ``uint32[2]`` key or an int."""
    if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(
        key, (bool, np.bool_)
    ):
        return jax.random.key(int(key))
    if isinstance(key, (jax.Array, np.ndarray)):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            return key
        if key.dtype == np.uint32 and key.shape == (2,):
            return jax.random.wrap_key_data(jnp.asarray(key))
        if key.shape == () and jnp.issubdtype(key.dtype, jnp.integer):
            return jax.random.key(key)
    raise TypeError(
        f"{name} must be a JAX PRNG key (jax.random.key or PRNGKey) or an "
        f"integer seed, got {key!r}."
    )


def noise_key(key: Any, seed: Any) -> jax.Array:
    """The key of :func:`add_noise` from its ``key`` and ``seed`` arguments."""
    if seed is None:
        return _as_key(0 if key is None else key, "key")
    from_seed = _as_key(seed, "seed")
    if key is not None:
        raise ValueError(
            f"give key or seed, not both: got key={key!r} and seed={seed!r}."
        )
    return from_seed


def add_noise(
    eta: ArrayLike,
    gamma: ArrayLike,
    key: ArrayLike | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformation:
    """Adds annealed Gaussian noise to the updates.

    Neelakantan et al., 2015, "Adding Gradient Noise Improves Learning for
    Very Deep Networks". At the ``t``-th update (``t = 0, 1, ...``)::

        u = g + sigma_t * n,   n ~ N(0, I),   sigma_t**2 = eta / (1 + t)**gamma

    The paper uses ``gamma = 0.55`` and ``eta`` in ``{0.01, 0.3, 1.0}``. A
    complex element gets complex noise of the same variance, split equally
    between its real and imaginary parts.

    The noise is a pure function of ``key`` and the step, drawn as optax
    draws it (the same numbers for float32 and complex parameters): each
    update splits the state's key into the next one and a sample key, the
    sample key is split into one key per leaf (in tree order), and each leaf
    draws ``jax.random.normal`` of its shape. Half-precision leaves draw in
    float32 and round the noisy update once (optax draws in the leaf's
    dtype).

    Args:
      eta: the initial noise variance, ``>= 0``. Required.
      gamma: the decay exponent of the variance, ``>= 0``. Required.
      key: a JAX PRNG key (typed, or a raw ``uint32[2]``) or an integer seed.
        Default None, which is seed 0 (as optax's default).
      seed: optax's deprecated spelling of an integer ``key``; give one of
        ``key`` and ``seed``.

    Returns:
      A ``GradientTransformation`` with :class:`AddNoiseState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.add_noise(eta=0.01, gamma=0.55, key=0)
        >>> g = {"w": jnp.zeros(10_000)}
        >>> state = tx.init(g)
        >>> updates, state = tx.update(g, state)
        >>> print(f"{float(jnp.std(updates['w'])):.2f}")  # sqrt(eta / 1**gamma) = 0.1
        0.10
        >>> updates, state = tx.update(g, state)
        >>> print(f"{float(jnp.std(updates['w'])):.3f}")  # sqrt(0.01 / 2**0.55)
        0.083
        >>> print(state.count)
        2
    """
    val.check_non_negative("eta", eta)
    val.check_non_negative("gamma", gamma)
    rng_key = noise_key(key, seed)
    impl = jax.random.key_impl(rng_key)

    def init_fn(params):
        del params
        return AddNoiseState(num.zero_count(), jax.random.key_data(rng_key))

    def update_fn(updates, state, params=None):
        del params
        count = num.safe_increment(state.count)
        dtype = num.float_dtype()
        variance = jnp.asarray(eta, dtype) / jnp.asarray(count, dtype) ** gamma
        std = jnp.sqrt(variance)
        typed = jax.random.wrap_key_data(state.rng_key, impl=impl)
        next_key, sample_key = jax.random.split(typed)
        leaves, treedef = jax.tree_util.tree_flatten(updates)
        leaf_keys = jax.random.split(sample_key, len(leaves))

        def noisy(g, leaf_key):
            g = jnp.asarray(g)
            draw_dtype = num.compute_dtype(g.dtype)
            n = jax.random.normal(leaf_key, g.shape, draw_dtype)
            gc, n, s = num.upcast(g, n, std)
            out = (gc + s * n).astype(g.dtype)
            return num.keep_weak(out, g)

        out = [noisy(g, k) for g, k in zip(leaves, leaf_keys, strict=True)]
        return treedef.unflatten(out), AddNoiseState(
            count, jax.random.key_data(next_key)
        )

    return GradientTransformation(init_fn, update_fn)
