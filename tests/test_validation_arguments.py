"""Constructor arguments are validated by every public constructor.

* ``None`` is refused wherever it is not a documented option, by every public
  constructor (enumerated from ``lrjax``'s namespace, so a new constructor is
  covered automatically);
* every error names the argument the user passed, not a building block's;
* concrete bfloat16/float16 scalars are accepted as hyperparameters.

Masks and leaf shapes, checked against the params, are in
``test_validation_trees.py``.
"""

from __future__ import annotations

import inspect
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from optimizer_case import all_cases

import lrjax

# Public functions that are not constructors of transforms or schedules.
NOT_CONSTRUCTORS = {
    "adafactor_relative_step",
    "apply_updates",
    "averaged_params",
    "find_learning_rate",
    "inject_hyperparams",
    "schedule_free_eval_params",
    "chain",
    "get_learning_rate",
    "get_metrics",
    "param_group_labels",
    "global_norm",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
    "orthogonalize_via_newton_schulz",
    "plot_schedule",
    "report_metric",
    "sweep",
    "value_and_grad_from_state",
}

# Valid values for the required arguments of every constructor that has any.
REQUIRED = {
    "adam_hd": {"learning_rate": 1e-3, "hypergrad_lr": 1e-7},
    "sgd_hd": {"learning_rate": 1e-2, "hypergrad_lr": 1e-3},
    "hypergradient_descent": {
        "direction": lrjax.scale_by_adam(),
        "learning_rate": 1e-3,
        "hypergrad_lr": 1e-7,
    },
    "adaptive_grad_clip": {"clipping": 0.1},
    "add_noise": {"eta": 0.01, "gamma": 0.55},
    "ema_params": {"decay": 0.99},
    "stale_gradients": {"inner": lrjax.sgd(0.1), "max_delay": 2},
    "staleness_aware": {"inner": lrjax.sgd(0.1)},
    "scale_by_zoom_linesearch": {"max_linesearch_steps": 5},
    "mechanize": {"base_optimizer": lrjax.sgd(0.1)},
    "param_groups": {
        "optimizer": lrjax.adamw,
        "groups": {"head": {"match": "head"}},
        "learning_rate": 0.1,
    },
    "layerwise_rate_decay": {
        "decay": 0.8,
        "pattern": r"layers_(\d+)",
        "num_layers": 4,
    },
    "track_signals": {"inner": lrjax.sgd(0.1)},
    "skip_spikes": {"inner": lrjax.sgd(0.1)},
    "packed": {"optimizer": lrjax.sgd(0.1)},
    "pack_params": {"params": {"w": jnp.ones(3), "b": jnp.ones(2)}},
    "sam": {"optimizer": lrjax.sgd(0.1), "adv_optimizer": lrjax.sgd(0.05)},
    "schedule_free": {"base_optimizer": lrjax.sgd(0.1), "learning_rate": 0.1},
    "clip": {"max_delta": 1.0},
    "clip_by_block_rms": {"threshold": 1.0},
    "clip_by_global_norm": {"max_norm": 1.0},
    "clip_schedule": {"schedule": 0.1},
    "constant_schedule": {"value": 0.1},
    "cosine_decay_schedule": {"init_value": 0.1, "decay_steps": 10},
    "cosine_onecycle_schedule": {"transition_steps": 10, "peak_value": 0.1},
    "cosine_restarts_schedule": {"init_value": 0.1, "first_period": 10},
    "cyclic_schedule": {"base_value": 0.01, "max_value": 0.1, "step_size_up": 5},
    "ema": {"decay": 0.9},
    "exponential_decay": {
        "init_value": 0.1,
        "transition_steps": 10,
        "decay_rate": 0.5,
    },
    "inverse_sqrt_schedule": {"peak_value": 0.1, "warmup_steps": 10},
    "inverse_time_decay_schedule": {
        "init_value": 0.1,
        "decay_steps": 10,
        "decay_rate": 0.5,
    },
    "join_schedules": {
        "schedules": [lambda s: 0.1, lambda s: 0.01],
        "boundaries": [5],
    },
    "linear_onecycle_schedule": {"transition_steps": 10, "peak_value": 0.1},
    "linear_schedule": {"init_value": 0.1, "end_value": 0.0, "transition_steps": 10},
    "multistep_decay_schedule": {"init_value": 0.1, "milestones": [3, 6]},
    "one_cycle_schedule": {"max_value": 0.1, "total_steps": 10},
    "per_epoch_schedule": {"schedule": 0.1, "steps_per_epoch": 10},
    "piecewise_constant_schedule": {"init_value": 0.1},
    "piecewise_interpolate_schedule": {
        "interpolate_type": "linear",
        "init_value": 0.1,
    },
    "polynomial_schedule": {
        "init_value": 0.1,
        "end_value": 0.0,
        "power": 2.0,
        "transition_steps": 10,
    },
    "random_schedule": {
        "key": jax.random.key(0),
        "min_value": 0.01,
        "max_value": 0.1,
    },
    "scale": {"step_size": 0.5},
    "scale_by_schedule": {"step_size_fn": lambda s: 0.1},
    "sgdr_schedule": {
        "cosine_kwargs": [
            {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 2, "decay_steps": 10}
        ]
    },
    "step_decay_schedule": {"init_value": 0.1, "step_size": 10},
    "trace": {"decay": 0.9},
    "warmup_constant_schedule": {
        "init_value": 0.0,
        "peak_value": 0.1,
        "warmup_steps": 10,
    },
    "warmup_cosine_decay_schedule": {
        "init_value": 0.0,
        "peak_value": 0.1,
        "warmup_steps": 2,
        "decay_steps": 10,
    },
    "warmup_exponential_decay_schedule": {
        "init_value": 0.0,
        "peak_value": 0.1,
        "warmup_steps": 2,
        "transition_steps": 10,
        "decay_rate": 0.5,
    },
    "warmup_schedule": {"schedule": 0.1, "warmup_steps": 10},
    "warmup_stable_decay_schedule": {
        "peak_value": 0.1,
        "warmup_steps": 2,
        "stable_steps": 3,
        "decay_steps": 5,
    },
    "wsd_schedule": {"peak_value": 0.1, "total_steps": 100},
}
_LR = {"learning_rate": 0.1}

