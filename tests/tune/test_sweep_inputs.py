"""Every bad argument of lrjax.sweep fails with a message naming it, its value
and the valid range, before anything compiles."""

import importlib

import jax
import jax.numpy as jnp
import optax
import pytest

import lrjax

ONE = jax.devices()[:1]
DATA = {"x": jnp.ones((16, 3)), "y": jnp.ones((16, 1))}
SWEEP = importlib.import_module("lrjax.tune.sweep")


def init(key):
    return {"w": jax.random.uniform(key, (3, 1))}


def loss_fn(params, batch):
    return jnp.mean((batch["x"] @ params["w"] - batch["y"]) ** 2)


BASE = dict(
    batch_size=4, steps=9, strategies={"sgd": lrjax.sgd}, rates=[0.1], seeds=1,
    devices=ONE, progress=False,
)  # fmt: skip


@pytest.fixture(autouse=True)
def nothing_compiles(monkeypatch):
    def compiled(*args, **kwargs):
        raise AssertionError("sweep compiled before rejecting its arguments")

    monkeypatch.setattr(SWEEP, "seed_states", compiled)
    monkeypatch.setattr(SWEEP, "Engine", compiled)


def _vector_loss(params, batch):
    return (batch["x"] @ params["w"])[:, 0]


CASES = {
    "empty mapping": (dict(strategies={}), ValueError, r"strategies must not be empty"),
    "empty names": (dict(strategies=[]), ValueError, r"strategies must not be empty"),
    "a string": (dict(strategies="adam"), TypeError, r"strategies must be a mapping.*'adam'"),
    "unknown name": (dict(strategies=["nope"]), ValueError, r"'nope' is not in lrjax.compare.STRATEGIES; valid names: constant"),
    "range test": (dict(strategies=["range-test"], rates=None), ValueError, r"'range-test' is not tunable"),
    "not callable": (dict(strategies={"x": 3}), TypeError, r"strategies\['x'\] must be a factory.*got 3"),
    "no transformation": (dict(strategies={"x": lambda r: r}), TypeError, r"strategies\['x'\] must return an optax GradientTransformation.*tried 0.1.*float"),
    "bad eval_params": (dict(strategies={"x": (lrjax.sgd, 3)}), TypeError, r"eval_params must be callable.*got 3"),
    "zero rate": (dict(rates=[0.1, 0.0]), ValueError, r"rates must be finite and > 0 \(in \(0, inf\)\), got 0.0"),
    "negative rate": (dict(rates={"sgd": [-1.0]}), ValueError, r"rates\['sgd'\] must be finite and > 0.*got -1.0"),
    "nan rate": (dict(rates=[float("nan")]), ValueError, r"rates must be finite and > 0.*got nan"),
    "inf rate": (dict(rates=[float("inf")]), ValueError, r"rates must be finite and > 0.*got inf"),
    "empty rates": (dict(rates=[]), ValueError, r"rates must be a non-empty 1-D sequence"),
    "rates of another": (dict(rates={"adam": [0.1]}), ValueError, r"rates: 'adam' names no strategy"),
    "first rung past the budget": (dict(method="halving", min_steps=9, steps=8), ValueError, r"min_steps must be in \[1, steps=8\].*got min_steps=9"),
    "first rung zero": (dict(method="halving", min_steps=0), ValueError, r"min_steps"),
    "zero steps": (dict(steps=0), ValueError, r"steps must be .*got 0"),
    "vector loss": (dict(), ValueError, r"loss_fn must return a scalar loss \(shape \(\)\), got \(4,\)"),
    "aux missing": (dict(has_aux=True), ValueError, r"loss_fn must return \(loss, aux\) with has_aux=True"),
    "axes disagree": (dict(data={"x": jnp.ones((16, 3)), "y": jnp.ones((12, 1))}), ValueError, r"same leading \(example\) axis, got shapes \[\(16, 3\), \(12, 1\)\]"),
    "batch 0": (dict(batch_size=0), ValueError, r"batch_size must be .*got 0"),
    "batch too big": (dict(batch_size=17), ValueError, r"batch_size must be in \[1, 16\] \(the number of examples\), got 17"),
    "data and batch_fn": (dict(batch_fn=lambda k, t: DATA), ValueError, r"exactly one of data .* and batch_fn"),
    "neither": (dict(data=None), ValueError, r"exactly one of data .* and batch_fn"),
    "batch_fn without eval": (dict(data=None, batch_fn=lambda k, t: DATA, batch_size=None), ValueError, r"eval_data is required with batch_fn"),
    "method": (dict(method="random"), ValueError, r"method"),
    "eta 1": (dict(method="halving", eta=1), ValueError, r"eta must be in \[2, inf\], got 1"),
    "eta with grid": (dict(eta=2), ValueError, r"eta applies to method='halving' only; got eta=2 with method='grid'"),
    "eta with pbt": (dict(method="pbt", eta=2), ValueError, r"eta applies to method='halving' only; got eta=2 with method='pbt'"),
    "min_steps with grid": (dict(min_steps=31), ValueError, r"min_steps applies to method='halving' only; got min_steps=31 with method='grid'"),
    "min_steps with pbt": (dict(method="pbt", min_steps=2), ValueError, r"min_steps applies to method='halving' only; got min_steps=2 with method='pbt'"),
    "pbt_interval with grid": (dict(pbt_interval=1000), ValueError, r"pbt_interval applies to method='pbt' only; got pbt_interval=1000 with method='grid'"),
    "pbt_interval with halving": (dict(method="halving", pbt_interval=3), ValueError, r"pbt_interval applies to method='pbt' only; got pbt_interval=3 with method='halving'"),
    "python if on the rate": (dict(strategies={"py": lambda lr: lrjax.sgd(lr if lr < 0.05 else lr / 2)}), TypeError, r"strategies\['py'\]: the factory must accept a traced rate.*no Python control flow.*TracerBoolConversionError"),
    "float of the rate": (dict(strategies={"f": lambda lr: lrjax.sgd(float(lr))}), TypeError, r"strategies\['f'\]: the factory must accept a traced rate.*no float\(\).*ConcretizationTypeError"),
    "int of the rate": (dict(strategies={"i": lambda lr: lrjax.sgd(0.1 * int(lr * 10))}), TypeError, r"strategies\['i'\]: the factory must accept a traced rate"),
    "no seeds": (dict(seeds=[]), ValueError, r"seeds must not be empty"),
    "zero seeds": (dict(seeds=0), ValueError, r"seeds.*got 0"),
    "repeated seed": (dict(seeds=[1, 1]), ValueError, r"seeds must not repeat a seed, got \[1, 1\]"),
    "stale final seeds": (dict(seeds=[0, 1], final_seeds=[1, 5]), ValueError, r"final_seeds must be fresh.*reuses \[1\]"),
    "unknown metric": (dict(metric="acc"), ValueError, r"metric must be one of \['loss'\] \(the evaluation's keys\), got 'acc'"),
    "eval_fn metric": (dict(eval_fn=lambda p, d: {"mse": loss_fn(p, d)}, metric="acc"), ValueError, r"metric must be one of \['mse'\].*got 'acc'"),
    "eval_fn vector": (dict(eval_fn=lambda p, d: {"v": d["x"][:, 0]}), ValueError, r"eval_fn must return scalars, got 'v' of shape \(16,\)"),
    "eval_fn no dict": (dict(eval_fn=lambda p, d: 1.0), ValueError, r"eval_fn must return a non-empty dict"),
    "pbt interval": (dict(method="pbt", pbt_interval=9), ValueError, r"pbt_interval must be in \[1, 8\] \(below steps=9\), got 9"),
    "pbt chunks": (dict(method="pbt", rates=[0.1, 0.2], seeds=2, max_members=2), ValueError, r"method='pbt' ranks the whole population.*allow 2 members, 'sgd' has 4"),
    "max_members": (dict(max_members=0), ValueError, r"max_members.*got 0"),
    "max_bytes": (dict(max_bytes=-1), ValueError, r"max_bytes.*got -1"),
    "eval_every": (dict(eval_every=0), ValueError, r"eval_every.*got 0"),
    "final seeds 0": (dict(final_seeds=0), ValueError, r"final_seeds.*got 0"),
    "no devices": (dict(devices=[]), ValueError, r"devices must not be empty"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_before_compiling(case):
    overrides, error, message = CASES[case]
    kwargs = {**BASE, **overrides}
    data = kwargs.pop("data", DATA)
    loss = _vector_loss if case == "vector loss" else loss_fn
    with pytest.raises(error, match=message):
        lrjax.sweep(init, loss, data, **kwargs)


def test_named_rates_default_around_each_row_and_accept_a_factory_mix():
    """Rows resolve without compiling; a factory's default grid is 1e-4..1."""
    from lrjax.tune.named import named_strategies

    tuned, rates = named_strategies(["adam"], steps=10, steps_per_epoch=4, batch_size=4)
    assert rates["adam"][0] == pytest.approx(1e-5) and rates["adam"][
        -1
    ] == pytest.approx(1e-2)
    assert isinstance(tuned["adam"].factory(0.1), optax.GradientTransformation)


def test_the_default_metric_is_eval_fns_first_key_in_its_own_order():
    """jax.eval_shape returns dicts key-sorted; the default is the first key
    eval_fn wrote."""
    from lrjax.tune.inputs import check_metric

    def eval_fn(params, data):
        return {"zeta": loss_fn(params, data), "alpha": -loss_fn(params, data)}

    params = jax.eval_shape(init, jax.random.PRNGKey(0))
    found = check_metric(eval_fn, None, params, DATA, loss_fn, False)
    assert found == ("zeta", ["zeta", "alpha"])
    assert check_metric(None, None, params, DATA, loss_fn, False) == ("loss", ["loss"])
