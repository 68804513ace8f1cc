"""The strategies compared by ``lrjax compare``: one row each, in one table.

A row names a strategy, its family (its colour group in the plot) and builds
its optimizer from a :class:`Context` (the run's length, and the range test
for strategies that pick their rate with it). Schedules are written as
fractions of the run (``c.steps(0.3)``), so ``--epochs`` stretches them.
Adding a strategy is adding a row to :data:`STRATEGIES`.

Unless a row says otherwise, the schedules drive SGD with heavy-ball momentum
0.9 (``v = 0.9 v + g``, PyTorch's ``SGD(momentum=0.9)``) and peak at 0.1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import optax

import lrjax
from lrjax.compare.training import EvalParams, Plan

__all__ = ["Context", "FAMILIES", "STRATEGIES", "Strategy", "select"]

OptimizerFactory = Callable[[Any], optax.GradientTransformation]


@dataclasses.dataclass(frozen=True)
class Context:
    """What a row may use to build its optimizer.

    Attributes:
      plan: epochs, batch size and steps per epoch of the run.
      find_rate: ``find_rate(make_optimizer) -> rate``: the rate a learning
        rate range test (:func:`lrjax.find_learning_rate`) suggests for
        ``make_optimizer(rate)``, run on the first seed's network and batches.
    """

    plan: Plan
    find_rate: Callable[[OptimizerFactory], float]

    @property
    def total_steps(self) -> int:
        return self.plan.total_steps

    @property
    def steps_per_epoch(self) -> int:
        return self.plan.steps_per_epoch

    def steps(self, fraction: float) -> int:
        """``fraction`` of the run, in steps."""
        return self.plan.steps(fraction)


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One row of the comparison.

    Attributes:
      name: short name, used on the command line and in the outputs.
      family: group of related strategies (one colour family in the plot).
      build: ``Context -> GradientTransformation``.
      summary: one line saying what the row does.
      eval_params: ``(opt_state, params) -> params`` to evaluate, when the
        strategy evaluates other weights than the ones it trains.
    """

    name: str
    family: str
    build: Callable[[Context], optax.GradientTransformation]
    summary: str
    eval_params: EvalParams | None = None


def sgdm(learning_rate: Any) -> optax.GradientTransformation:
    """SGD with heavy-ball momentum 0.9: the optimizer under every schedule."""
    return lrjax.sgd(learning_rate, momentum=0.9)


def ema_momentum(learning_rate: Any) -> optax.GradientTransformation:
    """Momentum in its EMA form, ``v = 0.9 v + 0.1 g``, then the rate."""
    return optax.chain(
        lrjax.ema(0.9, debias=False), lrjax.scale_by_learning_rate(learning_rate)
    )


def wsd(c: Context, peak: float) -> optax.GradientTransformation:
    """Warmup 5%, stable to 80%, linear decay to 0 over the last 20%."""
    warmup, stable = c.steps(0.05), c.steps(0.75)
    decay = max(1, c.total_steps - warmup - stable)
    return sgdm(lrjax.warmup_stable_decay_schedule(peak, warmup, stable, decay))


def _averaged(opt_state: Any, params: Any) -> Any:
    del params
    return lrjax.averaged_params(opt_state)


def _schedule_free(opt_state: Any, params: Any) -> Any:
    return lrjax.schedule_free_eval_params(opt_state, params)


# Families in plot order; each gets its own colour map.
FAMILIES: dict[str, str] = {
    "fixed": "Greys",
    "decay": "Blues",
    "cyclic": "Purples",
    "adaptive": "Oranges",
    "feedback": "Greens",
    "lr-free": "Reds",
    "averaging": "YlOrBr",
}

