"""Sophia's block: momentum over a clipped diagonal-Hessian scale (Liu et al., 2023).

The Hessian-diagonal estimator is a transformation argument with
optax.contrib's semantics: ``update(updates, state, params, obj_fn=...)``
returns an estimate of ``diag(H)`` shaped like ``params``. The default is
Hutchinson's estimator on the probes of :mod:`lrjax.transforms.hessian`, with
optax.contrib's key sequence (one probe per update, keys split from the
state's key) rather than :func:`~lrjax.transforms.hessian.hutchinson_diagonal`'s
(``fold_in`` per sample), so that the two libraries draw the same probes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import DTypeLike

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformation, GradientTransformationExtraArgs
from lrjax.transforms.hessian import rademacher_probes, resolve_hvp

__all__ = ["SophiaState", "scale_by_sophia"]


class HutchinsonState(NamedTuple):
    """State of the Hutchinson estimator: the PRNG key of the next probe."""

    key: jax.Array


def _hutchinson_diagonal(
    random_seed: jax.Array | None = None,
) -> GradientTransformationExtraArgs:
    """Hutchinson's unbiased estimate of ``diag(H)``: ``z * (H z)``.

    One Rademacher probe ``z`` (entries +-1) per update; ``H z`` is a
    Hessian-vector product of ``obj_fn`` (forward over reverse mode). Its
    key sequence and probes are optax.contrib's
    ``hutchinson_estimator_diag_hessian`` (default key ``PRNGKey(0)``), so
    the two estimators give the same estimates (and lrjax's also works on
    trees that mix bf16 and float32 leaves).
    """

    def init_fn(params):
        del params
        return HutchinsonState(
            jax.random.PRNGKey(0) if random_seed is None else random_seed
        )

    def update_fn(updates, state, params=None, obj_fn=None, **extra_args):
        del updates, extra_args
        if params is None:
            raise ValueError("sophia's Hessian estimator needs params.")
        if obj_fn is None:
            raise ValueError(
                "sophia's Hessian estimator needs the loss: call "
                "update(grads, state, params, obj_fn=loss_of_params)."
            )
        key, probe_key = jax.random.split(state.key)
        # Each probe takes its leaf's dtype (optax casts all to the narrowest
        # one, which jvp rejects for trees mixing bf16 and float32 leaves).
        probes = rademacher_probes(probe_key, params)
        hz = resolve_hvp(params, obj_fn, None, None, "sophia")(params, probes)
        return jax.tree_util.tree_map(jnp.multiply, hz, probes), HutchinsonState(key)

    return GradientTransformationExtraArgs(init_fn, update_fn)


class SophiaState(NamedTuple):
    """State of :func:`scale_by_sophia` (optax.contrib's fields).

    Attributes:
      count: int32 number of updates made (saturating).
      mu: momentum (EMA of gradients), dtype ``mu_dtype``.
      nu: EMA of the Hessian-diagonal estimates (real).
      hessian_fn_state: the estimator's state.
    """

    count: jax.Array
    mu: Any
    nu: Any
    hessian_fn_state: Any


def scale_by_sophia(
    b1: float = 0.965,
    b2: float = 0.99,
    eps: float = 1e-8,
    gamma: float = 0.01,
    clip_threshold: float | None = 1.0,
    update_interval: int = 10,
    hessian_diagonal_fn: GradientTransformation | None = None,
    mu_dtype: DTypeLike | None = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
) -> GradientTransformationExtraArgs:
    """Sophia's direction: debiased momentum over ``gamma * h``, clipped.

    Liu et al., 2023, "Sophia: A Scalable Stochastic Second-order Optimizer
    for Language Model Pre-training" (Sophia-H). With ``t`` the number of
    updates including this one and ``h`` the EMA of Hessian-diagonal
    estimates made so far::

        m <- b1 * m + (1 - b1) * g
        u = clip(m / (1 - b1**t) / max(gamma * h, eps), -clip_threshold, clip_threshold)
        every update_interval updates (t - 1 = 0, k, 2k, ...), after u:
            h <- b2 * h + (1 - b2) * hessian_diagonal_fn(params, obj_fn)

    Coordinates with a flat or negative curvature estimate move by at most
    ``clip_threshold`` (a sign step); the "win rate" is the fraction not
    clipped (the authors advise 0.1-0.5; raise ``gamma`` if lower). Since
    ``h`` starts at 0, the first steps until ``h`` is populated are clipped.

    The loss reaches the estimator through ``update``'s extra arguments::

        def train_step(params, state, batch):
            loss_fn = lambda p: loss(p, batch)
            grads = jax.grad(loss_fn)(params)
            updates, state = opt.update(grads, state, params, obj_fn=loss_fn)
            return optax.apply_updates(params, updates), state

    ``hessian_diagonal_fn`` may be any transformation with optax's
    estimator semantics (``update(updates, state, params, obj_fn=...)``
    returns ``diag(H)``), optax.contrib's ``hutchinson_estimator_diag_hessian``
    included; the default is a Hutchinson estimator with key
    ``PRNGKey(0)`` and optax's probes. Across devices it must average its
    estimate itself. For complex parameters ``h`` keeps the real part of the
    estimates and the clip bounds the modulus (optax.contrib's clip
    rejects complex values). Arithmetic runs in at least float32.

    Args:
      b1: momentum decay, in ``[0, 1)``. Default 0.965.
      b2: Hessian-EMA decay per estimate, in ``[0, 1)``. Default 0.99 (about
        0.999 per step with ``update_interval=10``).
      eps: lower bound of the denominator, ``> 0``. Default 1e-8.
      gamma: scale of the Hessian in the denominator, ``>= 0``. Default 0.01.
      clip_threshold: bound of each update coordinate, ``> 0``, or None (no
        clip). Default 1.
      update_interval: estimate the Hessian every this many updates, an
        integer ``> 0``. Default 10.
      hessian_diagonal_fn: the estimator (default: Hutchinson's).
      mu_dtype: dtype of ``m`` (default: the parameter's).
      verbose: print the win rate every ``print_win_rate_every_n_steps``.
      print_win_rate_every_n_steps: an integer ``>= 0`` (``> 0`` with
        ``verbose``). Default 0.

    Returns:
      A ``GradientTransformationExtraArgs`` with :class:`SophiaState`.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> def loss(params):  # Hessian diag([1, 4]): Hutchinson's estimate is exact
        ...     return 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * params["w"] ** 2)
        >>> tx = lrjax.scale_by_sophia(gamma=1.0)
        >>> params = {"w": jnp.array([1.0, 1.0])}
        >>> state = tx.init(params)
        >>> grads = jax.grad(loss)(params)
        >>> updates, state = tx.update(grads, state, params, obj_fn=loss)
        >>> updates["w"]  # h = 0 so far: every coordinate clipped to +-1
        Array([1., 1.], dtype=float32)
        >>> state.nu["w"]  # then h <- 0.99 * 0 + 0.01 * diag(H)
        Array([0.01, 0.04], dtype=float32)
    """
    val.check_in_range("b1", b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("b2", b2, 0.0, 1.0, high_inclusive=False)
    val.check_positive("eps", eps)
    val.check_non_negative("gamma", gamma)
    if clip_threshold is not None:
        val.check_positive("clip_threshold", clip_threshold)
    val.check_positive_int("update_interval", update_interval)
    val.check_dtype("mu_dtype", mu_dtype)
    val.check_type("verbose", verbose, bool)
    val.check_non_negative_int(
        "print_win_rate_every_n_steps", print_win_rate_every_n_steps
    )
    if verbose:
        val.check_positive_int(
            "print_win_rate_every_n_steps", print_win_rate_every_n_steps
        )
    if hessian_diagonal_fn is None:
        hessian_diagonal_fn = _hutchinson_diagonal()
    elif not isinstance(hessian_diagonal_fn, GradientTransformation):
        raise TypeError(
            "hessian_diagonal_fn must be a GradientTransformation estimating "
            f"the Hessian diagonal, got {hessian_diagonal_fn!r}."
        )
    estimator = optax.with_extra_args_support(hessian_diagonal_fn)

    def init_fn(params):
        return SophiaState(
            num.zero_count(),
            num.tree_buffers(params, mu_dtype),
            num.tree_buffers(params, holds_real=True),
            estimator.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        val.check_params("scale_by_sophia", updates, params)
        val.check_tree_structure("scale_by_sophia", updates, state.mu)
        grads = updates
        count = num.safe_increment(state.count)
        corr = num.bias_correction(b1, count)

        def step(g, m, h):
            g = jnp.asarray(g)
            gc, m_new = num.upcast(g, m)
            (hc,) = num.upcast(num.real_part(h))
            m_new = b1 * m_new + (1 - b1) * gc
            u = m_new * corr / jnp.maximum(gamma * hc, eps)
            return u, m_new.astype(m.dtype)

        out = jax.tree_util.tree_map(step, updates, state.mu, state.nu)
        raw, mu = num.tree_unzip(updates, out, 2)
        if clip_threshold is not None:
            if verbose:
                kept = sum(
                    jnp.sum(jnp.abs(u) < clip_threshold)
                    for u in jax.tree_util.tree_leaves(raw)
                )
                rate = kept / max(1, optax.tree.size(raw))
                jax.lax.cond(
                    count % print_win_rate_every_n_steps == 0,
                    lambda: jax.debug.print("Sophia win rate: {}", rate),
                    lambda: None,
                )
            raw = jax.tree_util.tree_map(
                lambda u: num.clip_modulus(u, clip_threshold), raw
            )
        new_updates = jax.tree_util.tree_map(
            lambda u, g, m: num.cast(u, num.update_dtype(jnp.asarray(g), m.dtype)),
            raw,
            updates,
            state.mu,
        )

        def refresh(est_state, nu):
            diag, est_state = estimator.update(grads, est_state, params, **extra_args)

            def ema(h, d):
                hc, dc = num.upcast(num.real_part(h), num.real_part(jnp.asarray(d)))
                return (b2 * hc + (1 - b2) * dc).astype(h.dtype)

            return est_state, jax.tree_util.tree_map(ema, nu, diag)

        est_state, nu = jax.lax.cond(
            state.count % update_interval == 0,
            refresh,
            lambda e, n: (e, n),
            state.hessian_fn_state,
            state.nu,
        )
        return new_updates, SophiaState(count, mu, nu, est_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)
