"""What a jitted, donated step leaves to the host: no copies optax avoids.

Each ``copy`` instruction in a compiled step is a separate operation at run
time; on a GPU, a copy of a constant into a state field at every step cost
lrjax's Adam 0.5 ms per step on a 144-leaf tree (``benchmarks/rate_state_copy.py``,
BENCHMARKS.md). The reference is optax's compiled twin of each case: lrjax's
step must not need more copies than it.
"""

import jax
import jax.numpy as jnp
import optax
import pytest
from optimizer_case import all_cases, representatives_first

import lrjax

PARITY = [c for c in all_cases() if c.optax_parity]

# Cases whose lrjax state keeps more than optax's (the hypergradient rate, the
# stale-gradient ring, d and the bounds of DoG/DoWG, ...): each extra field
# written from several places costs XLA a copy. Upper bounds, so that a
# regression still fails; lower is welcome.
MORE_STATE = {
    "stale_sgd_fresh": 5,
    "sgd_hd_frozen": 4,
    "adam_hd_frozen": 4,
    "adamw_reduce_on_plateau": 3,
    "dog": 3,
    "dowg": 2,
    "novograd": 1,
    "novograd_weight_decay": 1,
    "polyak_sgd": 2,
    "polyak_sgd_plus": 2,
    "madgrad": 2,
    "madgrad_decay": 2,
    "sam": 12,
}


def copies(opt, extra):
    params = {"w": jnp.ones((3, 4)), "b": jnp.ones((4,))}
    state = opt.init(params)

    def step(p, s, g):
        updates, s = opt.update(g, s, p, **extra)
        return optax.apply_updates(p, updates), s

    text = (
        jax.jit(step, donate_argnums=(0, 1))
        .lower(params, state, params)
        .compile()
        .as_text()
    )
    return text[text.index("ENTRY") :].count(" copy(")


# The copies a step makes come from the rate entry and the state layout the
# optimizers share: representatives by default, every optimizer under slow.
@pytest.mark.parametrize("case", representatives_first(PARITY))
def test_step_needs_no_more_copies_than_optax(case):
    ours = copies(case.make(), case.extra())
    theirs = copies(case.make_optax(), case.extra())
    assert ours <= max(theirs, MORE_STATE.get(case.id, 0)), (ours, theirs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lrjax.sgd(0.1),
        lambda: lrjax.sgd(0.1, momentum=0.9, nesterov=True),
        lambda: lrjax.adam(1e-3),
        lambda: lrjax.adamw(1e-3),
        lambda: lrjax.rmsprop(1e-3),
    ],
)
def test_common_optimizers_step_without_copies(make):
    # The rate block reports its rate through a select on the new count, so
    # a constant rate is not copied into the state at every step.
    assert copies(make(), {}) == 0


def test_a_schedule_costs_what_it_costs_optax():
    # Both read the step count twice (schedule, increment) and XLA copies it
    # once before incrementing it in place.
    schedule = optax.cosine_decay_schedule(1e-3, 100)
    assert copies(lrjax.adam(schedule), {}) <= copies(optax.adam(schedule), {})


def test_reported_rate_is_still_the_rate_applied():
    opt = lrjax.adam(3e-3)
    params = {"w": jnp.ones((2,))}
    state = opt.init(params)
    step = jax.jit(lambda g, s: opt.update(g, s, params))
    for _ in range(3):
        _, state = step(params, state)
    assert float(lrjax.get_learning_rate(state)) == pytest.approx(3e-3)
    assert lrjax.get_learning_rate(state).dtype == jnp.float32
