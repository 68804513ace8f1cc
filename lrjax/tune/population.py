"""The batched training engine: a population of members as one compiled scan.

A member is one (rate, seed) pair of one strategy. :func:`make_program` builds
the function that trains a whole population: a ``lax.scan`` over evaluation
periods, each a ``lax.scan`` over steps whose body is the member step under
``jax.vmap``, so the population costs one trace and one compilation however
many members it holds. :class:`Engine` compiles it ahead of time, splits large
populations into equal chunks (the last one padded, so every chunk reuses the
compilation) and shards the population axis over several devices.

Each member rebuilds its optimizer as ``factory(rate)`` at every step from the
rate it carries: transformations are pure functions, so rebuilding costs
nothing once traced, and population based training can change a member's
rate between steps.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from lrjax._learning_rate import get_learning_rate
from lrjax.control.loss_driven import LossAdaptiveScaleState
from lrjax.control.metric import report_metric
from lrjax.control.plateau import ReduceOnPlateauState

__all__ = [
    "Engine",
    "Member",
    "Records",
    "Seeds",
    "Task",
    "Tuned",
    "applied_rate",
    "fresh_inputs",
    "has_controller",
    "make_program",
    "seed_states",
    "tree_take",
]

Factory = Callable[[Any], optax.GradientTransformation]
EvalParams = Callable[[Any, Any], Any]
# Called between periods on the whole population: (members, metric, step).
Between = Callable[["Member", jax.Array, jax.Array], "Member"]


class Member(NamedTuple):
    """One member's carried state (a leading population axis when batched).

    Attributes:
      params: the trained parameters.
      opt_state: the optimizer state, initialised as ``factory(rate0).init``.
      rate: float32 argument of the factory; PBT perturbs it.
      key: the seed's data key: the epoch orders, or ``batch_fn``'s keys.
      order: int32 ``(n,)`` order of the current epoch's examples (``(0,)``
        with ``batch_fn``).
      lineage: int32 index of the member whose initial rate this one
        descends from (itself unless PBT copied another into it).
    """

    params: Any
    opt_state: Any
    rate: jax.Array
    key: jax.Array
    order: jax.Array
    lineage: jax.Array


class Records(NamedTuple):
    """What a call records, population axis first.

    Attributes:
      train_loss: ``(P, T)`` float32 minibatch loss of each step.
      learning_rate: ``(P, T)`` float32 rate each step applied.
      metrics: name -> ``(P, E)`` float32, one column per evaluation.
    """

    train_loss: Any
    learning_rate: Any
    metrics: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Task:
    """The problem every strategy trains on (checked by :func:`lrjax.sweep`).

    ``batch_size`` is ``None`` with ``batch_fn``; ``num_examples`` is the
    leading size of the training data (0 with ``batch_fn``).
    """

    init_fn: Callable[[jax.Array], Any]
    loss_fn: Callable[[Any, Any], Any]
    has_aux: bool
    batch_size: int | None
    num_examples: int
    batch_fn: Callable[[jax.Array, jax.Array], Any] | None
    eval_fn: Callable[[Any, Any], dict[str, Any]] | None
    metric: str
    higher_is_better: bool


@dataclasses.dataclass(frozen=True)
class Tuned:
    """A strategy as the engine runs it: ``factory(rate)`` and its evaluation."""

    factory: Factory
    eval_params: EvalParams | None = None


def applied_rate(opt_state: Any, base: jax.Array) -> jax.Array:
    """The rate the last update applied, or ``base`` when the state records none.

    A per-label rate (``optax.partition``) records ``base`` too: the population
    keeps one rate per member.
    """
    try:
        rate = get_learning_rate(opt_state)
    except ValueError:
        return jnp.asarray(base, jnp.float32)
    if isinstance(rate, dict):
        return jnp.asarray(base, jnp.float32)
    return jnp.asarray(rate, jnp.float32)


def has_controller(opt_state: Any) -> bool:
    """Whether the state holds an lrjax plateau or loss-driven controller."""
    kinds = (ReduceOnPlateauState, LossAdaptiveScaleState)
    leaves = jax.tree_util.tree_leaves(
        opt_state, is_leaf=lambda x: isinstance(x, kinds)
    )
    return any(isinstance(x, kinds) for x in leaves)


def _groups(
    periods: Sequence[int], flags: Sequence[bool]
) -> list[tuple[int, int, bool]]:
    """Runs of equal (length, flag) periods as (count, length, flag)."""
    out = []
    for (length, flag), run in itertools.groupby(zip(periods, flags, strict=True)):
        out.append((len(list(run)), length, flag))
    return out


def make_program(
    task: Task,
    tuned: Tuned,
    periods: Sequence[int],
    *,
    fresh: bool,
    between: Between | None = None,
    between_after: Sequence[bool] | None = None,
    sharding: NamedSharding | None = None,
    counter: list[int] | None = None,
) -> Callable[..., tuple[Member, Records]]:
    """Builds ``program(inputs, start, data, eval_data) -> (Member, Records)``.

    The program trains ``len(periods)`` consecutive periods of the given
    lengths from step ``start`` and evaluates after each. Consecutive periods
    of equal length form one ``lax.scan``, so ten evaluations cost one
    period's trace.

    At each evaluation the metric (negated when higher is better, so the
    value always falls with progress) is reported to the lrjax plateau and
    loss-driven controllers in the state with :func:`lrjax.report_metric`:
    one decision per evaluation, PyTorch's ``scheduler.step(val_loss)``.
    ``update`` itself receives no ``value=``.

    Args:
      task: the problem.
      tuned: the strategy.
      periods: period lengths in steps (static).
      fresh: ``inputs`` are ``(params, rates, data_keys, lineage)`` (see
        :func:`seed_states`) and the optimizer states are initialised inside;
        otherwise ``inputs`` is a batched :class:`Member` to continue.
      between: ``(members, metric, step) -> members`` applied to the whole
        population after the evaluations flagged in ``between_after``
        (population based training's exploit and explore).
      between_after: one flag per period.
      sharding: the population axis' sharding, or ``None``.
      counter: a one-element list incremented at each trace.
    """
    flags = tuple(between_after or (False,) * len(periods))
    groups = _groups(tuple(periods), flags)
    grad_fn = jax.value_and_grad(task.loss_fn, has_aux=task.has_aux)
    sign = -1.0 if task.higher_is_better else 1.0
    n, bs = task.num_examples, task.batch_size

    def init(params, rate, data_key, lineage):
        opt_state = tuned.factory(rate).init(params)
        order = jnp.zeros((n if task.batch_fn is None else 0,), jnp.int32)
        rate = jnp.asarray(rate, jnp.float32)
        return Member(params, opt_state, rate, data_key, order, lineage)

    def member_step(m: Member, batch):
        value, grads = grad_fn(m.params, batch)
        loss = value[0] if task.has_aux else value
        updates, opt_state = tuned.factory(m.rate).update(grads, m.opt_state, m.params)
        params = optax.apply_updates(m.params, updates)
        rate = applied_rate(opt_state, m.rate)
        m = m._replace(params=params, opt_state=opt_state)
        return jnp.asarray(loss, jnp.float32), rate, m

    def batches(members: Member, t, data):
        if task.batch_fn is not None:
            return members, jax.vmap(
                lambda k: task.batch_fn(jax.random.fold_in(k, t), t)
            )(members.key)
        spe = n // bs
        pos, epoch = t % spe, t // spe

        def shuffle():
            perm = lambda k: jax.random.permutation(jax.random.fold_in(k, epoch), n)
            return jax.vmap(perm)(members.key).astype(jnp.int32)

        # One step counter for the whole population (outside the vmap), so
        # this is a real branch: a new order only at each epoch's first step.
        order = jax.lax.cond(pos == 0, shuffle, lambda: members.order)
        idx = jax.lax.dynamic_slice_in_dim(order, pos * bs, bs, axis=1)
        batch = jax.tree_util.tree_map(lambda x: x[idx], data)
        return members._replace(order=order), batch

    def evaluate_one(m: Member, eval_data):
        w = (
            m.params
            if tuned.eval_params is None
            else tuned.eval_params(m.opt_state, m.params)
        )
        if task.eval_fn is None:
            value = task.loss_fn(w, eval_data)
            out = {"loss": value[0] if task.has_aux else value}
        else:
            out = dict(task.eval_fn(w, eval_data))
        out = {k: jnp.asarray(v, jnp.float32) for k, v in out.items()}
        opt_state = m.opt_state
        if has_controller(opt_state):
            opt_state = report_metric(opt_state, sign * out[task.metric])
        return out, m._replace(opt_state=opt_state)

    def program(inputs, start, data, eval_data):
        if counter is not None:
            counter[0] += 1  # runs once per trace
        members = jax.vmap(init)(*inputs) if fresh else inputs
        if sharding is not None:
            members = jax.lax.with_sharding_constraint(members, sharding)

        def step(members, t):
            members, batch = batches(members, t, data)
            loss, rate, members = jax.vmap(member_step)(members, batch)
            return members, (loss, rate)

        losses, rates, metrics = [], [], []
        offset = 0
        for count, length, flag in groups:

            def period(members, t0, length=length, flag=flag):
                members, out = jax.lax.scan(step, members, t0 + jnp.arange(length))
                found, members = jax.vmap(evaluate_one, in_axes=(0, None))(
                    members, eval_data
                )
                if flag:
                    members = between(members, found[task.metric], t0 + length)
                return members, (*out, found)

            starts = start + offset + length * jnp.arange(count)
            members, (loss, rate, found) = jax.lax.scan(period, members, starts)
            losses.append(loss.reshape(count * length, -1))
            rates.append(rate.reshape(count * length, -1))
            metrics.append(found)
            offset += count * length
        records = Records(
            jnp.concatenate(losses).T,
            jnp.concatenate(rates).T,
            {k: jnp.concatenate([m[k] for m in metrics]).T for k in metrics[0]},
        )
        return members, records

    return program


class Seeds(NamedTuple):
    """Every seed's initial parameters and data key (a leading seed axis)."""

    params: Any
    keys: jax.Array


def seed_states(
    init_fn: Callable[[jax.Array], Any], seeds: Any
) -> tuple[Seeds, float, float]:
    """Initialises every seed once, for all strategies: one compilation.

    Seed ``s`` splits ``PRNGKey(s)`` into the init key, passed to ``init_fn``,
    and the data key (batch order). Initialising outside the populations'
    programs keeps the initialiser's random number code (slow to compile on a
    CPU) out of every strategy's compilation.

    Returns:
      The seeds' states, the compile time and the run time in seconds.
    """

    def one(seed):
        init_key, data_key = jax.random.split(jax.random.PRNGKey(seed))
        return Seeds(init_fn(init_key), data_key)

    # One seed at a time: an initialiser compiles several times faster
    # unbatched than under vmap. The states are gathered on the host, where
    # picking each member's copy compiles nothing.
    began = time.perf_counter()
    compiled = jax.jit(one).lower(jnp.int32(0)).compile()
    compiled_at = time.perf_counter()
    states = [jax.device_get(compiled(jnp.int32(s))) for s in seeds]
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *states)
    return stacked, compiled_at - began, time.perf_counter() - compiled_at


