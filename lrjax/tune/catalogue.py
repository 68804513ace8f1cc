"""The named strategies: the rows ``lrjax compare`` compares and
:func:`lrjax.sweep` tunes by name, in one table.

A row names a strategy, its family (its colour group in the plot) and builds
its optimizer from a :class:`Context` (the run's length, and the range test
for strategies that pick their rate with it). Schedules are written as
fractions of the run (``c.steps(0.3)``), so ``--epochs`` stretches them.
Adding a strategy is adding a row to :data:`STRATEGIES`.

Each row also has a tunable form, ``tune(context, rate)``, with its hand-set
rate as the argument (a schedule's peak, an adaptive method's rate, a
learning-rate-free method's multiplier): ``build(c)`` is ``tune(c, rate)``, and
:func:`lrjax.sweep` tunes a row by name. ``range-test`` picks its own rate and
is not tunable.

Unless a row says otherwise, the schedules drive SGD with heavy-ball momentum
0.9 (``v = 0.9 v + g``, PyTorch's ``SGD(momentum=0.9)``) and peak at 0.1.

The table sits below both of its readers (it imports the optimizers, schedules
and controllers it builds, never ``lrjax.tune``'s machinery or
``lrjax.compare``); ``lrjax.compare`` re-exports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import optax
from jax.typing import ArrayLike

from lrjax.control import (
    adam_hd,
    averaged_params,
    ema_params,
    loss_adaptive_scale,
    polyak_averaging,
    prodigy,
    reduce_on_plateau,
    schedule_free_adamw,
    schedule_free_eval_params,
    sgd_hd,
)
from lrjax.optimizers import adadelta, adagrad, adam, adamw, lion, rmsprop, sgd
from lrjax.schedules import (
    clip_schedule,
    cosine_decay_schedule,
    cosine_restarts_schedule,
    cyclic_schedule,
    exponential_decay,
    inverse_time_decay_schedule,
    linear_schedule,
    multistep_decay_schedule,
    one_cycle_schedule,
    polynomial_schedule,
    random_schedule,
    step_decay_schedule,
    warmup_stable_decay_schedule,
)
from lrjax.transforms import ema, scale_by_learning_rate

__all__ = [
    "Context",
    "EvalParams",
    "FAMILIES",
    "Plan",
    "STRATEGIES",
    "Strategy",
    "select",
]

OptimizerFactory = Callable[[Any], optax.GradientTransformation]
# ``(opt_state, params) -> params`` to evaluate (schedule-free, averaging).
EvalParams = Callable[[Any, Any], Any]


class Plan(NamedTuple):
    """The shape of a run, shared by every strategy.

    Attributes:
      epochs: passes over the training set.
      batch_size: examples per step; the last incomplete batch of each epoch
        is dropped (a different remainder each epoch, as the order is
        reshuffled).
      steps_per_epoch: ``num_train // batch_size``.

    Examples:
        >>> import lrjax.compare
        >>> plan = lrjax.compare.Plan(epochs=3, batch_size=32, steps_per_epoch=10)
        >>> plan.total_steps, plan.steps(0.3)  # 3 x 10; 30% of 30 steps
        (30, 9)
    """

    epochs: int
    batch_size: int
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def steps(self, fraction: float) -> int:
        """``fraction`` of the run in steps (at least 1), for schedule lengths."""
        return max(1, round(fraction * self.total_steps))


@dataclasses.dataclass(frozen=True)
class Context:
    """What a row may use to build its optimizer.

    Attributes:
      plan: epochs, batch size and steps per epoch of the run.
      find_rate: ``find_rate(make_optimizer) -> rate``: the rate a learning
        rate range test (:func:`lrjax.find_learning_rate`) suggests for
        ``make_optimizer(rate)``, run on the first seed's network and batches.
      budget: the run's length in steps when it is not a whole number of
        epochs (:func:`lrjax.sweep`); default ``plan.total_steps``.
      reports_per_epoch: values the run reports to rate controllers per
        epoch; default ``plan.steps_per_epoch`` (``lrjax compare`` passes
        ``value=`` at every update). :func:`lrjax.sweep` reports its metric
        once per evaluation and sets 1.
    """

    plan: Plan
    find_rate: Callable[[OptimizerFactory], float]
    budget: int | None = None
    reports_per_epoch: int | None = None

    @property
    def total_steps(self) -> int:
        return self.plan.total_steps if self.budget is None else self.budget

    @property
    def steps_per_epoch(self) -> int:
        return self.plan.steps_per_epoch

    @property
    def reports(self) -> int:
        """Reports per controller decision (one decision per epoch)."""
        if self.reports_per_epoch is None:
            return self.plan.steps_per_epoch
        return self.reports_per_epoch

    def steps(self, fraction: float) -> int:
        """``fraction`` of the run, in steps (at least 1)."""
        return max(1, round(fraction * self.total_steps))


RateBuild = Callable[[Context, ArrayLike], optax.GradientTransformation]


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One row of the comparison.

    Attributes:
      name: short name, used on the command line and in the outputs.
      family: group of related strategies (one colour family in the plot).
      rate: the row's hand-set rate (a schedule's peak, an adaptive method's
        rate, a learning-rate-free method's multiplier); ``None`` when the
        row picks its own (``range-test``).
      tune: ``(Context, rate) -> GradientTransformation``: the row at another
        rate (a traced scalar under :func:`lrjax.sweep`); ``None`` when the
        row is not tunable.
      summary: one line saying what the row does.
      eval_params: ``(opt_state, params) -> params`` to evaluate, when the
        strategy evaluates other weights than the ones it trains.
      fixed: ``Context -> GradientTransformation`` for a row without ``tune``.
    """

    name: str
    family: str
    rate: float | None
    tune: RateBuild | None
    summary: str
    eval_params: EvalParams | None = None
    fixed: Callable[[Context], optax.GradientTransformation] | None = None

    def build(self, c: Context) -> optax.GradientTransformation:
        """The row as compared: ``tune(c, rate)`` at its hand-set rate."""
        if self.tune is None:
            assert self.fixed is not None, self.name
            return self.fixed(c)
        return self.tune(c, self.rate)