# Numeric arguments whose default is not None but whose docs give None a
# meaning (arguments that default to None are documented options already).
DOCUMENTED_NONE = {
    ("adafactor", "clipping_threshold"),
    ("sm3", "momentum"),
    ("scale_by_zoom_linesearch", "approx_dec_rtol"),
    ("sophia", "clip_threshold"),
    ("scale_by_sophia", "clip_threshold"),
    ("skip_spikes", "max_consecutive"),
    # None: every group gives its own rate.
    ("param_groups", "learning_rate"),
}


def constructors():
    names = []
    for name in sorted(dir(lrjax)):
        obj = getattr(lrjax, name)
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        # optax's combinators, re-exported unchanged, validate as optax does.
        if obj.__module__.startswith("optax"):
            continue
        if name not in NOT_CONSTRUCTORS:
            names.append(name)
    return names


def required_args(name):
    params = inspect.signature(getattr(lrjax, name)).parameters
    needed = [p for p, v in params.items() if v.default is inspect.Parameter.empty]
    if needed == ["learning_rate"]:
        return dict(_LR)
    return dict(REQUIRED.get(name, {}))


def _is_number(value):
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float, np.number))


# Number-valued arguments whose annotation does not say so.
_UNTYPED_NUMBERS = {
    ("exponential_decay", "end_value"),
    ("warmup_exponential_decay_schedule", "end_value"),
}


def _numeric_none_option(name, arg, annotation):
    """An argument defaulting to None whose other values are numbers."""
    if (name, arg) in _UNTYPED_NUMBERS:
        return True
    words = re.findall(r"\w+", str(annotation))
    numeric = {"float", "int", "Numeric", "ScalarOrSchedule", "ArrayLike"}
    return bool(numeric & set(words)) and "dict" not in words


