"""lrjax's modules form layers: every import goes down (or stays inside its
own area), and no modules import each other in a cycle.

The imports are read from the source with ``ast``, nothing is imported: every
``import``/``from ... import`` of an lrjax module, at module level, inside a
function (a lazy import) or under ``if TYPE_CHECKING:``. The layering rule
counts them all, since a lazy import is still a dependency; the cycle check
counts the module-level ones, the imports that run when a module loads. The
rule is about the modules an import *names*: ``from lrjax.optimizers import
adam`` names ``lrjax.optimizers`` (Python also runs ``lrjax/__init__.py``
first, but that is loading, not depending), and ``from lrjax import
_validation as val`` names the module ``lrjax._validation``, not the package.
See "Layers" in ``docs/design.md``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

PACKAGE = Path(__file__).resolve().parents[1] / "lrjax"

# Bottom to top: (layer, the areas it holds, why it sits there). An area is a
# module or a subpackage (its ``__init__`` and every module under it), named
# by its dotted prefix; a module belongs to the longest area naming it.
LAYERS: list[tuple[str, tuple[str, ...], str]] = [
    ("foundations", ("lrjax._numerics", "lrjax._containers", "lrjax._progress"), "the numerics, containers and progress bar every block shares"),
    ("validation", ("lrjax._validation",), "the argument checks, which may use the numerics"),
    ("rate readout", ("lrjax._learning_rate",), "get_learning_rate reads any state"),
    ("optax types", ("lrjax._base", "lrjax._combinators"), "schedule/transformation types (re-exporting the readout's field names), optax's combinators"),
    ("building blocks", ("lrjax.schedules", "lrjax.transforms", "lrjax.plotting"), "schedules and gradient transformations built on the foundations"),
    ("optimizers and controllers", ("lrjax.optimizers", "lrjax.control"), "optimizers chain transforms; controllers drive a rate; neither uses the other"),
    ("strategy catalogue", ("lrjax.tune.catalogue",), "the named strategies, read by both sweep and compare, so below both"),
    ("tuning", ("lrjax.tune",), "sweep trains populations of the optimizers and controllers below"),
    ("comparison", ("lrjax.compare",), "lrjax compare tunes with sweep; an optional extra nothing below may need"),
    ("public namespace", ("lrjax",), "lrjax/__init__.py gathers the subpackages' names; only the CLI reads it"),
    ("command line", ("lrjax.cli",), "the lrjax command, over the namespace, the schedules and the comparison"),
    ("entry point", ("lrjax.__main__",), "python -m lrjax runs the command line"),
]  # fmt: skip

# Pairs (importer's area, imported area) of different areas in one layer that
# may import each other; none do, so areas of one layer stay independent.
SAME_LAYER_IMPORTS: frozenset[tuple[str, str]] = frozenset()


class Import(NamedTuple):
    importer: str
    imported: str
    line: int
    kind: str  # "module" (runs on load), "function" (lazy) or "type" (TYPE_CHECKING)


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def find_modules(package: Path) -> dict[str, Path]:
    """Every module of ``package``, by dotted name (a package by its own)."""
    return {module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def resolve(
    node: ast.Import | ast.ImportFrom,
    importer: str,
    is_package: bool,
    modules: Iterable[str],
) -> list[str]:
    """The lrjax modules one import statement names."""
    known = set(modules)
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: counted from the importer's package
            anchor = importer.split(".")
            anchor = anchor if is_package else anchor[:-1]
            anchor = anchor[: len(anchor) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        # ``from P import n`` names the module P.n when there is one, else P.
        targets = [
            f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
            for a in node.names
        ]
    found = []
    for target in targets:
        # ``import lrjax.a.b`` names lrjax.a.b; an attribute path, its module.
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target not in found:
            found.append(target)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def parse_imports(
    source: str, importer: str, modules: Iterable[str], is_package: bool = False
) -> list[Import]:
    """The imports of lrjax modules in ``source``, with where they run."""
    modules = set(modules)
    found: list[Import] = []

    def visit(nodes: Iterable[ast.AST], kind: str) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in resolve(node, importer, is_package, modules):
                    found.append(Import(importer, target, node.lineno, kind))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(ast.iter_child_nodes(node), "function")
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.body, "type" if kind == "module" else kind)
                visit(node.orelse, kind)
            else:
                visit(ast.iter_child_nodes(node), kind)

    visit(ast.parse(source).body, "module")
    return found


def all_imports(package: Path = PACKAGE) -> list[Import]:
    modules = find_modules(package)
    imports = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        imports += parse_imports(path.read_text(), name, modules, is_package)
    return imports


def area_of(module: str, layers=LAYERS) -> tuple[int, str] | None:
    """(layer index, area) of ``module``: the longest area naming it."""
    best = None
    for index, (_, areas, _) in enumerate(layers):
        for area in areas:
            if (module == area or module.startswith(area + ".")) and (
                best is None or len(area) > len(best[1])
            ):
                best = (index, area)
    return best


def layer_violations(
    imports: Iterable[Import], layers=LAYERS, same_layer=SAME_LAYER_IMPORTS
) -> list[str]:
    """One message per import that goes up a layer, or across areas of a layer."""
    problems = []
    for imp in imports:
        (low, area), (high, target) = (
            area_of(imp.importer, layers),
            area_of(imp.imported, layers),
        )
        if high < low or (
            high == low and (area == target or (area, target) in same_layer)
        ):
            continue
        how = "up" if high > low else "across (same layer, another area)"
        problems.append(
            f"{imp.importer} (layer {low} {layers[low][0]!r}) imports "
            f"{imp.imported} (layer {high} {layers[high][0]!r}) at line {imp.line}, "
            f"{imp.kind}-level: {how}"
        )
    return problems


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_through(group, graph) for group in groups]


def _cycle_through(group: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest cycle from the group's first module back to it (breadth first)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {group}")


def load_graph(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.kind == "module":
            graph.setdefault(imp.importer, set()).add(imp.imported)
    return graph


# --- the package --------------------------------------------------------------


def test_every_module_has_a_layer_and_every_area_a_module():
    modules = find_modules(PACKAGE)
    assert "lrjax.tune.sweep" in modules and "lrjax" in modules
    unplaced = sorted(m for m in modules if area_of(m) is None)
    assert not unplaced, f"modules in no layer (add their area to LAYERS): {unplaced}"
    areas = [area for _, group, _ in LAYERS for area in group]
    assert len(areas) == len(set(areas)), "an area is listed twice"
    empty = [a for a in areas if not any(area_of(m) == area_of(a) for m in modules)]
    assert not empty, f"areas without a module: {empty}"


def test_imports_go_down_the_layers():
    problems = layer_violations(all_imports())
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_no_module_level_import_cycles():
    cycles = find_cycles(load_graph(all_imports()))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_sweep_resolves_strategy_names_without_compare():
    # The upward import this layering removed: tune named compare's strategies.
    imported = {
        i.imported for i in all_imports() if i.importer.startswith("lrjax.tune")
    }
    assert not {m for m in imported if m.startswith("lrjax.compare")}
    assert "lrjax.tune.catalogue" in imported


# --- the checker, on made-up modules -------------------------------------------

FAKE_MODULES = [
    "lrjax",
    "lrjax._validation",
    "lrjax.tune",
    "lrjax.tune.sweep",
    "lrjax.tune.named",
    "lrjax.tune.catalogue",
    "lrjax.compare",
    "lrjax.compare.tuning",
]


def test_the_parser_resolves_every_import_form():
    source = """
