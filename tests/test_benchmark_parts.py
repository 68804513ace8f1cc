"""The pieces the benchmarks time compute what they claim (a table is only
worth its rows if they do)."""

import chex
import jax
import jax.numpy as jnp

import lrjax
from benchmarks import packed_compile, signals_overhead


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


def test_signals_overhead_runs_record_the_updates_they_claim():
    """The recording patterns timed by ``benchmarks/signals_overhead.py``
    record the claimed updates and leave the training itself unchanged."""
    so = signals_overhead
    params = so.mlp_tree()
    r = jax.random.split(jax.random.key(0))
    batch = (
        jax.random.normal(r[0], (4, 512)),
        jax.random.randint(r[1], (4,), 0, 10),
    )
    opt = lrjax.track_signals(lrjax.adam(1e-3))
    steps = so.make_steps(opt, with_model=True)
    n = so.EVERY + 1
    counts, finals = {}, {}
    for how in ("every", "never", so.EVERY, "traced"):
        copy = jax.tree_util.tree_map(jnp.copy, (params, opt.init(params)))
        finals[how], state = so.run(steps, how, *copy, batch, n)
        counts[how] = int(state.count)
    assert counts == {"every": n, "never": 0, so.EVERY: 2, "traced": 2}
    for how in ("never", so.EVERY, "traced"):
        chex.assert_trees_all_close(finals[how], finals["every"], rtol=1e-6)
    # A bare optimizer gets no flag: its three steps are the same step.
    bare = lrjax.adam(1e-3)
    bare_steps = so.make_steps(bare, with_model=True)
    copy = jax.tree_util.tree_map(jnp.copy, (params, bare.init(params)))
    bare_final, _ = so.run(bare_steps, "traced", *copy, batch, n)
    chex.assert_trees_all_close(bare_final, finals["every"], rtol=1e-6)