def numeric_arguments(with_none_options=False):
    """``(constructor, argument)`` for every number-valued argument.

    Arguments for which None is a documented option are left out, unless
    ``with_none_options``.
    """
    pairs = []
    for name in constructors():
        base = required_args(name)
        for arg, p in inspect.signature(getattr(lrjax, name)).parameters.items():
            value = base.get(arg, p.default)
            if value is None or (name, arg) in DOCUMENTED_NONE:
                if with_none_options and (
                    (name, arg) in DOCUMENTED_NONE
                    or _numeric_none_option(name, arg, p.annotation)
                ):
                    pairs.append((name, arg))
            elif _is_number(value):
                pairs.append((name, arg))
    return pairs


def _names(arg):
    """The argument as a whole word: ``eps`` must not match ``eps_root``."""
    return re.compile(rf"(?<![\w]){re.escape(arg)}(?![\w])")


def test_every_constructor_is_registered():
    # A new constructor with required arguments needs valid values above.
    for name in constructors():
        params = inspect.signature(getattr(lrjax, name)).parameters
        needed = {p for p, v in params.items() if v.default is inspect.Parameter.empty}
        assert needed <= set(required_args(name)), (name, needed)
        getattr(lrjax, name)(**required_args(name))  # the base call is valid


@pytest.mark.parametrize("name, arg", numeric_arguments())
def test_none_is_rejected_naming_the_argument(name, arg):
    kwargs = {**required_args(name), arg: None}
    with pytest.raises(TypeError) as info:
        getattr(lrjax, name)(**kwargs)
    assert _names(arg).search(str(info.value)), str(info.value)
    assert "None" in str(info.value)


def flag_arguments():
    """``(constructor, argument)`` for every bool flag (masks excluded)."""
    return [
        (name, arg)
        for name in constructors()
        for arg, p in inspect.signature(getattr(lrjax, name)).parameters.items()
        if isinstance(p.default, bool) and "mask" not in arg
    ]


@pytest.mark.parametrize("name, arg", flag_arguments())
def test_none_flag_is_rejected_naming_the_argument(name, arg):
    # None used to read as False in one_cycle_schedule(three_phase=None),
    # sgd(nesterov=None), per_epoch_schedule(staircase=None), ...
    kwargs = {**required_args(name), arg: None}
    with pytest.raises(TypeError) as info:
        getattr(lrjax, name)(**kwargs)
    assert _names(arg).search(str(info.value)), str(info.value)


def test_numeric_arguments_cover_the_hyperparameters():
    # Guards the enumeration itself: it must see the arguments of the issue.
    pairs = set(numeric_arguments())
    for pair in [
        ("adam", "b1"),
        ("adam", "eps_root"),
        ("sgd", "dampening"),
        ("adafactor", "decay_offset"),
        ("adafactor", "min_dim_size_to_factor"),
        ("lars", "momentum"),
        ("scale_by_trust_ratio", "min_norm"),
        ("cosine_decay_schedule", "alpha"),
        ("one_cycle_schedule", "pct_start"),
        ("warmup_schedule", "init_value"),
    ]:
        assert pair in pairs, pair
    assert len(pairs) > 150
    with_options = set(numeric_arguments(with_none_options=True)) - pairs
    assert with_options == {
        ("adadelta", "learning_rate"),
        ("adafactor", "clipping_threshold"),
        ("adafactor", "learning_rate"),
        ("adafactor", "momentum"),
        ("adafactor", "weight_decay_rate"),
        ("adaptive_grad_clip", "axis"),
        ("add_noise", "key"),
        ("add_noise", "seed"),
        ("clip_schedule", "max_value"),
        ("clip_schedule", "min_value"),
        ("cyclic_schedule", "step_size_down"),
        ("dog", "weight_decay"),
        ("param_groups", "learning_rate"),
        ("param_groups", "weight_decay"),
        ("skip_spikes", "max_consecutive"),
        ("track_signals", "ema_decay"),
        ("dowg", "init_estim_sq_dist"),
        ("dowg", "weight_decay"),
        ("exponential_decay", "end_value"),
        ("lbfgs", "learning_rate"),
        ("noisy_sgd", "key"),
        ("noisy_sgd", "seed"),
        ("optimistic_adam", "optimism"),
        ("muon", "adam_learning_rate"),
        ("muon", "consistent_rms"),
        ("prodigy", "beta3"),
        ("rmsprop", "momentum"),
        ("scale_by_dowg", "init_estim_sq_dist"),
        ("scale_by_learning_rate", "learning_rate"),
        ("scale_by_zoom_linesearch", "approx_dec_rtol"),
        ("scale_by_zoom_linesearch", "max_learning_rate"),
        ("scale_by_shape", "consistent_rms"),
        ("scale_by_sophia", "clip_threshold"),
        ("schedule_free_adamw", "warmup_steps"),
        ("schedule_free_sgd", "warmup_steps"),
        ("schedule_free_sgd", "weight_decay"),
        ("sgd", "momentum"),
        ("sgd_hd", "momentum"),
        ("sm3", "momentum"),
        ("sophia", "clip_threshold"),
        ("warmup_exponential_decay_schedule", "end_value"),
    }


