"""Sphinx configuration of lrjax's documentation site.

Build (the ``docs`` extra): ``python -m sphinx -W -b html docs docs/_build/html``.
Pages are Markdown (MyST); the API reference is generated from the
docstrings (Google style, read by napoleon) by autosummary, one page per
public name, grouped by the name lists in ``docs/api/*.md``. Nothing is
fetched from the network (no intersphinx) and no notebook is executed.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))  # api_coverage, the coverage check
sys.path.append(str(DOCS.parent))  # lrjax from the checkout, when not installed

import lrjax  # noqa: E402

project = "lrjax"
author = "lrjax contributors"
copyright = "lrjax contributors"  # noqa: A001
release = version = lrjax.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "api_coverage",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build"]

# MyST: GitHub-style anchors, so that `page.md#a-heading` links work both on
# GitHub and in the site.
myst_heading_anchors = 4

# autosummary writes one page per name into docs/api/_autosummary (ignored
# by git) from the templates in docs/_templates/autosummary.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
# Signatures keep the annotations, written short (`ArrayLike`, not the union
# it stands for).
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
python_use_unqualified_type_names = True
# Keep the aliases' names in signatures instead of the unions they stand for.
autodoc_type_aliases = {
    name: name
    for name in (
        "ScalarOrSchedule",
        "Schedule",
        "Params",
        "Updates",
        "OptState",
        "ArrayLike",
        "DTypeLike",
        "ArrayTree",
        "PyTree",
    )
}
add_module_names = False

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True

html_theme = "furo"
html_title = f"lrjax {release}"
html_static_path: list[str] = []


# The guide pages link to BENCHMARKS.md at the repository root by a relative
# path, which GitHub follows. The site has no page outside docs/, so there
# the links lead to the end of the benchmarks page, which shows the file.
BENCHMARKS = DOCS.parent / "BENCHMARKS.md"
BENCHMARKS_ANCHOR = "benchmarks.md#all-measurements"


def _benchmarks_in_site(app, docname, source):
    up = "../" * docname.count("/")
    text = source[0].replace(f"]({up}../BENCHMARKS.md)", f"]({up}{BENCHMARKS_ANCHOR})")
    if docname == "benchmarks":
        lines, in_code = [], False
        for line in BENCHMARKS.read_text().splitlines()[1:]:  # after its title
            in_code ^= line.startswith("```")
            lines.append("#" + line if line.startswith("#") and not in_code else line)
        text += "\n## All measurements\n\n" + "\n".join(lines) + "\n"
    source[0] = text


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    """NamedTuple fields ("Alias for field number 0") are documented by the
    class docstring's Attributes section."""
    if type(obj).__name__ == "_tuplegetter":
        return True
    return None


def setup(app):
    app.connect("source-read", _benchmarks_in_site)
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
