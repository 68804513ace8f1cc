"""Schedule-free SGD and AdamW against the paper's Algorithm 1, in NumPy.

Algorithm 1 of "The Road Less Scheduled" (Defazio et al., 2024) and its
reference PyTorch implementation (``schedulefree.SGDScheduleFree``,
``AdamWScheduleFree``) use the warmup rate of the current step both for the
step of ``z`` and for the averaging weight. lrjax follows them;
optax.contrib's warmup runs one step out of phase with its weights (checked
below as the documented difference). Without warmup lrjax equals optax.contrib
(see ``test_lr_free.py``, and the evaluation parameters below).

For AdamW the reference keeps optax's base step (Adam's bias correction on
the second moment, ``eps`` outside the root). The paper's AdamW instead folds
``sqrt(1 - b2**t)`` into ``gamma_t``, and so into the averaging weights; lrjax,
like optax.contrib, does not (documented in ``schedule_free_adamw``).
"""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib as oc
import pytest
from test_lr_free import DEFAULT_ATOL, RTOL, SF_ADAMW_ATOL, problem, trajectory

import lrjax


def test_schedule_free_rate_is_the_base_rate_counted_once():
    params, loss = problem()
    # The lrjax base records its rate: the wrapper must not record it again.
    ours = trajectory(lrjax.schedule_free(lrjax.sgd(0.1), 0.1), params, loss, 2)
    np.testing.assert_allclose(lrjax.get_learning_rate(ours[-1][2]), 0.1)
    # An optax base records none: the wrapper records it.
    opt = lrjax.schedule_free(optax.sgd(0.1), 0.1)
    ours = trajectory(opt, params, loss, 2)
    np.testing.assert_allclose(lrjax.get_learning_rate(ours[-1][2]), 0.1)
    assert ours[-1][2].learning_rate is not None


# --------------------------------------------------------------------------
# Schedule-free warmup: the paper's Algorithm 1, transcribed in NumPy.


def paper_schedule_free(params, grad, lr, warmup, b1, steps, *, adam=None, wd=0.0):
    """Algorithm 1 of "The Road Less Scheduled" (float64), y/x per step.

    ``gamma_t = lr * min(1, t / warmup)`` for ``t = 1, 2, ...`` drives both
    the step of ``z`` and the weight ``c_{t+1} = gamma_t**2 / sum gamma_i**2``
    (``weight_lr_power=2``, ``max`` over the rates so far as in the reference
    implementation). ``adam=(b2, eps)`` gives AdamW with optax's base step
    ``g / (sqrt(v / (1 - b2**t)) + eps)`` (see the module docstring).
    """
    z = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = {k: v.copy() for k, v in z.items()}
    v = {k: np.zeros_like(a) for k, a in z.items()}
    y = {k: a.copy() for k, a in z.items()}
    lr_max, weight_sum, ys, xs, rates = 0.0, 0.0, [], [], []
    for t in range(1, steps + 1):
        g = grad(y)
        gamma = lr * min(1.0, t / warmup)
        for k in z:
            step = g[k]
            if adam is not None:
                b2, eps = adam
                v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
                step = g[k] / (np.sqrt(v[k] / (1 - b2**t)) + eps)
            z[k] = z[k] - gamma * (step + wd * y[k])
        lr_max = max(lr_max, gamma)
        weight_sum += lr_max**2
        c = lr_max**2 / weight_sum
        for k in z:
            x[k] = (1 - c) * x[k] + c * z[k]
            y[k] = (1 - b1) * z[k] + b1 * x[k]
        ys.append({k: a.copy() for k, a in y.items()})
        xs.append({k: a.copy() for k, a in x.items()})
        rates.append(gamma)
    return ys, xs, rates


def _flat_problem():
    r = np.random.RandomState(7)
    params = {"w": jnp.asarray(r.randn(5, 3), jnp.float32)}
    target = {"w": 2.0 * r.randn(5, 3)}
    curv = {"w": 0.5 + r.rand(5, 3)}

    def loss(p):
        return 0.5 * jnp.sum(curv["w"] * (p["w"] - target["w"]) ** 2)

    def np_grad(p):
        return {"w": curv["w"] * (p["w"] - target["w"])}

    return params, loss, np_grad