@pytest.mark.parametrize(
    "make",
    [
        lambda: lrjax.sgd(0.1, momentum=None),
        lambda: lrjax.rmsprop(0.1, momentum=None),
        lambda: lrjax.adadelta(learning_rate=None),
        lambda: lrjax.adafactor(learning_rate=None, clipping_threshold=None),
        lambda: lrjax.adafactor(momentum=None, weight_decay_rate=None),
        lambda: lrjax.adam(0.1, mu_dtype=None, nu_dtype=None),
        lambda: lrjax.adamw(0.1, mask=None),
        lambda: lrjax.scale_by_learning_rate(None),
        lambda: lrjax.cyclic_schedule(0.0, 0.1, 5, step_size_down=None),
        lambda: lrjax.exponential_decay(0.1, 10, 0.5, end_value=None),
        lambda: lrjax.clip_schedule(0.1, min_value=None, max_value=None),
        lambda: lrjax.piecewise_constant_schedule(0.1, None),
    ],
)
def test_documented_none_options_still_work(make):
    assert make() is not None


def test_adam_b1_none_fails_at_construction():
    # The example: adam(b1=None) used to build, then fail at the
    # first update with "None is not a valid value for jnp.array".
    with pytest.raises(TypeError, match=r"^b1 must be a number in \[0\.0, 1\.0\)"):
        lrjax.adam(0.1, b1=None)


# --------------------------------------------------------------------------
# Errors name the argument the user passed.


@pytest.mark.parametrize(
    "case, overrides, arg",
    [(c, o, a) for c in all_cases() for o, a in c.invalid],
    ids=lambda x: x.id if hasattr(x, "id") else None,
)
def test_case_invalid_entries_name_their_argument(case, overrides, arg):
    with pytest.raises((ValueError, TypeError)) as info:
        case.make(**overrides)
    assert _names(arg).search(str(info.value)), str(info.value)


@pytest.mark.parametrize("name, arg", numeric_arguments(with_none_options=True))
def test_nan_is_rejected_naming_the_argument(name, arg):
    # NaN is out of every range, so each numeric argument's own check must
    # fire, under the caller's name (sgd's momentum used to be checked only
    # by trace, as "decay"). Integer arguments refuse it as a TypeError.
    kwargs = {**required_args(name), arg: math.nan}
    with pytest.raises((ValueError, TypeError)) as info:
        getattr(lrjax, name)(**kwargs)
    assert _names(arg).search(str(info.value)), str(info.value)


def _takes_schedule(name, arg):
    param = inspect.signature(getattr(lrjax, name)).parameters[arg]
    return "Schedule" in str(param.annotation)


