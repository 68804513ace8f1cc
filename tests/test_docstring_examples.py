"""The ``Examples`` in the public docstrings run, as doctests, and print what
they say. Each example is self-contained (it imports what it uses), so a user
can paste it. Names re-exported from optax unchanged keep optax's docstrings
and are optax's to test."""

import doctest
import inspect

import pytest

import lrjax
import lrjax.compare

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def documented_objects() -> dict[str, object]:
    objects = {name: getattr(lrjax, name) for name in lrjax.__all__}
    objects.update(
        {
            f"compare.{name}": getattr(lrjax.compare, name)
            for name in lrjax.compare.__all__
        }
    )
    objects["lrjax"] = lrjax
    return objects


def examples() -> dict[str, doctest.DocTest]:
    finder = doctest.DocTestFinder(recurse=False)
    found = {}
    for name, obj in documented_objects().items():
        # optax's re-exported objects carry optax's docstrings: not ours to run.
        if getattr(obj, "__module__", "lrjax").startswith("optax"):
            continue
        if not (inspect.getdoc(obj) or "").count(">>>"):
            continue
        for test in finder.find(obj, name=name, globs={}):
            if test.examples:
                found[name] = test
    return found


EXAMPLES = examples()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example_runs(name):
    test = EXAMPLES[name]
    failures = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)


@pytest.mark.parametrize(
    "subpackage", ["optimizers", "transforms", "schedules", "control", "tune"]
)
def test_every_public_function_has_an_example(subpackage):
    module = getattr(lrjax, subpackage)
    missing = [
        name
        for name in module.__all__
        if inspect.isfunction(getattr(module, name))
        # optax's re-exports carry optax's docstrings
        and not getattr(module, name).__module__.startswith("optax")
        and name not in EXAMPLES
    ]
    assert not missing, f"public functions without a >>> example: {missing}"