@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("sgd", dict(learning_rate=0.2, warmup_steps=5, b1=0.9)),
        ("sgd", dict(learning_rate=0.2, warmup_steps=5, b1=0.8, weight_decay=0.05)),
        ("sgd", dict(learning_rate=0.2, warmup_steps=1, b1=0.9)),
        ("adamw", dict(learning_rate=0.1, warmup_steps=8, b1=0.9)),
        ("adamw", dict(learning_rate=0.1, warmup_steps=8, b1=0.95, weight_decay=0.1)),
    ],
)
def test_schedule_free_warmup_follows_the_paper(kind, kwargs):
    params, loss, np_grad = _flat_problem()
    factory = getattr(lrjax, f"schedule_free_{kind}")
    opt = factory(**kwargs)
    wd = kwargs.get("weight_decay") or 0.0
    adam = (0.999, 1e-8) if kind == "adamw" else None
    ys, xs, rates = paper_schedule_free(
        {"w": np.asarray(params["w"])},
        np_grad,
        kwargs["learning_rate"],
        kwargs["warmup_steps"],
        kwargs["b1"],
        20,
        adam=adam,
        wd=wd,
    )
    ours = trajectory(opt, params, loss)
    # float32 against float64; parameters are of size 1-3 (Adam's normalised
    # steps of coordinates near their optimum differ by up to 2e-6).
    for k, (_, p, state) in enumerate(ours):
        np.testing.assert_allclose(p["w"], ys[k]["w"], rtol=1e-5, atol=1e-5)
        x = lrjax.schedule_free_eval_params(state, p)
        np.testing.assert_allclose(x["w"], xs[k]["w"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(lrjax.get_learning_rate(state), rates[k], rtol=1e-6)


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_optax_contrib_warmup_is_one_step_out_of_phase(kind):
    """The documented difference: optax's first warmup step does not move z."""
    params, loss, np_grad = _flat_problem()
    kwargs = dict(learning_rate=0.2, warmup_steps=5)
    ys, _, _ = paper_schedule_free(
        {"w": np.asarray(params["w"])},
        np_grad,
        0.2,
        5,
        0.9,
        3,
        adam=(0.999, 1e-8) if kind == "adamw" else None,
    )
    theirs = trajectory(getattr(oc, f"schedule_free_{kind}")(**kwargs), params, loss, 3)
    np.testing.assert_allclose(theirs[0][1]["w"], params["w"], rtol=0, atol=1e-6)
    assert not np.allclose(theirs[2][1]["w"], ys[2]["w"], rtol=1e-3)
    ours = trajectory(
        getattr(lrjax, f"schedule_free_{kind}")(**kwargs), params, loss, 3
    )
    assert not np.allclose(ours[0][1]["w"], params["w"], rtol=1e-3)


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_schedule_free_eval_params_match_optax_without_warmup(kind):
    params, loss = problem()
    ours = trajectory(getattr(lrjax, f"schedule_free_{kind}")(0.05), params, loss)
    theirs = trajectory(getattr(oc, f"schedule_free_{kind}")(0.05), params, loss)
    for (_, p, s), (_, p_ref, s_ref) in zip(ours, theirs, strict=True):
        chex.assert_trees_all_close(
            lrjax.schedule_free_eval_params(s, p),
            oc.schedule_free_eval_params(s_ref, p_ref),
            rtol=RTOL,
            atol=SF_ADAMW_ATOL if kind == "adamw" else DEFAULT_ATOL,
        )


def test_schedule_free_eval_params_find_the_state_inside_containers():
    params, loss = problem()
    opt = optax.chain(optax.clip(100.0), lrjax.schedule_free_sgd(0.05))
    out = trajectory(opt, params, loss, 3)
    _, p, state = out[-1]
    inner = state[1]
    chex.assert_trees_all_close(
        lrjax.schedule_free_eval_params(state, p),
        lrjax.schedule_free_eval_params(inner, p),
    )
    injected = optax.inject_hyperparams(lrjax.schedule_free_sgd)(learning_rate=0.05)
    _, p_inj, state_inj = trajectory(injected, params, loss, 3)[-1]
    chex.assert_trees_all_close(
        lrjax.schedule_free_eval_params(state_inj, p_inj),
        lrjax.schedule_free_eval_params(state, p),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="ScheduleFreeState"):
        lrjax.schedule_free_eval_params(lrjax.sgd(0.1).init(params), params)