@pytest.mark.parametrize("name, arg", numeric_arguments(with_none_options=True))
def test_callable_is_rejected_unless_the_argument_takes_a_schedule(name, arg):
    # A schedule given for b1 (say) used to pass construction unchecked and
    # fail at the first update inside jax.
    kwargs = {**required_args(name), arg: lambda step: 0.5}
    if _takes_schedule(name, arg):
        getattr(lrjax, name)(**kwargs)
        return
    with pytest.raises(TypeError) as info:
        getattr(lrjax, name)(**kwargs)
    assert _names(arg).search(str(info.value)), str(info.value)


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda: lrjax.sgd(0.1, momentum=1.5), "momentum"),
        (lambda: lrjax.sgd(0.1, momentum=-0.1, nesterov=True), "momentum"),
        (lambda: lrjax.sgd(0.1, momentum=None, dampening=2.0), "dampening"),
        (lambda: lrjax.rmsprop(0.1, momentum=1.5), "momentum"),
        (lambda: lrjax.lars(0.1, momentum=1.5), "momentum"),
        (lambda: lrjax.adafactor(momentum=1.0), "momentum"),
        (lambda: lrjax.adafactor(eps=-1.0), "eps"),
        (lambda: lrjax.adafactor(decay_offset=-1), "decay_offset"),
        (lambda: lrjax.adafactor(weight_decay_rate=-1.0), "weight_decay_rate"),
        (lambda: lrjax.adafactor(clipping_threshold=0.0), "clipping_threshold"),
        (lambda: lrjax.warmup_constant_schedule(0.0, math.nan, 10), "peak_value"),
        (lambda: lrjax.warmup_constant_schedule(math.inf, 0.1, 10), "init_value"),
    ],
)
def test_delegating_constructors_name_their_own_argument(make, arg):
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    assert _names(arg).search(str(info.value)), str(info.value)


def test_sgdr_errors_name_the_cycle_dict():
    cycle = {"init_value": 0.0, "peak_value": math.nan}
    cycle |= {"warmup_steps": 1, "decay_steps": 10}
    good = {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 1}
    good |= {"decay_steps": 10}
    with pytest.raises(ValueError, match=r"cosine_kwargs\[1\]: peak_value"):
        lrjax.sgdr_schedule([good, cycle])
    with pytest.raises(TypeError, match=r"cosine_kwargs\[0\]: .*peak"):
        lrjax.sgdr_schedule([{**good, "peak": 0.1}])


# --------------------------------------------------------------------------
# Concrete bfloat16 and float16 scalars.

_LOW_PRECISION = [
    jnp.asarray(1e-3, jnp.bfloat16),
    np.asarray(1e-3, jnp.bfloat16),
    jnp.bfloat16(1e-3),
    jnp.asarray(1e-3, jnp.float16),
    np.float16(1e-3),
]


def test_low_precision_scalars_are_accepted_as_hyperparameters():
    for rate in _LOW_PRECISION:
        lrjax.adam(rate)
        lrjax.adam(1e-3, b1=rate * 900, eps=rate)
        lrjax.sgd(rate, momentum=rate)
        lrjax.cosine_decay_schedule(rate, 10, alpha=rate)
        lrjax.warmup_schedule(rate, 5, init_value=rate)
    # The checks still read the value: an out-of-range bf16 is refused.
    with pytest.raises(ValueError, match=r"b1 must be in \[0\.0, 1\.0\), got 1\.5"):
        lrjax.adam(0.1, b1=jnp.asarray(1.5, jnp.bfloat16))


@pytest.mark.parametrize("rate", _LOW_PRECISION, ids=lambda r: str(r.dtype))
def test_low_precision_rate_gives_the_formula_update(rate):
    # Adam's first step is -lr * g / (|g| + eps) (both bias corrections are
    # 1 - b**1 and cancel); SGD's is -lr * g.
    g = np.array([0.5, -2.0, 3.0])
    params = jnp.ones(3, jnp.bfloat16)
    grads = jnp.asarray(g, jnp.bfloat16)
    lr = float(rate)
    for opt, want in [
        (lrjax.adam(rate), -lr * g / (np.abs(g) + 1e-8)),
        (lrjax.sgd(rate), -lr * g),
    ]:
        updates, state = opt.update(grads, opt.init(params), params)
        assert updates.dtype == jnp.bfloat16
        np.testing.assert_allclose(np.asarray(updates, np.float64), want, rtol=1e-2)
        np.testing.assert_allclose(lrjax.get_learning_rate(state), lr, rtol=1e-6)
