"""The per-optimizer description that the shared optimizer tests run over.

Each family's cases live in a ``cases_<family>.py`` module next to this one,
defining ``CASES: list[OptimizerCase]``; ``all_cases()`` collects them, so a
new optimizer is covered by every shared test by adding one entry.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
from collections.abc import Callable
from typing import Any

import optax
import pytest
from hypothesis import strategies as st

import lrjax

# Hyperparameter strategies and invalid entries the cases files share.
UNIT = st.floats(0.0, 0.999)  # a decay rate in [0, 1)
EPS = st.floats(1e-10, 1e-3)
F32_MOMENTS = {"mu_dtype": "float32", "nu_dtype": "float32"}
# Adam-family arguments out of range: (override, the argument it names).
ADAM_INVALID = (
    ({"b1": 1.0}, "b1"),
    ({"b2": -0.5}, "b2"),
    ({"eps": -1e-8}, "eps"),
)


@dataclasses.dataclass(frozen=True)
class OptimizerCase:
    """How to build one optimizer configuration and what to expect of it.

    Attributes:
      id: test id, unique.
      name: function name, the same in ``lrjax`` and (for parity) ``optax``.
      kwargs: hyperparameters other than the learning rate, valid for both.
      learning_rate: the rate used by the shared tests.
      lrjax_kwargs: extra keywords only lrjax accepts (excluded from parity).
      optax_parity: whether ``optax.<name>(**kwargs)`` is the same optimizer.
      parity_rtol: relative tolerance of the 200-step comparison with optax.
      converge_lr: rate (or schedule) for the convergence test.
      converge_steps: steps within which the loss must fall 100x.
      hyperparams: hypothesis strategies for valid hyperparameters.
      invalid: ``(overrides, argument name)`` pairs that must be rejected.
      has_tree_state: whether the state holds per-parameter buffers.
      params_for_variants: optional tree used instead of the default mixed tree.
      optax_module: where ``name`` lives for parity (default ``optax``;
        ``optax.contrib`` for the learning-rate-free methods).
      parity_steps: length of the comparison with optax (default 200).
      reports_learning_rate: whether ``get_learning_rate`` returns the
        ``learning_rate`` argument (False for methods that choose their own
        rate, e.g. Prodigy's ``d * lr``).
      leaf_local: whether a NaN gradient in one leaf leaves the others'
        updates finite (False for methods that use whole-tree norms).
      state_holds_params: whether the state keeps a copy of the parameters
        (abstract init then cannot reproduce its values).
      factory: builds the lrjax object as ``factory(learning_rate=lr,
        **kwargs)`` when it is not ``getattr(lrjax, name)`` (a wrapper such as
        ``mechanize``, or an optimizer chained with a controller). Give it
        explicit keyword parameters: ``optax.inject_hyperparams`` binds them.
      optax_factory: the same for the optax reference of the parity tests
        (default ``getattr(optax_module, name)``).
      takes_schedule: whether ``learning_rate`` accepts a schedule (False for
        hypergradient descent, whose rate is a starting value kept in the
        state). Tests that pass a schedule give such a case the schedule's
        value at step 0, a constant (``rate``), and say so in their test id;
        ``get_learning_rate``'s schedule test does not apply.
      extra_args: keywords passed to every ``update`` of the shared tests
        (``{"value": 1.0}`` for a controller monitoring a value). The tests
        that train on a loss (optax parity, convergence) pass the current
        loss as ``value`` instead (``extra``).
      has_step_count: whether the state holds an int32 step counter (False
        for ``sgd_hd``, whose state is its rate and last direction): the
        saturating-counter test then checks finiteness only.
      resetting_counts: how many int32 ``count`` fields of the state restart
        at 0 after each decision instead of counting steps
        (``reduce_on_plateau``'s accumulation count): the saturating-counter
        test expects that many at 0, the others saturated.
      scalar_leaf_takes_state_dtype: whether a Python-scalar gradient leaf's
        update takes the dtype of the per-parameter moment it is averaged into
        (optax's rule; default ``has_tree_state``). False where the state's
        buffers hold no moment of the updates (an averaging block after
        plain SGD): the update is float32. ``sgd_hd`` keeps the previous
        direction, so its scalar leaves take that buffer's dtype.
      optax_state_twin: whether the optax twin's per-parameter state buffers
        are the same as lrjax's, in order (False where the twin is another
        composition: a bare optimizer for an averaging chain, ``optax.sgd``
        for ``sgd_hd``): complex-parameter parity then compares updates and
        checks the state dtypes only.
      complex_checked: whether the complex-parameter checks of
        ``test_number_kinds.py`` run. False only where no reference exists
        yet: hypergradient descent with ``hypergrad_lr > 0`` and
        ``loss_adaptive_scale`` (no optax twin, no NumPy complex reference
        in ``COMPLEX_REFERENCES``), ``mechanize`` (optax.contrib's complex
        steps drift 2e-4 from lrjax's in 20 steps, beyond the test's 3e-5).
      float64_exact: whether float64 parameters give float64 precision
        throughout (False where a float32 scalar of the state, a rate or an
        estimate, enters the update): excludes the float64 parity test.
      per_leaf_state: whether the state's per-parameter buffers are shaped
        (and sharded) like the parameters: False for ``lrjax.packed``, whose
        small leaves' moments live in flat buffers.
      zero_first_updates: how many first updates are zero by design (ADOPT
        spends step 0 initialising its second moment, as optax.contrib's):
        tests that look for the effect of one update make that many updates
        first.
    """

    id: str
    name: str
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    learning_rate: float = 1e-2
    lrjax_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    optax_parity: bool = True
    parity_rtol: float = 1e-4
    converge_lr: Any = 0.1
    converge_steps: int = 300
    hyperparams: dict[str, Any] = dataclasses.field(default_factory=dict)
    invalid: tuple[tuple[dict[str, Any], str], ...] = ()
    has_tree_state: bool = True
    params_for_variants: Callable[[], Any] | None = None
    optax_module: Any = None
    parity_steps: int = 200
    reports_learning_rate: bool = True
    leaf_local: bool = True
    state_holds_params: bool = False
    factory: Callable[..., Any] | None = None
    optax_factory: Callable[..., Any] | None = None
    takes_schedule: bool = True
    extra_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    has_step_count: bool = True
    resetting_counts: int = 0
    scalar_leaf_takes_state_dtype: bool | None = None
    optax_state_twin: bool = True
    complex_checked: bool = True
    float64_exact: bool = True
    zero_first_updates: int = 0
    per_leaf_state: bool = True

    def lrjax_factory(self) -> Callable[..., Any]:
        """The callable ``make`` uses (for ``optax.inject_hyperparams``)."""
        return self.factory or getattr(lrjax, self.name)

    def make(self, learning_rate: Any = None, **overrides: Any):
        """The lrjax optimizer; ``learning_rate=None`` uses the case's rate."""
        lr = self.learning_rate if learning_rate is None else learning_rate
        kw = {**self.kwargs, **self.lrjax_kwargs, **overrides}
        return self.lrjax_factory()(learning_rate=lr, **kw)

    def make_optax(self, learning_rate: Any = None):
        lr = self.learning_rate if learning_rate is None else learning_rate
        if self.optax_factory is not None:
            return self.optax_factory(learning_rate=lr, **self.kwargs)
        module = optax if self.optax_module is None else self.optax_module
        return getattr(module, self.name)(learning_rate=lr, **self.kwargs)

    def rate(self, learning_rate: Any) -> Any:
        """``learning_rate``; a schedule's step-0 value where none is taken."""
        if self.takes_schedule or not callable(learning_rate):
            return learning_rate
        return float(learning_rate(0))

    def extra(self, loss: Any = None) -> dict[str, Any]:
        """Keywords for ``update``: ``extra_args``, ``value`` set to ``loss``."""
        if loss is not None and "value" in self.extra_args:
            return {**self.extra_args, "value": loss}
        return dict(self.extra_args)

    def __str__(self) -> str:
        return self.id


def all_cases() -> list[OptimizerCase]:
    """Every case from every ``cases_*.py`` module in this folder."""
    cases = []
    for path in sorted(pathlib.Path(__file__).parent.glob("cases_*.py")):
        cases.extend(importlib.import_module(path.stem).CASES)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), f"duplicate case ids: {ids}"
    return cases


# Cases that stand for all optimizers where a test checks a property of the
# shared blocks (the rate entry, counters, jit/pmap, tracing): one of each
# kind of state (a trace, moments, a monitored value, a rate of its own, a
# parameter copy, flat buffers).
# The default run checks these; the ``slow`` marker adds every other case.
REPRESENTATIVE_IDS = (
    "sgd_momentum",
    "adam",
    "adamw_reduce_on_plateau",
    "prodigy",
    "schedule_free_adamw",
    "packed_adam",
)


def representatives_first(cases: list[OptimizerCase]) -> list[Any]:
    """``cases`` as pytest params: representatives by default, the rest slow."""
    return [
        pytest.param(
            c,
            id=c.id,
            marks=() if c.id in REPRESENTATIVE_IDS else pytest.mark.slow,
        )
        for c in cases
    ]


def _optimizer_key(case: OptimizerCase) -> tuple[str, str | None]:
    """Cases with the same function (or wrapper) are one optimizer's variants."""
    return case.name, getattr(case.factory, "__qualname__", None)


def first_of_each_optimizer(cases: list[OptimizerCase]) -> set[str]:
    """The ids of each optimizer's first case (its other cases set flags)."""
    firsts: dict[tuple[str, str | None], str] = {}
    for case in cases:
        firsts.setdefault(_optimizer_key(case), case.id)
    return set(firsts.values()) | set(REPRESENTATIVE_IDS)


def one_per_optimizer(cases: list[OptimizerCase]) -> list[Any]:
    """``cases`` as pytest params: each optimizer's first case by default,
    its flag variants (``rmsprop_centered``, ``radam_nesterov``, ...) slow."""
    firsts = first_of_each_optimizer(all_cases())
    return [
        pytest.param(c, id=c.id, marks=() if c.id in firsts else pytest.mark.slow)
        for c in cases
    ]
