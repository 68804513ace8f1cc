"""Where lrjax's optimizers differ from optax's and PyTorch's, measured.

AMSGrad's and RAdam's forms against the written-out references of
``references.py`` (optax's and PyTorch's documented algorithms), with the
gaps that lrjax's docs state; the state layouts against optax's own objects.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import references

import lrjax

B1, B2 = 0.9, 0.999
STEPS = np.arange(1, 201)
# |g| patterns over 200 steps; AMSGrad's two forms depend on |g| only.
AMSGRAD_CASES = {
    "constant |g|": np.ones(200),
    "|g| = 1 + 0.5 sin t": 1 + 0.5 * np.sin(STEPS - 1),
    "|g| alternating 1, 0.5": np.where(STEPS % 2, 1.0, 0.5),
    "|g| alternating 1, 0.1": np.where(STEPS % 2, 1.0, 0.1),
    "first |g| 10x the rest": np.r_[10.0, np.ones(199)],
}
# The largest ratio of PyTorch's step to lrjax's over the 200 steps, to the
# digits README.md and lrjax.amsgrad's docstring state ("25%", ..., "8.3x").
AMSGRAD_RATIOS = {
    "constant |g|": (1.0, 2),
    "|g| = 1 + 0.5 sin t": (1.25, 2),
    "|g| alternating 1, 0.5": (1.27, 2),
    "|g| alternating 1, 0.1": (1.41, 2),
    "first |g| 10x the rest": (8.3, 1),
}


def amsgrad_steps(grads, b1=B1, b2=B2, eps=1e-8, pytorch=False):
    """AMSGrad's update directions ``m_hat / denominator``, per step (optax's
    form, or PyTorch's with ``pytorch=True``: see ``references.AMSGrad``)."""
    ref = references.AMSGrad(1.0, b1, b2, eps, pytorch=pytorch)
    return -np.stack(references.run(ref, grads, np.zeros_like(grads[0]))[1])


def lrjax_steps(opt, grads):
    """Updates of ``opt`` fed ``grads`` (no parameter feedback), float32."""
    params = jnp.zeros(grads.shape[1:], jnp.float32)
    state, out = opt.init(params), []
    for g in grads:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, params)
        out.append(np.asarray(u))
    return np.stack(out)


def signed(magnitudes):
    """Three coordinates: the magnitudes with steady, alternating and random signs."""
    signs = np.stack(
        [
            np.ones(magnitudes.size),
            np.where(np.arange(magnitudes.size) % 2, -1.0, 1.0),
            np.sign(np.random.RandomState(0).randn(magnitudes.size)),
        ],
        axis=1,
    )
    return magnitudes[:, None] * signs


@pytest.mark.parametrize("case", sorted(AMSGRAD_CASES))
def test_amsgrad_is_optax_form(case):
    grads = signed(AMSGRAD_CASES[case])
    got = lrjax_steps(lrjax.scale_by_amsgrad(), grads)
    want = amsgrad_steps(grads)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    opt = optax.scale_by_amsgrad()
    np.testing.assert_allclose(lrjax_steps(opt, grads), want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(AMSGRAD_CASES))
def test_amsgrad_gap_to_pytorch_is_as_stated(case):
    grads = signed(AMSGRAD_CASES[case])
    ours, torch = (
        amsgrad_steps(grads, eps=0.0),
        amsgrad_steps(grads, pytorch=True, eps=0.0),
    )
    moving = np.abs(ours) > 0
    ratio = np.abs(torch[moving]) / np.abs(ours[moving])
    assert ratio.min() >= 1 - 1e-12  # PyTorch's step is never the smaller one
    stated, digits = AMSGRAD_RATIOS[case]
    assert round(ratio.max(), digits) == stated


def test_amsgrad_gap_for_gaussian_gradients():
    grads = np.random.RandomState(0).randn(200, 64)
    ours, torch = (
        amsgrad_steps(grads, eps=0.0),
        amsgrad_steps(grads, pytorch=True, eps=0.0),
    )
    assert round((np.abs(torch) / np.abs(ours)).max(), 1) == 2.6