def sgdm(learning_rate: optax.ScalarOrSchedule) -> optax.GradientTransformation:
    """SGD with heavy-ball momentum 0.9: the optimizer under every schedule."""
    return sgd(learning_rate, momentum=0.9)


def ema_momentum(learning_rate: optax.ScalarOrSchedule) -> optax.GradientTransformation:
    """Momentum in its EMA form, ``v = 0.9 v + 0.1 g``, then the rate."""
    return optax.chain(ema(0.9, debias=False), scale_by_learning_rate(learning_rate))


def wsd(c: Context, peak: float) -> optax.GradientTransformation:
    """Warmup 5%, stable to 80%, linear decay to 0 over the last 20%."""
    warmup, stable = c.steps(0.05), c.steps(0.75)
    decay = max(1, c.total_steps - warmup - stable)
    return sgdm(warmup_stable_decay_schedule(peak, warmup, stable, decay))


def _averaged(opt_state: Any, params: Any) -> Any:
    del params
    return averaged_params(opt_state)


def _schedule_free(opt_state: Any, params: Any) -> Any:
    return schedule_free_eval_params(opt_state, params)


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

# One row per strategy: name, family, hand-set rate, tune(c, rate), summary.
S = Strategy
STRATEGIES: tuple[Strategy, ...] = (
    # fixed rates, and momentum in both forms
    S("constant", "fixed", 0.05, lambda c, r: sgdm(r), "SGD, heavy-ball momentum 0.9, rate 0.05"),
    S("no-momentum", "fixed", 0.05, lambda c, r: sgd(r), "plain SGD, rate 0.05"),
    S("ema-momentum", "fixed", 0.5, lambda c, r: ema_momentum(r), "v = 0.9v + 0.1g, rate 0.5 = 0.05/(1-0.9)"),
    S("nesterov", "fixed", 0.05, lambda c, r: sgd(r, 0.9, nesterov=True), "Nesterov momentum 0.9, rate 0.05"),
    # decaying schedules (the rate is the peak)
    S("step", "decay", 0.1, lambda c, r: sgdm(step_decay_schedule(r, c.steps(0.3), 0.3)), "x0.3 every 30% of the run"),
    S("multistep", "decay", 0.1, lambda c, r: sgdm(multistep_decay_schedule(r, [c.steps(0.5), c.steps(0.75)])), "x0.1 at 50% and 75%"),
    S("exponential", "decay", 0.1, lambda c, r: sgdm(exponential_decay(r, c.total_steps, 0.02)), "0.1 * 0.02^(t/T)"),
    S("polynomial", "decay", 0.1, lambda c, r: sgdm(polynomial_schedule(r, 0.0, 2.0, c.total_steps)), "0.1 * (1 - t/T)^2"),
    S("inverse-time", "decay", 0.1, lambda c, r: sgdm(inverse_time_decay_schedule(r, c.steps_per_epoch, 0.5)), "0.1 / (1 + 0.5 epoch)"),
    S("cosine", "decay", 0.1, lambda c, r: sgdm(cosine_decay_schedule(r, c.total_steps)), "cosine from 0.1 to 0"),
    S("warmup-stable-decay", "decay", 0.1, wsd, "warm up 5%, hold, linear to 0 over the last 20%"),
    S("clipped", "decay", 0.1, lambda c, r: sgdm(clip_schedule(linear_schedule(r, 0.0, c.total_steps), min_value=r / 10)), '"redwood": max(0.01, 0.1 (1 - t/T))'),
    # schedules that go up and down (the rate is the peak)
    S("cosine-restarts", "cyclic", 0.1, lambda c, r: sgdm(cosine_restarts_schedule(r, c.steps(1 / 7), period_mult=2.0)), "SGDR, periods 1/7, 2/7, 4/7 of the run"),
    S("cyclic", "cyclic", 0.1, lambda c, r: sgdm(cyclic_schedule(r / 20, r, c.steps(0.1), mode="triangular2")), "triangular2 CLR 0.005..0.1, half-cycle 10%"),
    S("one-cycle", "cyclic", 0.2, lambda c, r: sgdm(one_cycle_schedule(r, c.total_steps)), "PyTorch OneCycleLR, peak 0.2"),
    S("random", "cyclic", 0.1, lambda c, r: sgdm(random_schedule(jax.random.PRNGKey(0), r / 20, r, hold_steps=c.steps_per_epoch)), "log-uniform in [0.005, 0.1], redrawn each epoch"),
    # per-parameter adaptive optimizers at a fixed rate
    S("adagrad", "adaptive", 0.05, lambda c, r: adagrad(r), "AdaGrad, rate 0.05"),
    S("rmsprop", "adaptive", 1e-3, lambda c, r: rmsprop(r), "RMSProp, rate 1e-3"),
    S("adam", "adaptive", 1e-3, lambda c, r: adam(r), "Adam, rate 1e-3"),
    S("adamw", "adaptive", 1e-3, lambda c, r: adamw(r, weight_decay=0.05), "AdamW, rate 1e-3, decay 0.05"),
    S("adadelta", "adaptive", 1.0, lambda c, r: adadelta(r), "AdaDelta, rho 0.9, rate 1"),
    S("lion", "adaptive", 3e-4, lambda c, r: lion(r, weight_decay=0.01), "Lion, rate 3e-4"),
    # rates that react to training (the rate is the initial one)
    S("reduce-on-plateau", "feedback", 0.1, lambda c, r: optax.chain(sgdm(r), reduce_on_plateau(0.5, patience=1, accumulation_size=c.reports)), "x0.5 when the epoch loss stalls"),
    S("loss-driven", "feedback", 0.05, lambda c, r: optax.chain(sgdm(r), loss_adaptive_scale(1.1, 0.5)), "bold driver: x1.1 per better epoch, x0.5 per worse"),
    S("range-test", "feedback", None, None, "constant rate picked by the range test", fixed=lambda c: sgdm(c.find_rate(sgdm))),
    S("hypergradient-sgd", "feedback", 0.01, lambda c, r: sgd_hd(r, 3e-4, momentum=0.9), "SGDN-HD from 0.01, hypergradient step 3e-4"),
    S("hypergradient-adam", "feedback", 1e-3, lambda c, r: adam_hd(r, 1e-7), "Adam-HD from 1e-3"),
    # learning-rate-free (the rate is their multiplier)
    S("schedule-free-adamw", "lr-free", 2.5e-3, lambda c, r: schedule_free_adamw(r, warmup_steps=c.steps(0.05)), "schedule-free AdamW, evaluated at x", eval_params=_schedule_free),
    S("prodigy", "lr-free", 1.0, lambda c, r: prodigy(r), "Prodigy, rate x1"),
    # parameter averaging
    S("ema-weights", "averaging", 0.1, lambda c, r: optax.chain(sgdm(r), ema_params(0.99)), "SGD-momentum 0.1, evaluated on an EMA (0.99) of the weights", eval_params=_averaged),
    S("polyak", "averaging", 0.1, lambda c, r: optax.chain(sgdm(r), polyak_averaging(c.steps(0.5))), "SGD-momentum 0.1, evaluated on the mean of the second half's weights", eval_params=_averaged),
)  # fmt: skip
del S


def select(names: Sequence[str] | None) -> list[Strategy]:
    """The strategies named (or in the families named), in table order.

    ``None`` or an empty list selects every strategy.

    Raises:
      ValueError: naming an unknown strategy or family and listing the known ones.

    Examples:
        >>> import lrjax.compare
        >>> [s.name for s in lrjax.compare.select(["cosine", "lr-free"])]
        ['cosine', 'schedule-free-adamw', 'prodigy']
        >>> (adam,) = lrjax.compare.select(["adam"])
        >>> adam.family, adam.rate, adam.summary
        ('adaptive', 0.001, 'Adam, rate 1e-3')
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
