"""The README's examples of reacting rates and of ``lrjax.sweep`` run as written.

The ``python`` blocks of each subsection of "Rates that react to training"
(and of "Tuning rates on your model" and "Comparing strategies") are executed, in order, in
a namespace holding what the surrounding prose assumes (a model's
``params``, ``grads``, a ``loss_fn`` with data ``x``, ``y``, a schedule); a
block that defines its own names (the plateau example trains a model from
scratch) overrides them. Claims a block prints are checked where it states a
number.
"""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import pytest

import lrjax

matplotlib.use("Agg")

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SECTIONS = (
    "## Comparing strategies",
    "## Rates that react to training",
    "## Tuning rates on your model",
)


def subsection_blocks() -> dict[str, str]:
    """Each subsection's python blocks, joined: later blocks use earlier names."""
    text = README.read_text()
    blocks = {}
    for section in SECTIONS:
        start = text.index(section)
        end = text.index("\n## ", start + len(section))
        blocks.update(_blocks_of(text[start:end]))
    return blocks


def _blocks_of(section: str) -> dict[str, str]:
    parts = section.split("\n### ")
    if len(parts) > 1:
        parts = parts[1:]  # the subsections; else the section as one
    blocks = {}
    for part in parts:
        title = part.split("\n", 1)[0].strip("# ").strip()
        code = re.findall(r"```python\n(.*?)```", part, flags=re.S)
        if code:
            blocks[title] = "\n".join(code)
    return blocks


BLOCKS = subsection_blocks()


def namespace() -> dict:
    rng = np.random.RandomState(0)
    x = rng.randn(512, 8).astype(np.float32)
    y = (x @ rng.randn(8) > 0).astype(np.float32)

    def loss_fn(params, batch):
        xb, yb = batch
        logits = xb @ params["w"] + params["b"]
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, yb))

    params = {"w": jnp.zeros(8), "b": jnp.zeros(())}
    grads = jax.grad(loss_fn)(params, (x[:64], y[:64]))
    return dict(
        jax=jax, jnp=jnp, np=np, optax=optax, lrjax=lrjax,
        x=x, y=y, loss_fn=loss_fn, params=params, grads=grads,
        epoch_loss=jnp.float32(0.5),
        sched=lrjax.cosine_decay_schedule(1e-3, 100),
    )  # fmt: skip


def test_the_section_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("title", list(BLOCKS))
def test_readme_examples_run(title, capsys):
    code = BLOCKS[title]
    ns = namespace()
    exec(compile(code, f"README.md, {title}", "exec"), ns)
    if "report_metric" in code and "train_step" in code:
        # The plateau example: the rate is the base rate halved per reduction,
        # and the run made at least one reduction.
        rate = float(lrjax.get_learning_rate(ns["state"]))
        reductions = np.log(0.05 / rate) / np.log(2.0)
        assert reductions == pytest.approx(round(reductions), abs=1e-4)
        assert round(reductions) >= 1
    if "lrjax.sweep(" in code:
        out = capsys.readouterr().out
        assert "adam" in out and "sgd-cosine" in out and "best" in out
        runs = ns["result"].strategies["adam"]
        assert runs.final_metrics["loss"].shape == (2,)
        assert np.all(np.isfinite(runs.train_loss))
    if "lc.compare(" in code:
        out = capsys.readouterr().out
        assert all(name in out for name in ("constant", "cosine", "adam"))
    if "lrjax.prodigy()" in code:
        out = capsys.readouterr().out
        assert float(out.strip().split()[-1]) == pytest.approx(0.8248, rel=1e-3)
