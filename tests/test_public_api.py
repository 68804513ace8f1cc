"""The public namespace: ``lrjax.__all__`` against a recorded list, so an
accidental removal or rename fails here; every listed name resolves; the
subpackages' lists add up to the top level's; ``help(lrjax)`` shows them."""

import pathlib
import pydoc

import pytest

import lrjax

RECORDED = pathlib.Path(__file__).with_name("public_names.txt")
SUBPACKAGES = ("control", "optimizers", "schedules", "transforms", "tune")


def recorded_names() -> list[str]:
    lines = RECORDED.read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def test_all_equals_the_recorded_list():
    names = lrjax.__all__
    assert len(names) == len(set(names)), "a name is listed twice in lrjax.__all__"
    added = sorted(set(names) - set(recorded_names()))
    removed = sorted(set(recorded_names()) - set(names))
    assert not removed, f"public names removed: {removed}"
    assert not added, f"public names added without recording them: {added}"


def test_every_public_attribute_is_listed():
    # Modules (lrjax.control, ...) are reachable but are not API names.
    public = {
        name
        for name in dir(lrjax)
        if not name.startswith("_") and type(getattr(lrjax, name)).__name__ != "module"
    }
    assert public == set(lrjax.__all__)


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_subpackage_lists_resolve_and_reach_the_top(subpackage):
    module = getattr(lrjax, subpackage)
    assert len(module.__all__) == len(set(module.__all__))
    for name in module.__all__:
        assert getattr(module, name) is getattr(lrjax, name), name


def test_help_lists_the_public_names():
    text = pydoc.render_doc(lrjax, renderer=pydoc.plaintext)
    for name in ("adam", "get_learning_rate", "reduce_on_plateau", "sweep"):
        assert name in text