import lrjax
import lrjax.tune.sweep
import numpy as np
from lrjax import _validation as val
from lrjax.tune import StrategyRuns, sweep
from lrjax.tune.catalogue import STRATEGIES
from . import catalogue
from .. import compare
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from lrjax.compare.tuning import compare
class Table:
    from lrjax.compare import tuning
def later():
    from lrjax.compare.tuning import compare
"""
    found = parse_imports(source, "lrjax.tune.named", FAKE_MODULES)
    assert [(i.imported, i.kind) for i in found] == [
        ("lrjax", "module"),
        ("lrjax.tune.sweep", "module"),
        ("lrjax._validation", "module"),
        ("lrjax.tune", "module"),  # StrategyRuns: a name of the package
        ("lrjax.tune.sweep", "module"),  # sweep: also a module of it
        ("lrjax.tune.catalogue", "module"),
        ("lrjax.tune.catalogue", "module"),
        ("lrjax.compare", "module"),
        ("lrjax.compare.tuning", "type"),
        ("lrjax.compare.tuning", "module"),  # a class body runs on load
        ("lrjax.compare.tuning", "function"),
    ]
    # In a package's __init__, "." is the package itself.
    (init,) = parse_imports(
        "from .sweep import sweep", "lrjax.tune", FAKE_MODULES, True
    )
    assert init.imported == "lrjax.tune.sweep"


def layer(name: str) -> int:
    return [entry[0] for entry in LAYERS].index(name)


def test_the_checker_flags_an_upward_import():
    lazy = Import("lrjax.tune.named", "lrjax.compare.tuning", 40, "function")
    (message,) = layer_violations([lazy])
    assert message == (
        f"lrjax.tune.named (layer {layer('tuning')} 'tuning') imports "
        f"lrjax.compare.tuning (layer {layer('comparison')} 'comparison') at line 40, "
        "function-level: up"
    )
    # The catalogue may not read the namespace above it either.
    (message,) = layer_violations(
        [Import("lrjax.tune.catalogue", "lrjax", 1, "module")]
    )
    assert f"(layer {layer('strategy catalogue')} 'strategy catalogue')" in message
    assert f"(layer {layer('public namespace')} 'public namespace')" in message


def test_the_checker_flags_an_import_across_one_layer():
    across = Import("lrjax.schedules.cosine", "lrjax.transforms.adam", 3, "module")
    (message,) = layer_violations([across])
    assert message.endswith("across (same layer, another area)")
    allowed = {("lrjax.schedules", "lrjax.transforms")}
    assert layer_violations([across], same_layer=allowed) == []
    # Inside one area and downwards are fine.
    fine = [
        Import("lrjax.tune.sweep", "lrjax.tune.named", 1, "module"),
        Import("lrjax.tune.named", "lrjax.tune.catalogue", 1, "module"),
        Import("lrjax.compare.tuning", "lrjax.tune", 1, "module"),
        Import("lrjax.cli.command", "lrjax", 1, "function"),
    ]
    assert layer_violations(fine) == []


def test_the_checker_reports_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}}) == []
    # Only the imports that run on load make the graph.
    imports = [
        Import("a", "b", 1, "module"),
        Import("b", "a", 1, "function"),
        Import("b", "a", 2, "type"),
    ]
    assert find_cycles(load_graph(imports)) == []
    imports.append(Import("b", "a", 3, "module"))
    assert find_cycles(load_graph(imports)) == [["a", "b", "a"]]
