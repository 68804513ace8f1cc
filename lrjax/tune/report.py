"""What a sweep prints, writes and draws: a ranked table, three CSV files and a
four-panel figure (:meth:`SweepResult.table`, ``.to_csv`` and ``.plot`` call
these; the figure is drawn by :mod:`lrjax.tune.figure`).

Only the fields of :class:`~lrjax.tune.result.SweepResult` and
:class:`~lrjax.tune.result.StrategyRuns` are read, so synthetic results with
the same fields work too.
"""

from __future__ import annotations

import csv
import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from lrjax.tune.figure import plot, strategy_colours
from lrjax.tune.stats import StrategySummary, summarise

if TYPE_CHECKING:
    from lrjax.tune.result import StrategyRuns, SweepResult

__all__ = [
    "CURVE_COLUMNS",
    "EDGE_MARKS",
    "MEMBER_COLUMNS",
    "SUMMARY_COLUMNS",
    "metric_names",
    "plot",
    "strategy_colours",
    "table",
    "to_csv",
]


def _values_note(summaries: dict[str, StrategySummary], result: SweepResult) -> str:
    """Which seeds (and, under PBT, which members) the values come from."""
    fresh = [s.name for s in summaries.values() if s.fresh_seeds]
    selection = [s.name for s in summaries.values() if not s.fresh_seeds]
    what = f"the chosen rate's {result.metric}"
    fresh_words = "fresh seeds (a re-run after selection)"
    selection_words = (
        "the seeds the rate was selected on (optimistic: it was chosen for them)"
    )
    if result.method == "pbt":
        what = (
            f"the final {result.metric} of the members descended from the chosen "
            "initial rate (the best member among them)"
        )
        fresh_words = (
            f"the chosen initial rate's {result.metric} on fresh seeds at a fixed "
            "rate (a re-run after selection)"
        )
        if not selection:
            return f"values: {fresh_words}"
        if not fresh:
            return f"values: {what}, on {selection_words}"
    if not selection:
        return f"values: {what} on {fresh_words}"
    if not fresh:
        return f"values: {what} on {selection_words}"
    return (
        f"values: {what} on {fresh_words} for {', '.join(fresh)};\n"
        f"        on {selection_words} for {', '.join(selection)}"
    )


def _rate_text(s: StrategySummary) -> str:
    if math.isnan(s.chosen_rate):
        return "none"
    return f"{s.chosen_rate:.3g}{EDGE_MARKS[s.at_edge]}"


def _mark(s: StrategySummary) -> str:
    if s.best:
        return "best"
    if math.isnan(s.p_value_vs_best):
        return "?"
    return "≈best" if s.indistinguishable_from_best else ""


EDGE_MARKS = {"": "", "highest": "↑", "lowest": "↓"}


