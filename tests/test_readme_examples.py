"""The Python examples of the README and of the documentation pages run as written.

Every ``python`` block of ``README.md``, of the guide pages ``docs/*.md`` and
of the API reference pages ``docs/api/*.md`` is executed. A page's blocks are
grouped by its ``##`` sections (the text before the first one is a section
too) and each section's blocks run in order in one namespace, so later blocks
use earlier names. The namespace holds what the surrounding prose assumes (a
model's ``params``, ``grads``, a ``loss_fn`` with data ``x``, ``y``, a
schedule); a block that defines its own names (the plateau example trains a
model from scratch) overrides them. Claims a block prints are checked where
it states a number. The packing pages' blocks are checked further against
optax in ``tests/test_packed.py`` and ``tests/test_packed_params.py``.
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

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "docs" / "api").glob("*.md")),
]
# The pages that hold the examples of reacting rates, sweeps and comparisons.
GUIDE_PAGES = ("reacting_rates.md", "tuning.md", "comparing.md")


def section_blocks(page: pathlib.Path) -> dict[str, str]:
    """``{"page: section": code}``, each section's python blocks joined."""
    blocks = {}
    for part in page.read_text().split("\n## "):
        title = part.split("\n", 1)[0].strip("# ").strip()
        code = re.findall(r"```python\n(.*?)```", part, flags=re.S)
        if code:
            name = str(page.relative_to(ROOT))
            blocks[f"{name}: {title}"] = "\n".join(code)
    return blocks


BLOCKS = {k: v for page in PAGES for k, v in section_blocks(page).items()}


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


def test_the_pages_have_examples():
    for name in GUIDE_PAGES:
        assert any(k.startswith(f"docs/{name}:") for k in BLOCKS), name
    reacting = [k for k in BLOCKS if k.startswith("docs/reacting_rates.md:")]
    assert len(reacting) >= 6
    assert any(k.startswith("README.md:") for k in BLOCKS)


@pytest.mark.parametrize("title", list(BLOCKS))
def test_documentation_examples_run(title, capsys):
    code = BLOCKS[title]
    ns = namespace()
    exec(compile(code, title, "exec"), ns)  # noqa: S102
    out = capsys.readouterr().out
    if "report_metric" in code and "train_step" in code:
        # The plateau example: the rate is the base rate halved per reduction,
        # and the run made at least one reduction.
        rate = float(lrjax.get_learning_rate(ns["state"]))
        reductions = np.log(0.05 / rate) / np.log(2.0)
        assert reductions == pytest.approx(round(reductions), abs=1e-4)
        assert round(reductions) >= 1
    if "lrjax.sweep(" in code:
        assert "adam" in out and "sgd-cosine" in out and "best" in out
        runs = ns["result"].strategies["adam"]
        assert runs.final_metrics["loss"].shape == (2,)
        assert np.all(np.isfinite(runs.train_loss))
    if "lc.compare(" in code:
        assert all(name in out for name in ("constant", "cosine", "adam"))
    if "lrjax.prodigy()" in code:
        assert float(out.strip().split()[-1]) == pytest.approx(0.8248, rel=1e-3)
    if "def train_step" in code and "warmup_cosine_decay_schedule" in code:
        # The training-step example: one warmup step at its initial rate.
        assert float(lrjax.get_learning_rate(ns["opt_state"])) == pytest.approx(1e-3)
        assert np.isfinite(float(ns["loss"]))