S = Strategy
STRATEGIES: tuple[Strategy, ...] = (
    # fixed rates, and momentum in both forms
    S("constant", "fixed", lambda c: sgdm(0.05), "SGD, heavy-ball momentum 0.9, rate 0.05"),
    S("no-momentum", "fixed", lambda c: lrjax.sgd(0.05), "plain SGD, rate 0.05"),
    S("ema-momentum", "fixed", lambda c: ema_momentum(0.5), "v = 0.9v + 0.1g, rate 0.5 = 0.05/(1-0.9)"),
    S("nesterov", "fixed", lambda c: lrjax.sgd(0.05, 0.9, nesterov=True), "Nesterov momentum 0.9, rate 0.05"),
    # decaying schedules
    S("step", "decay", lambda c: sgdm(lrjax.step_decay_schedule(0.1, c.steps(0.3), 0.3)), "x0.3 every 30% of the run"),
    S("multistep", "decay", lambda c: sgdm(lrjax.multistep_decay_schedule(0.1, [c.steps(0.5), c.steps(0.75)])), "x0.1 at 50% and 75%"),
    S("exponential", "decay", lambda c: sgdm(lrjax.exponential_decay(0.1, c.total_steps, 0.02)), "0.1 * 0.02^(t/T)"),
    S("polynomial", "decay", lambda c: sgdm(lrjax.polynomial_schedule(0.1, 0.0, 2.0, c.total_steps)), "0.1 * (1 - t/T)^2"),
    S("inverse-time", "decay", lambda c: sgdm(lrjax.inverse_time_decay_schedule(0.1, c.steps_per_epoch, 0.5)), "0.1 / (1 + 0.5 epoch)"),
    S("cosine", "decay", lambda c: sgdm(lrjax.cosine_decay_schedule(0.1, c.total_steps)), "cosine from 0.1 to 0"),
    S("warmup-stable-decay", "decay", lambda c: wsd(c, 0.1), "warm up 5%, hold, linear to 0 over the last 20%"),
    S("clipped", "decay", lambda c: sgdm(lrjax.clip_schedule(lrjax.linear_schedule(0.1, 0.0, c.total_steps), min_value=0.01)), '"redwood": max(0.01, 0.1 (1 - t/T))'),
    # schedules that go up and down
    S("cosine-restarts", "cyclic", lambda c: sgdm(lrjax.cosine_restarts_schedule(0.1, c.steps(1 / 7), period_mult=2.0)), "SGDR, periods 1/7, 2/7, 4/7 of the run"),
    S("cyclic", "cyclic", lambda c: sgdm(lrjax.cyclic_schedule(0.005, 0.1, c.steps(0.1), mode="triangular2")), "triangular2 CLR 0.005..0.1, half-cycle 10%"),
    S("one-cycle", "cyclic", lambda c: sgdm(lrjax.one_cycle_schedule(0.2, c.total_steps)), "PyTorch OneCycleLR, peak 0.2"),
    S("random", "cyclic", lambda c: sgdm(lrjax.random_schedule(jax.random.PRNGKey(0), 0.005, 0.1, hold_steps=c.steps_per_epoch)), "log-uniform in [0.005, 0.1], redrawn each epoch"),
    # per-parameter adaptive optimizers at a fixed rate
    S("adagrad", "adaptive", lambda c: lrjax.adagrad(0.05), "AdaGrad, rate 0.05"),
    S("rmsprop", "adaptive", lambda c: lrjax.rmsprop(1e-3), "RMSProp, rate 1e-3"),
    S("adam", "adaptive", lambda c: lrjax.adam(1e-3), "Adam, rate 1e-3"),
    S("adamw", "adaptive", lambda c: lrjax.adamw(1e-3, weight_decay=0.05), "AdamW, rate 1e-3, decay 0.05"),
    S("adadelta", "adaptive", lambda c: lrjax.adadelta(1.0), "AdaDelta, rho 0.9, rate 1"),
    S("lion", "adaptive", lambda c: lrjax.lion(3e-4, weight_decay=0.01), "Lion, rate 3e-4"),
    # rates that react to training
    S("reduce-on-plateau", "feedback", lambda c: optax.chain(sgdm(0.1), lrjax.reduce_on_plateau(0.5, patience=1, accumulation_size=c.steps_per_epoch)), "x0.5 when the epoch loss stalls"),
    S("loss-driven", "feedback", lambda c: optax.chain(sgdm(0.05), lrjax.loss_adaptive_scale(1.1, 0.5)), "bold driver: x1.1 per better epoch, x0.5 per worse"),
    S("range-test", "feedback", lambda c: sgdm(c.find_rate(sgdm)), "constant rate picked by the range test"),
    S("hypergradient-sgd", "feedback", lambda c: lrjax.sgd_hd(0.01, 3e-4, momentum=0.9), "SGDN-HD from 0.01, hypergradient step 3e-4"),
    S("hypergradient-adam", "feedback", lambda c: lrjax.adam_hd(1e-3, 1e-7), "Adam-HD from 1e-3"),
    # learning-rate-free
    S("schedule-free-adamw", "lr-free", lambda c: lrjax.schedule_free_adamw(2.5e-3, warmup_steps=c.steps(0.05)), "schedule-free AdamW, evaluated at x", eval_params=_schedule_free),
    S("prodigy", "lr-free", lambda c: lrjax.prodigy(1.0), "Prodigy, rate x1"),
    # parameter averaging
    S("ema-weights", "averaging", lambda c: optax.chain(sgdm(0.1), lrjax.ema_params(0.99)), "SGD-momentum 0.1, evaluated on an EMA (0.99) of the weights", eval_params=_averaged),
    S("polyak", "averaging", lambda c: optax.chain(sgdm(0.1), lrjax.polyak_averaging(c.steps(0.5))), "SGD-momentum 0.1, evaluated on the mean of the second half's weights", eval_params=_averaged),
)  # fmt: skip
del S


def select(names: Sequence[str] | None) -> list[Strategy]:
    """The strategies named (or in the families named), in table order.

    ``None`` or an empty list selects every strategy.

    Raises:
      ValueError: naming an unknown strategy or family and listing the known ones.
    """
    if not names:
        return list(STRATEGIES)
    wanted = set()
    for name in names:
        if name in FAMILIES:
            wanted.update(s.name for s in STRATEGIES if s.family == name)
        elif any(s.name == name for s in STRATEGIES):
            wanted.add(name)
        else:
            known = ", ".join(s.name for s in STRATEGIES)
            raise ValueError(
                f"unknown strategy or family {name!r}; families: "
                f"{', '.join(FAMILIES)}; strategies: {known}."
            )
    return [s for s in STRATEGIES if s.name in wanted]