def table(result: SweepResult, alpha: float = 0.05) -> str:
    """A fixed-width table of the strategies, best mean metric first.

    Columns: rank, strategy, chosen rate, the metric's mean ± sample std over
    seeds, its 95% Student-t interval, the number of seeds n, a mark (``best``;
    ``≈best`` where Welch's t-test against the best gives p >= ``alpha``;
    ``?`` where it cannot be run: fewer than two values, or not finite), that
    p-value, compile and run seconds and member-steps. A chosen rate marked
    ``↑`` (``↓``) is the highest (lowest) tried. Footer lines name the
    test, the seeds the numbers come from (:func:`lrjax.tune.stats.summarise`)
    and the search method.
    """
    summaries = summarise(result, alpha)
    head = [
        "#", "strategy", "rate", f"{result.metric} mean ± std", "95% CI", "n",
        "vs best", "p", "compile s", "run s", "member-steps",
    ]  # fmt: skip
    rows = []
    for rank, s in enumerate(summaries.values(), 1):
        runs = result.strategies[s.name]
        rows.append([
            str(rank), s.name, _rate_text(s),
            f"{s.mean:.4g} ± {s.std:.2g}", f"[{s.ci_low:.4g}, {s.ci_high:.4g}]",
            str(s.n), _mark(s), "" if s.best else f"{s.p_value_vs_best:.3g}",
            f"{runs.compile_seconds:.1f}", f"{runs.run_seconds:.1f}",
            str(int(runs.member_steps)),
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    left = {1, 3, 4, 6}  # text columns; numbers align right

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    header = line(head)
    better = "higher" if result.higher_is_better else "lower"
    footer = [
        "≈best: Welch's t-test (unequal variances; Welch 1947) against the best "
        f"finds no difference at the {100 * alpha:g}% level",
        f"        (two-sided p >= {alpha:g}); ?: untestable (under 2 values, or not finite)",
        _values_note(summaries, result),
        f"method: {result.method}; budget: {result.budget} steps per member; "
        f"{result.metric}: {better} is better",
    ]
    if any(s.at_edge for s in summaries.values()):
        footer.append(
            "↑/↓: the chosen rate is the highest/lowest tried; the best may lie "
            "beyond it: widen the rates"
        )
    unchosen = [s.name for s in summaries.values() if math.isnan(s.chosen_rate)]
    if unchosen:
        footer.append(
            f"none: no rate chosen for {', '.join(unchosen)}: every rate's "
            f"{result.metric} was NaN or infinite (no final seeds run)"
        )
    single = [
        name
        for name, runs in result.strategies.items()
        if getattr(runs, "rungs", None) is not None and len(runs.rungs) == 1
    ]
    if single:
        footer.append(
            f"halving had a single rung (the whole budget) for {', '.join(single)}: "
            "every rate trained the budget, as a grid (lower min_steps)"
        )
    return "\n".join([header, "-" * len(header), *map(line, rows), *footer])


MEMBER_COLUMNS = (
    "strategy", "phase", "rate", "seed", "chosen", "final_metric",
    "steps_trained", "last_eval_step",
)  # fmt: skip
CURVE_COLUMNS = (
    "strategy", "rate", "seed", "kind", "step", "train_loss", "learning_rate",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "rank", "strategy", "chosen_rate", "metric", "values", "n", "mean", "std",
    "ci_low", "ci_high", "best", "indistinguishable_from_best",
    "p_value_vs_best", "compilations", "compile_seconds", "run_seconds",
    "member_steps", "method", "budget", "higher_is_better", "rate_at_edge",
    "learning_rate_recorded",
)  # fmt: skip


def _values_kind(s: StrategySummary, runs: StrategyRuns, result: SweepResult) -> str:
    """The summary CSV's ``values`` cell: where the summarised values come from."""
    if math.isnan(s.chosen_rate):
        return "none (no rate chosen)"
    if s.fresh_seeds:
        return "fresh seeds"
    if getattr(runs, "lineage", None) is not None:
        return "selection seeds (chosen lineage)"
    return "selection seeds"


def metric_names(result: SweepResult) -> list[str]:
    """Every evaluation metric of any strategy, in the order first met."""
    names: dict[str, None] = {}
    for runs in result.strategies.values():
        names.update(dict.fromkeys(runs.eval_metrics))
        names.update(dict.fromkeys(runs.final_metrics or {}))
    return list(names)


def _text(x: Any) -> str:
    """Shortest text that reads back to the same number (float32 stays float32)."""
    return str(x.item() if isinstance(x, np.integer) else x)


def _last_evaluations(runs: StrategyRuns) -> np.ndarray:
    """(R, S) index of each member's last evaluation (-1 for none): the last
    eval step within the steps it trained (halving stops members early)."""
    done = (
        np.asarray(runs.eval_steps)[None, None, :]
        <= np.asarray(runs.steps_trained)[..., None]
    )
    count = done.sum(axis=-1)
    return np.where(count > 0, done.shape[-1] - 1 - np.argmax(done[..., ::-1], -1), -1)


def to_csv(result: SweepResult, directory: str, alpha: float = 0.05) -> list[str]:
    """Writes the sweep's numbers to three CSV files in ``directory`` (created).

    * ``sweep_members.csv`` (:data:`MEMBER_COLUMNS` and one column per
      :func:`metric_names`): a ``sweep`` row per strategy, rate and seed with
      its final metric, steps trained and every metric at its last evaluation
      (the last eval step within its steps trained; empty when none), and a
      ``final`` row per fresh seed of the chosen rate's re-run, if any (its
      metrics at the end of the budget).
    * ``sweep_curves.csv`` (:data:`CURVE_COLUMNS` and the metric columns),
      long format: ``train`` rows per step (1-based: the step whose loss and
      rate they are) up to the member's steps trained, and ``eval`` rows per
      evaluation it reached; a member's rows stop where it stopped.
    * ``sweep_summary.csv`` (:data:`SUMMARY_COLUMNS`): the numbers of
      :func:`table`, in its order; ``values`` says where they come from
      (``fresh seeds``, ``selection seeds``, ``selection seeds (chosen
      lineage)`` under PBT, ``none (no rate chosen)``: then ``chosen_rate``
      and the statistics are ``nan``), and ``learning_rate_recorded`` is 0
      for a strategy whose state records no rate: its ``learning_rate``
      curves hold the base rate, not the rate applied (a plain optax
      optimizer's schedule is invisible to the sweep).

    Numbers are written in their shortest exact form; NaN as ``nan``, and a
    column that does not apply to a row is empty.

    Returns:
      The three paths, in that order.
    """
    os.makedirs(directory, exist_ok=True)
    paths = [
        os.path.join(directory, f"sweep_{part}.csv")
        for part in ("members", "curves", "summary")
    ]
    names = metric_names(result)
    with open(paths[0], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*MEMBER_COLUMNS, *names])
        for name, runs in result.strategies.items():
            last = _last_evaluations(runs)
            for r, rate in enumerate(runs.rates):
                for s, seed in enumerate(runs.seeds):
                    e = last[r, s]
                    writer.writerow([
                        name, "sweep", _text(rate), _text(seed),
                        int(runs.chosen is not None and r == runs.chosen),
                        _text(runs.final_metric[r, s]),
                        _text(runs.steps_trained[r, s]),
                        _text(runs.eval_steps[e]) if e >= 0 else "",
                        *(
                            _text(runs.eval_metrics[m][r, s, e])
                            if m in runs.eval_metrics and e >= 0 else ""
                            for m in names
                        ),
                    ])  # fmt: skip
            if (
                runs.chosen is None
                or runs.final_seeds is None
                or runs.final_metrics is None
            ):
                continue
            final = runs.final_metrics
            for f_i, seed in enumerate(runs.final_seeds):
                writer.writerow([
                    name, "final", _text(runs.rates[runs.chosen]), _text(seed), 1,
                    _text(final[result.metric][f_i]) if result.metric in final else "",
                    int(result.budget), int(result.budget),
                    *(_text(final[m][f_i]) if m in final else "" for m in names),
                ])  # fmt: skip
    with open(paths[1], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*CURVE_COLUMNS, *names])
        for name, runs in result.strategies.items():
            loss, lr = np.asarray(runs.train_loss), np.asarray(runs.learning_rate)
            trained = np.asarray(runs.steps_trained)
            steps = np.arange(loss.shape[-1])
            eval_steps = np.asarray(runs.eval_steps)
            values = [runs.eval_metrics.get(m) for m in names]
            values = [None if v is None else np.asarray(v) for v in values]
            for r, rate in enumerate(runs.rates):
                for s, seed in enumerate(runs.seeds):
                    key = [name, _text(rate), _text(seed)]
                    # Up to the steps trained, and any later finite value too,
                    # so nothing the engine recorded is lost.
                    keep = (steps < trained[r, s]) | np.isfinite(loss[r, s])
                    keep |= np.isfinite(lr[r, s])
                    for t in np.flatnonzero(keep):
                        writer.writerow([
                            *key, "train", t + 1, _text(loss[r, s, t]),
                            _text(lr[r, s, t]), *([""] * len(names)),
                        ])  # fmt: skip
                    for e, step in enumerate(eval_steps):
                        reached = step <= trained[r, s] or any(
                            v is not None and np.isfinite(v[r, s, e]) for v in values
                        )
                        if reached:
                            writer.writerow([
                                *key, "eval", _text(step), "", "",
                                *("" if v is None else _text(v[r, s, e]) for v in values),
                            ])  # fmt: skip
    summaries = summarise(result, alpha)
    with open(paths[2], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SUMMARY_COLUMNS)
        for rank, s in enumerate(summaries.values(), 1):
            runs = result.strategies[s.name]
            writer.writerow([
                rank, s.name, _text(s.chosen_rate), result.metric,
                _values_kind(s, runs, result), s.n,
                _text(s.mean), _text(s.std), _text(s.ci_low), _text(s.ci_high),
                int(s.best), int(s.indistinguishable_from_best),
                _text(s.p_value_vs_best), int(runs.compilations),
                _text(float(runs.compile_seconds)), _text(float(runs.run_seconds)),
                int(runs.member_steps), result.method, int(result.budget),
                int(result.higher_is_better), s.at_edge,
                int(getattr(runs, "records_rate", True)),
            ])  # fmt: skip
    return paths
