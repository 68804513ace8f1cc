"""What a sweep prints, writes and draws: a ranked table, three CSV files and a
four-panel figure (:meth:`SweepResult.table`, ``.to_csv`` and ``.plot`` call
these).

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

from lrjax.tune.stats import StrategySummary, summarise

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    """Which seeds the summarised values come from, in words."""
    fresh = [s.name for s in summaries.values() if s.fresh_seeds]
    selection = [s.name for s in summaries.values() if not s.fresh_seeds]
    what = f"the chosen rate's {result.metric}"
    fresh_words = "fresh seeds (a re-run after selection)"
    selection_words = (
        "the seeds the rate was selected on (optimistic: it was chosen for them)"
    )
    if not selection:
        return f"values: {what} on {fresh_words}"
    if not fresh:
        return f"values: {what} on {selection_words}"
    return (
        f"values: {what} on {fresh_words} for {', '.join(fresh)};\n"
        f"        on {selection_words} for {', '.join(selection)}"
    )


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
            str(rank), s.name, f"{s.chosen_rate:.3g}{EDGE_MARKS[s.at_edge]}",
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
)  # fmt: skip


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
      :func:`table`, in its order.

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
                        int(r == runs.chosen), _text(runs.final_metric[r, s]),
                        _text(runs.steps_trained[r, s]),
                        _text(runs.eval_steps[e]) if e >= 0 else "",
                        *(
                            _text(runs.eval_metrics[m][r, s, e])
                            if m in runs.eval_metrics and e >= 0 else ""
                            for m in names
                        ),
                    ])  # fmt: skip
            if runs.final_seeds is None or runs.final_metrics is None:
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
                "fresh seeds" if s.fresh_seeds else "selection seeds", s.n,
                _text(s.mean), _text(s.std), _text(s.ci_low), _text(s.ci_high),
                int(s.best), int(s.indistinguishable_from_best),
                _text(s.p_value_vs_best), int(runs.compilations),
                _text(float(runs.compile_seconds)), _text(float(runs.run_seconds)),
                int(runs.member_steps), result.method, int(result.budget),
                int(result.higher_is_better), s.at_edge,
            ])  # fmt: skip
    return paths


def _over_seeds(x: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """Mean, min and max over ``axis`` of the finite values (NaN where there
    are none: stopped or diverged members leave gaps, not warnings)."""
    x = np.asarray(x, np.float64)
    finite = np.isfinite(x)
    count = finite.sum(axis)
    mean = np.where(finite, x, 0.0).sum(axis) / np.maximum(count, 1)
    low = np.where(finite, x, np.inf).min(axis)
    high = np.where(finite, x, -np.inf).max(axis)
    none = count == 0
    return tuple(np.where(none, np.nan, v) for v in (mean, low, high))


def _positive(x: np.ndarray) -> np.ndarray:
    """NaN for values a log axis cannot show."""
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, np.nan)


def strategy_colours(names: list[str]) -> dict[str, Any]:
    """One qualitative colour per strategy: tab10's for up to 10, else tab20's
    (repeating past 20)."""
    import matplotlib

    palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"].colors
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def _band(ax: Any, x: np.ndarray, low: np.ndarray, high: np.ndarray, colour) -> None:
    where = np.isfinite(low) & np.isfinite(high)
    if np.any(where & (high > low)):
        ax.fill_between(x, low, high, where=where, color=colour, alpha=0.15, lw=0)


def plot(result: SweepResult, path: str | None = None) -> Figure:
    """Draws the sweep in four panels and saves it to ``path`` when given.

    (a) rate sensitivity: each rate's final metric, the mean over seeds (line
    and markers) and the seeds' min..max (band), on a log rate axis, with the
    chosen rate starred, rates stopped early (halving) hollow and rates where
    a seed's metric is not finite (it diverged) crossed at the top: how wide
    each strategy's good range is;
    (b) the chosen rate's training loss per step (log axis; mean over seeds
    and band); (c) the learning rate the chosen members applied per step,
    every seed (schedules, and the schedules PBT discovers); (d) the
    selection metric at each evaluation of the chosen rate (mean and band).
    Means and bands use the finite values only, so stopped members (NaN) leave
    gaps. The metric's axes are logarithmic when lower is better and every
    value is positive. Needs matplotlib (the ``examples`` extra).

    Returns:
      The :class:`matplotlib.figure.Figure` (not registered with pyplot).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = list(result.strategies)
    colours = strategy_colours(names)
    metric = result.metric
    seen = np.concatenate([
        np.ravel(np.asarray(a, np.float64))
        for runs in result.strategies.values()
        for a in (runs.final_metric, runs.eval_metrics[metric])
    ])  # fmt: skip
    seen = seen[np.isfinite(seen)]
    log_metric = (
        not result.higher_is_better and seen.size > 0 and bool(np.all(seen > 0))
    )
    shown = _positive if log_metric else (lambda x: np.asarray(x, np.float64))

    figure = Figure(figsize=(13, 9.5), layout="constrained")
    (sens, loss_ax), (rate_ax, eval_ax) = figure.subplots(2, 2)
    handles = []
    for name, runs in result.strategies.items():
        c, chosen = colours[name], runs.chosen
        rates = np.asarray(runs.rates, np.float64)
        order = np.argsort(rates)
        final = np.asarray(runs.final_metric, np.float64)[order]
        mean, low, high = (shown(v) for v in _over_seeds(final, axis=1))
        # Rates stopped early (successive halving) get hollow markers: their
        # metric is from an earlier evaluation than the survivors'.
        trained = np.asarray(runs.steps_trained)[order]
        early = np.any(trained < trained.max(), axis=1)
        sens.plot(rates[order], mean, "o-", color=c, ms=5, lw=1.5,
                  markevery=list(np.flatnonzero(~early)))  # fmt: skip
        if np.any(early):
            sens.plot(rates[order][early], mean[early], "o", ls="none", color=c,
                      ms=5, mfc="white")  # fmt: skip
        _band(sens, rates[order], low, high, c)
        at = int(np.flatnonzero(order == chosen)[0])
        if np.isfinite(mean[at]):
            sens.plot(rates[chosen], mean[at], "*", color=c, ms=15, mec="black",
                      mew=0.8, zorder=4)  # fmt: skip
        diverged = ~np.all(np.isfinite(final), axis=1)
        if np.any(diverged):  # at the top of the axes: their values are not finite
            sens.plot(rates[order][diverged], np.ones(diverged.sum()), "x",
                      color=c, ms=8, mew=2, transform=sens.get_xaxis_transform(),
                      clip_on=False)  # fmt: skip

        loss = np.asarray(runs.train_loss, np.float64)[chosen]
        steps = np.arange(1, loss.shape[-1] + 1)
        mean, low, high = (_positive(v) for v in _over_seeds(loss, axis=0))
        loss_ax.plot(steps, mean, color=c, lw=1.2)
        _band(loss_ax, steps, low, high, c)

        for seed_rates in np.asarray(runs.learning_rate, np.float64)[chosen]:
            rate_ax.plot(steps, _positive(seed_rates), color=c, lw=1.0, alpha=0.8)

        evals = np.asarray(runs.eval_metrics[metric], np.float64)[chosen]
        eval_steps = np.asarray(runs.eval_steps)
        mean, low, high = (shown(v) for v in _over_seeds(evals, axis=0))
        eval_ax.plot(eval_steps, mean, "o-", color=c, ms=3, lw=1.5)
        _band(eval_ax, eval_steps, low, high, c)
        handles.append(
            Line2D([], [], color=c, lw=2, label=f"{name} (rate {rates[chosen]:.3g})")
        )
    handles += [
        Line2D([], [], ls="none", marker="*", ms=12, color="grey", mec="black",
               label="chosen rate"),
        Line2D([], [], ls="none", marker="x", ms=8, mew=2, color="grey",
               label="a seed diverged (not finite)"),
        Line2D([], [], ls="none", marker="o", ms=5, color="grey", mfc="white",
               label="stopped early (halving)"),
        Patch(color="grey", alpha=0.3, label="seeds' min..max"),
    ]  # fmt: skip

    yscale = "log" if log_metric else "linear"
    sens.set(xscale="log", yscale=yscale, xlabel="initial (peak) learning rate",
             ylabel=metric, title="(a) rate sensitivity: final metric per rate")  # fmt: skip
    loss_ax.set(yscale="log", xlabel="step", ylabel="training loss",
                title="(b) training loss of the chosen rate")  # fmt: skip
    rate_ax.set(yscale="log", xlabel="step", ylabel="learning rate",
                title="(c) learning rate applied by the chosen members")  # fmt: skip
    eval_ax.set(yscale=yscale, xlabel="step", ylabel=metric,
                title=f"(d) {metric} of the chosen rate at each evaluation")  # fmt: skip
    for ax in (sens, loss_ax, rate_ax, eval_ax):
        ax.grid(alpha=0.3, which="both", lw=0.5)
    figure.legend(handles=handles, loc="outside lower center", frameon=False,
                  ncol=min(len(handles), 4))  # fmt: skip
    better = "higher" if result.higher_is_better else "lower"
    figure.suptitle(
        f"{result.method} sweep, {metric} ({better} is better); lines: mean over "
        "seeds, bands: lowest to highest seed"
    )
    if path is not None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure
