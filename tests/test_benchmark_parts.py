"""The pieces ``benchmarks/packed_compile.py`` compiles compute what they
claim (the compile-time table is only worth its rows if they do)."""

import chex
import jax
import jax.numpy as jnp

from benchmarks import packed_compile


def test_packed_compile_parts_compute_the_step_they_time():
    todo = packed_compile.parts(12, (3, 3))
    out = {}
    for name, (make, args, _) in todo.items():
        out[name] = jax.jit(make())(*args)
    params, grads = todo["floor: per-leaf SGD step"][1]
    doubled = jax.tree_util.tree_map(lambda p: 2 * p, params)
    chex.assert_trees_all_equal(
        out["part: cut + apply_updates, branch offsets"], doubled
    )
    chex.assert_trees_all_equal(
        out["part: cut + apply_updates, offsets as arguments"], doubled
    )
    (buffer,) = out["part: gather the gradients (one concatenate)"]
    chex.assert_trees_all_equal(
        buffer,
        jnp.concatenate([g.reshape(-1) for g in jax.tree_util.tree_leaves(grads)]),
    )
    offsets = out["part: the branch alone"]
    chex.assert_trees_all_equal([int(o) for o in offsets], [9 * i for i in range(12)])
    # The packed and optax Adam steps agree after one step (sign(g) * lr).
    packed_params, _ = out["lrjax.packed Adam step"]
    optax_params, _ = out["optax Adam step"]
    chex.assert_trees_all_close(packed_params, optax_params, rtol=1e-6, atol=1e-7)
