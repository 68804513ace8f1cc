"""Per-example gradient clipping, for differentially private SGD.

These are functions on a batch of per-example gradients (every leaf with the
batch on axis 0, e.g. from ``jax.vmap(jax.grad(loss), (None, 0))``), as in
optax, not gradient transformations: each returns the *sum* of the clipped
per-example gradients (to be noised and divided by the batch size by the
caller) and how many examples were clipped.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _numerics as num
from lrjax import _validation as val

__all__ = ["per_example_global_norm_clip", "per_example_layer_norm_clip"]


def _check_batched(name: str, grads: Any) -> int:
    leaves = jax.tree_util.tree_leaves(grads)
    if not leaves:
        raise ValueError(f"{name}: grads has no leaves.")
    shapes = [jnp.shape(x) for x in leaves]
    batch = shapes[0][0] if shapes[0] else None
    if batch is None or any(not s or s[0] != batch for s in shapes):
        raise ValueError(
            f"{name} expects every leaf of grads to have the batch on axis 0 "
            f"(the same length everywhere); got shapes "
            f"{jax.tree_util.tree_map(jnp.shape, grads)}."
        )
    return batch


def _clip_and_sum(leaves: list, clip_norm: Any) -> tuple[list, jax.Array]:
    """Clips each example of ``leaves`` (together) to ``clip_norm``; sums."""
    sq = sum(
        jnp.sum(num.abs_sq(num.upcast(x)[0]), axis=tuple(range(1, x.ndim)))
        for x in leaves
    )
    norms = jnp.sqrt(sq)
    # A zero-norm example (0 / 0 with clip_norm = 0) is kept as it is.
    safe = jnp.where(norms > 0, norms, 1.0)
    factors = jnp.where(norms > 0, jnp.minimum(clip_norm / safe, 1.0), 1.0)
    clipped = jnp.sum(factors < 1.0).astype(jnp.int32)
    sums = []
    for x in leaves:
        xc, f = num.upcast(x, factors)
        sums.append(jnp.tensordot(f, xc, axes=1).astype(x.dtype))
    return sums, clipped


def per_example_global_norm_clip(
    grads: Any, l2_norm_clip: ArrayLike
) -> tuple[Any, jax.Array]:
    """Clips each example's gradient to global norm ``C``, then sums them.

    Abadi et al., 2016, "Deep Learning with Differential Privacy" (DP-SGD):
    for examples ``i`` of the batch, with ``||g_i||`` the L2 norm of example
    ``i``'s gradient over all leaves together::

        sum_i g_i * min(1, C / ||g_i||)

    Norms are moduli for complex leaves, computed in at least float32; an
    example of norm 0 is left as it is.

    Args:
      grads: a tree of per-example gradients, each leaf with the batch on
        axis 0.
      l2_norm_clip: ``C``, ``>= 0``.

    Returns:
      ``(sum, num_clipped)``: the tree of summed clipped gradients (each leaf
      without its batch axis, in its dtype) and the int32 number of examples
      whose norm exceeded ``C``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> grads = {"w": jnp.array([[3.0, 4.0], [0.3, 0.4]])}  # 2 examples
        >>> total, num_clipped = lrjax.per_example_global_norm_clip(grads, 1.0)
        >>> [round(float(x), 4) for x in total["w"]]  # [3, 4] / 5 + [0.3, 0.4]
        [0.9, 1.2]
        >>> int(num_clipped)
        1
    """
    val.check_non_negative("l2_norm_clip", l2_norm_clip)
    _check_batched("per_example_global_norm_clip", grads)
    leaves, treedef = jax.tree_util.tree_flatten(grads)
    sums, clipped = _clip_and_sum(leaves, l2_norm_clip)
    return treedef.unflatten(sums), clipped


def per_example_layer_norm_clip(
    grads: Any, global_l2_norm_clip: ArrayLike, uniform: bool = True
) -> tuple[Any, Any]:
    """Clips each example's gradient leaf by leaf (per layer), then sums.

    McMahan et al., 2018, "Learning Differentially Private Recurrent Language
    Models". With ``K`` leaves and the global bound ``C``, leaf ``k`` of each
    example is clipped to its own bound ``C_k``::

        C_k = C / sqrt(K)               (uniform=True)
        C_k = C * sqrt(D_k / D)         (uniform=False; D_k the leaf's size
                                         per example, D the total)

    so that ``sum_k C_k**2 = C**2``: the whole example's norm is at most
    ``C``. With one leaf this is :func:`per_example_global_norm_clip`.

    Args:
      grads: a tree of per-example gradients, each leaf with the batch on
        axis 0.
      global_l2_norm_clip: ``C``, ``>= 0``.
      uniform: the bound split; default True.

    Returns:
      ``(sums, num_clipped)``: two trees shaped like ``grads``, the summed
      clipped gradients and, per leaf, the int32 number of examples clipped.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> grads = {"a": jnp.array([[3.0], [0.1]]), "b": jnp.array([[4.0], [0.1]])}
        >>> total, num_clipped = lrjax.per_example_layer_norm_clip(grads, 2.0**0.5)
        >>> total  # C_k = sqrt(2) / sqrt(2) = 1 per leaf: 3 -> 1, 4 -> 1
        {'a': Array([1.1], dtype=float32), 'b': Array([1.1], dtype=float32)}
        >>> num_clipped
        {'a': Array(1, dtype=int32), 'b': Array(1, dtype=int32)}
    """
    val.check_non_negative("global_l2_norm_clip", global_l2_norm_clip)
    val.check_type("uniform", uniform, bool)
    _check_batched("per_example_layer_norm_clip", grads)
    leaves, treedef = jax.tree_util.tree_flatten(grads)
    sizes = [x[0].size for x in leaves]
    total = sum(sizes)
    sums, counts = [], []
    for x, size in zip(leaves, sizes, strict=True):
        share = 1.0 / len(leaves) if uniform else size / total
        (leaf_sum,), clipped = _clip_and_sum([x], global_l2_norm_clip * share**0.5)
        sums.append(leaf_sum)
        counts.append(clipped)
    return treedef.unflatten(sums), treedef.unflatten(counts)