# --------------------------------------------------------------------------
# RAdam: where eps goes.


def pytorch_radam_steps(grads, b1=B1, b2=B2, eps=1e-8):
    """``torch.optim.RAdam``'s documented algorithm, the step before ``lr``."""
    ref = references.RAdam(1.0, b1, b2, eps, pytorch=True)
    return -np.stack(references.run(ref, grads, np.zeros_like(grads[0]))[1])


# Small gradients, where eps = 1e-6 is not negligible next to sqrt(v_hat).
RADAM_GRADS = 1e-6 * (1 + 0.5 * np.random.RandomState(1).rand(40, 3))
# lrjax forms rho_t in float32: at t = 6, rho_t = 1999 - 1993.0058 loses ~1e-4
# of r_t to cancellation (1.1e-4 measured), far below the eps effects tested.
RADAM_RTOL = 2e-4


def test_radam_equals_pytorch_without_eps():
    got = lrjax_steps(lrjax.radam(1.0, eps=0.0), RADAM_GRADS)
    want = -pytorch_radam_steps(RADAM_GRADS, eps=0.0)
    np.testing.assert_allclose(got, want, rtol=RADAM_RTOL)


def test_radam_pytorch_eps_is_lrjax_eps_times_sqrt_of_the_nu_correction():
    eps = 1e-6
    want = -pytorch_radam_steps(RADAM_GRADS, eps=eps)
    # Same eps: PyTorch's acts 1 / sqrt(1 - b2**t) times larger (12.9x at t = 6).
    same = lrjax_steps(lrjax.radam(1.0, eps=eps), RADAM_GRADS)
    assert np.abs(same[5:] / want[5:] - 1).max() > 1.0
    # lrjax's eps_t = PyTorch's eps / sqrt(1 - b2**t) at update t gives PyTorch.
    mapped = optax.inject_hyperparams(lrjax.radam)(
        learning_rate=1.0, eps=lambda count: eps / jnp.sqrt(1 - B2 ** (count + 1.0))
    )
    np.testing.assert_allclose(lrjax_steps(mapped, RADAM_GRADS), want, rtol=RADAM_RTOL)
    assert 1 / np.sqrt(1 - B2**6) == pytest.approx(12.9, abs=0.05)


# --------------------------------------------------------------------------
# State layout against optax's (README: "Differences from optax").

PARAMS = {"w": jnp.ones(3), "b": jnp.zeros([])}
RATE = ("ScaleByLearningRateState", ("count", "learning_rate"))
OPTAX_RATE = {
    "constant": ("EmptyState", ()),
    "schedule": ("ScaleByScheduleState", ("count",)),
}
# The same entries as optax's chain (names and fields) but the rate's, the last.
SAME_BUT_THE_RATE = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("adam", {}),
    ("adamw", {}),
    ("amsgrad", {}),
    ("adamax", {}),
    ("adamaxw", {}),
    ("nadam", {}),
    ("nadamw", {}),
    ("radam", {}),
    ("adabelief", {}),
    ("adagrad", {}),
    ("adadelta", {}),
    ("lion", {}),
    ("lamb", {}),
]


def layout(state) -> list[tuple[str, tuple[str, ...]]]:
    return [(type(entry).__name__, entry._fields) for entry in state]


def rate_of(kind: str):
    return 1e-3 if kind == "constant" else optax.linear_schedule(1e-3, 0.0, 10)


@pytest.mark.parametrize("rate", ["constant", "schedule"])
@pytest.mark.parametrize("name, kwargs", SAME_BUT_THE_RATE)
def test_state_differs_from_optax_only_in_the_rate_entry(name, kwargs, rate):
    theirs = layout(getattr(optax, name)(rate_of(rate), **kwargs).init(PARAMS))
    ours = layout(getattr(lrjax, name)(rate_of(rate), **kwargs).init(PARAMS))
    assert ours[:-1] == theirs[:-1]
    assert (ours[-1], theirs[-1]) == (RATE, OPTAX_RATE[rate])