def fresh_inputs(rates: Any, seeds: Seeds, pick: Any) -> tuple[Any, ...]:
    """Program inputs of members ``(rates[i], seeds[pick[i]])``, lineage ``i``."""
    return (
        tree_take(seeds.params, pick),
        np.asarray(rates, np.float32),
        tree_take(seeds.keys, pick),
        np.arange(len(pick), dtype=np.int32),
    )


def tree_take(tree: Any, index: Any) -> Any:
    """Every leaf's rows ``index`` (the population axis first)."""
    return jax.tree_util.tree_map(lambda x: x[index], tree)


class Engine:
    """Compiles and runs one strategy's populations; counts and times them.

    Args:
      task: the problem.
      tuned: the strategy.
      data: training data (``None`` with ``batch_fn``).
      eval_data: evaluation data.
      max_members: members per call at most; larger populations run in equal
        chunks of this size, the last padded with copies of its last member.
      devices: devices to shard the population over (one: no sharding); a
        call's members are padded to a multiple of their number.
    """

    def __init__(
        self,
        task: Task,
        tuned: Tuned,
        data: Any,
        eval_data: Any,
        *,
        max_members: int,
        devices: Sequence[Any],
    ) -> None:
        self.task, self.tuned = task, tuned
        self.devices = list(devices)
        d = len(self.devices)
        self.max_members = max(d, max_members // d * d)
        if d > 1:
            mesh = Mesh(np.array(self.devices), ("population",))
            self.sharding = NamedSharding(mesh, PartitionSpec("population"))
            self.replicated = NamedSharding(mesh, PartitionSpec())
        else:
            self.sharding = None
            self.replicated = self.devices[0]
        self.data, self.eval_data = jax.device_put((data, eval_data), self.replicated)
        self.counter = [0]
        self.compile_seconds = 0.0
        self.run_seconds = 0.0
        self._compiled: dict[Any, Any] = {}

    def call_size(self, population: int) -> int:
        """Members per call for ``population`` members (padded, chunked)."""
        d = len(self.devices)
        return min(self.max_members, -(-population // d) * d)

    def run(
        self,
        inputs: Any,
        start: int,
        periods: Sequence[int],
        *,
        fresh: bool,
        between: Between | None = None,
        between_after: Sequence[bool] | None = None,
    ) -> tuple[Member, Records]:
        """Trains the population ``inputs`` (see :func:`make_program`).

        Returns the members after training (on the devices) and the records
        (NumPy), both for the ``len(inputs)`` members given, padding removed.
        """
        population = len(jax.tree_util.tree_leaves(inputs)[0])
        size = self.call_size(population)
        chunks = -(-population // size)
        index = np.minimum(np.arange(chunks * size), population - 1)
        signature = (size, tuple(periods), tuple(between_after or ()), fresh)
        t0 = jax.device_put(jnp.asarray(start, jnp.int32), self.replicated)
        outputs = []
        for c in range(chunks):
            part = tree_take(inputs, index[c * size : (c + 1) * size])
            part = jax.block_until_ready(
                jax.device_put(part, self.sharding or self.devices[0])
            )
            compiled = self._compiled.get(signature)
            if compiled is None:
                program = make_program(
                    self.task,
                    self.tuned,
                    periods,
                    fresh=fresh,
                    between=between,
                    between_after=between_after,
                    sharding=self.sharding,
                    counter=self.counter,
                )
                began = time.perf_counter()
                lowered = jax.jit(program).lower(part, t0, self.data, self.eval_data)
                compiled = lowered.compile()
                self.compile_seconds += time.perf_counter() - began
                self._compiled[signature] = compiled
            began = time.perf_counter()
            out = jax.block_until_ready(compiled(part, t0, self.data, self.eval_data))
            self.run_seconds += time.perf_counter() - began
            outputs.append(out)
        members = jax.tree_util.tree_map(
            lambda *xs: jnp.concatenate(xs)[:population], *[o[0] for o in outputs]
        )
        records = jax.tree_util.tree_map(
            lambda *xs: np.concatenate([np.asarray(x) for x in xs])[:population],
            *[o[1] for o in outputs],
        )
        return members, records
