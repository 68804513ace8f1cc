"""Muon: Newton-Schulz-orthogonalised momentum for matrices, AdamW elsewhere."""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax
from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.adam import scale_by_adam
from lrjax.transforms.muon import (
    DEFAULT_NS_COEFFS,
    MuonDimensionNumbers,
    is_dim_nums,
    scale_by_muon,
    scale_by_shape,
)
from lrjax.transforms.scaling import scale_by_learning_rate
from lrjax.transforms.weight_decay import add_decayed_weights

__all__ = ["muon"]

# Named coefficient sets (optax.contrib's presets): Keller Jordan's, and the
# five per-step rows of Ahn et al., 2025, "Dion".
NS_COEFFS_PRESETS = {
    "standard": DEFAULT_NS_COEFFS,
    "dion": (
        (4.0848, -6.8946, 2.9270),
        (3.9505, -6.3029, 2.6377),
        (3.7418, -5.5913, 2.3037),
        (2.8769, -3.1427, 1.2046),
        (2.8366, -3.0525, 1.2012),
    ),
}


def _is_spec_leaf(x: Any) -> bool:
    return x is None or is_dim_nums(x) or isinstance(x, optax.MaskedNode)


@checks_state
def muon(
    learning_rate: ScalarOrSchedule,
    ns_coeffs: tuple | str = DEFAULT_NS_COEFFS,
    ns_steps: int = 5,
    beta: float = 0.95,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any | None = None,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: Literal["frobenius", "spectral", "aol", "schatten"] = "frobenius",
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps_root: float = 0.0,
    adam_weight_decay: ScalarOrSchedule = 0.0,
    adam_learning_rate: ScalarOrSchedule | None = None,
    muon_weight_dimension_numbers: Any | None = None,
    consistent_rms: float | None = None,
) -> GradientTransformationExtraArgs:
    """Muon (Jordan et al., 2024), as ``optax.contrib.muon``.

    Matrices (by default every 2-D leaf) follow Muon; every other leaf
    follows AdamW::

        m <- beta * m + (1 - beta) * g                    (Nesterov by default)
        O = NewtonSchulz(m_hat)       ~ U V^T for m_hat = U S V^T
        w <- w - lr * (sqrt(max(1, fan_out / fan_in)) * O + weight_decay * w)

    ``O`` is the nearest semi-orthogonal matrix to the momentum (steepest
    descent under the spectral norm), computed by ``ns_steps`` quintic
    Newton-Schulz steps with ``ns_coeffs`` (a ``(3,)`` tuple, rows per
    step, or a preset name: ``"standard"``, ``"dion"``). With
    ``consistent_rms`` the shape factor is
    ``sqrt(max(fan_in, fan_out)) * consistent_rms`` (Liu et al., 2025;
    0.2 matches AdamW's update RMS). ``muon_weight_dimension_numbers``: a
    tree (or callable ``params -> tree``) of
    :class:`lrjax.MuonDimensionNumbers` for the Muon leaves, ``None`` for
    the AdamW ones; convolution kernels and stacked layers name their
    reduction and output axes there.

    The AdamW branch uses ``adam_b1``, ``adam_b2``, ``eps``,
    ``adam_eps_root``, ``adam_weight_decay``, ``mu_dtype``, ``nesterov`` and
    ``adam_learning_rate`` (default: ``learning_rate``). The leaves are split
    by an ``optax.partition`` over the labels ``"muon"`` and ``"adam"``;
    with one rate it is applied after the partition and
    :func:`lrjax.get_learning_rate` reports it, with ``adam_learning_rate``
    each branch ends in its own rate and it reports
    ``{"adam": rate, "muon": rate}``.
    PyTorch (2.9+) has ``torch.optim.Muon`` for 2-D parameters only; Keras
    has ``keras.optimizers.Muon``.

    Args:
      learning_rate: Muon's rate, a number ``>= 0`` or a schedule. Required.
      ns_coeffs: coefficients, rows per step, or a preset name.
      ns_steps: Newton-Schulz steps, ``> 0``. Default 5.
      beta: momentum decay, in ``[0, 1)``. Default 0.95.
      eps: normalisation guard (and AdamW's eps), ``>= 0``. Default 1e-8.
      weight_decay: Muon leaves' decoupled decay. Default 0.
      weight_decay_mask: mask of the decayed Muon leaves.
      mu_dtype: momentum dtype of both branches.
      nesterov: Nesterov momentum in both branches. Default True.
      adaptive: scale ``O`` by ``<m_hat, O>``. Default False.
      preconditioning: ``"frobenius"``, ``"spectral"``, ``"aol"``,
        ``"schatten"``. Default ``"frobenius"``.
      adam_b1, adam_b2, adam_eps_root, adam_weight_decay: AdamW's.
      adam_learning_rate: AdamW's rate (default: ``learning_rate``).
      muon_weight_dimension_numbers: see above. Default: every 2-D leaf.
      consistent_rms: ``>= 0`` or None. Default None.

    Returns:
      ``chain(optax.partition({"muon": chain(scale_by_muon, scale_by_shape,
      add_decayed_weights), "adam": chain(scale_by_adam,
      add_decayed_weights)}, labels), scale_by_learning_rate)`` (one
      rate per branch with ``adam_learning_rate``); ``update`` checks the
      updates' shapes against ``params`` when given.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.muon(learning_rate=0.1, nesterov=False)
        >>> params = {"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}
        >>> grads = {"w": jnp.diag(jnp.array([2.0, 0.5])), "b": jnp.array([0.5, -3.0])}
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> # w: -lr * NS(g), NS(g) ~ U V^T = I (singular values in [0.7, 1.2])
        >>> s = jnp.linalg.svd(updates["w"] / -0.1, compute_uv=False)
        >>> [round(float(x), 2) for x in s]
        [0.74, 0.74]
        >>> [round(float(u), 4) for u in updates["b"]]  # Adam's -lr * sign(g) at step 1
        [-0.1, 0.1]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    if adam_learning_rate is not None:
        val.check_learning_rate("adam_learning_rate", adam_learning_rate)
    # Checked here so that errors name muon's arguments, not adamw's.
    val.check_in_range("adam_b1", adam_b1, 0.0, 1.0, high_inclusive=False)
    val.check_in_range("adam_b2", adam_b2, 0.0, 1.0, high_inclusive=False)
    val.check_non_negative("adam_eps_root", adam_eps_root)
    val.check_learning_rate("adam_weight_decay", adam_weight_decay)
    if isinstance(ns_coeffs, str):
        val.check_one_of("ns_coeffs", ns_coeffs, tuple(NS_COEFFS_PRESETS))
        ns_coeffs = NS_COEFFS_PRESETS[ns_coeffs]

    def spec_tree(params):
        if muon_weight_dimension_numbers is None:
            return jax.tree_util.tree_map(
                lambda p: MuonDimensionNumbers() if jnp.ndim(p) == 2 else None, params
            )
        specs = muon_weight_dimension_numbers
        specs = specs(params) if callable(specs) else specs
        # A spec (or None) may stand for a whole subtree of params.
        return jax.tree_util.tree_map(
            lambda s, sub: jax.tree_util.tree_map(lambda _: s, sub),
            specs,
            params,
            is_leaf=_is_spec_leaf,
        )

    def labels(params):
        return jax.tree_util.tree_map(
            lambda s: "adam" if s is None else "muon",
            spec_tree(params),
            is_leaf=_is_spec_leaf,
        )

    def muon_dims(updates):
        # The Muon branch sees the params with the Adam leaves masked out
        # (optax.MaskedNode): give it specs of the same structure.
        return jax.tree_util.tree_map(
            lambda s: optax.MaskedNode() if s is None else s,
            spec_tree(updates),
            is_leaf=_is_spec_leaf,
        )

    muon_blocks = [
        scale_by_muon(
            ns_coeffs,
            ns_steps,
            beta,
            eps,
            mu_dtype,
            nesterov=nesterov,
            adaptive=adaptive,
            preconditioning=preconditioning,
            weight_dimension_numbers=muon_dims,
        ),
        scale_by_shape(muon_dims, consistent_rms),
        add_decayed_weights(
            weight_decay, weight_decay_mask, mask_name="weight_decay_mask"
        ),
    ]
    adam_blocks = [
        scale_by_adam(
            adam_b1, adam_b2, eps, adam_eps_root, mu_dtype, nesterov=nesterov
        ),
        add_decayed_weights(adam_weight_decay),
    ]
    if adam_learning_rate is None:
        # One rate for both branches: applied once after the partition, so
        # get_learning_rate reports it as a scalar (same arithmetic as a
        # rate at the end of each branch).
        inner = chain(
            optax.partition(
                {"muon": chain(*muon_blocks), "adam": chain(*adam_blocks)}, labels
            ),
            scale_by_learning_rate(learning_rate),
        )
    else:  # two rates: get_learning_rate reports {"adam": ..., "muon": ...}
        inner = optax.partition(
            {
                "muon": chain(*muon_blocks, scale_by_learning_rate(learning_rate)),
                "adam": chain(*adam_blocks, scale_by_learning_rate(adam_learning_rate)),
            },
            labels,
        )

    def update_fn(updates, state, params=None, **extra_args):
        # The labels come from the updates' shapes: check them against the
        # params first, so a wrongly shaped gradient is named, not mislabelled.
        if params is not None:
            val.check_params("muon", updates, params)
        return inner.update(updates, state, params, **extra_args)

    return GradientTransformationExtraArgs(inner.init, update_fn)