@pytest.mark.parametrize("rate", ["constant", "schedule"])
@pytest.mark.parametrize("momentum", [None, 0.9])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_state_layout(rate, momentum, centered):
    kwargs = {"momentum": momentum, "centered": centered}
    theirs = layout(optax.rmsprop(rate_of(rate), **kwargs).init(PARAMS))
    ours = layout(lrjax.rmsprop(rate_of(rate), **kwargs).init(PARAMS))
    stats = (
        ("ScaleByRStdDevState", ("mu", "nu"))
        if centered
        else (
            "ScaleByRmsState",
            ("nu",),
        )
    )
    trace = ("TraceState", ("trace",)) if momentum else ("EmptyState", ())
    # optax: statistics, rate, trace; lrjax: statistics with a count, trace, rate.
    assert theirs == [stats, OPTAX_RATE[rate], trace]
    assert ours == [(stats[0], ("count", *stats[1])), trace, RATE]


def test_lars_and_adafactor_state_layouts():
    def both(name, *args):
        return (
            [n for n, _ in layout(getattr(optax, name)(*args).init(PARAMS))],
            [n for n, _ in layout(getattr(lrjax, name)(*args).init(PARAMS))],
        )

    # lars: no MaskedState wrappers.
    assert both("lars", 1e-3) == (
        ["MaskedState", "MaskedState", "EmptyState", "TraceState"],
        ["EmptyState", "EmptyState", "ScaleByLearningRateState", "TraceState"],
    )
    # adafactor: the rate's entry is third, and kept with learning_rate=None.
    theirs, ours = both("adafactor", 1e-3)
    assert len(ours) == len(theirs) == 5
    assert (theirs[2], ours[2]) == ("EmptyState", "ScaleByLearningRateState")
    theirs, ours = both("adafactor")
    assert (len(theirs), len(ours)) == (4, 5)
    assert ours[2] == "ScaleByLearningRateState"


def test_moment_states_have_optax_fields_and_values_not_its_classes():
    grads = {"w": jnp.array([0.5, -1.0, 2.0]), "b": jnp.array(0.3)}
    theirs, ours = optax.adam(1e-3), lrjax.adam(1e-3)
    s_theirs, s_ours = theirs.init(PARAMS), ours.init(PARAMS)
    for _ in range(3):
        _, s_theirs = theirs.update(grads, s_theirs, PARAMS)
        _, s_ours = ours.update(grads, s_ours, PARAMS)
    assert not isinstance(s_ours[0], optax.ScaleByAdamState)
    assert s_ours[0]._fields == s_theirs[0]._fields
    for a, b in zip(s_ours[0], s_theirs[0], strict=True):
        np.testing.assert_allclose(
            np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(a)]),
            np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(b)]),
            rtol=1e-6,
        )


def test_tree_get_count_is_ambiguous_in_lrjax_states():
    # optax's adam(constant) has one `count`; lrjax's rate entry adds a second.
    assert int(optax.tree.get(optax.adam(1e-3).init(PARAMS), "count")) == 0
    state = lrjax.adam(1e-3).init(PARAMS)
    with pytest.raises(KeyError, match="multiple values for 'count'"):
        optax.tree.get(state, "count")
    assert float(optax.tree.get(state, "learning_rate")) == pytest.approx(1e-3)
    assert int(state[0].count) == 0


def test_scale_by_schedule_state_has_a_step_size_field():
    assert optax.ScaleByScheduleState._fields == ("count",)
    assert lrjax.ScaleByScheduleState._fields == ("count", "step_size")
    state = lrjax.scale_by_schedule(lambda t: 0.5 / (1 + t)).init(PARAMS)
    assert (int(state.count), float(state.step_size)) == (0, 0.5)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_with_bias_correction_optax_has_count_classes(centered):
    state = optax.rmsprop(1e-3, centered=centered, bias_correction=True).init(PARAMS)
    ours = lrjax.rmsprop(1e-3, centered=centered, bias_correction=True).init(PARAMS)
    name = "ScaleByRStdDevState" if centered else "ScaleByRmsState"
    assert layout(state)[0] == (
        name.replace("State", "WithCountState"),
        layout(ours)[0][1],
    )
