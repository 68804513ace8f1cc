"""Every public name of lrjax has an entry in the API reference.

The reference pages (``docs/api/*.md``) list the names they document in
``autosummary`` directives and, for optax's re-exported objects, in
``py:function``/``py:class``/``py:data`` directives, each under a
``currentmodule`` directive. Two checks use this module:

* :func:`documented_names` reads those lists without Sphinx;
  ``tests/test_docs.py`` compares them with ``lrjax.__all__`` and
  ``lrjax.compare.__all__`` in the fast test run;
* as a Sphinx extension (``api_coverage`` in ``conf.py``), once every page
  is read, it compares the objects the Python domain actually holds with the
  same lists and warns, naming each public name without an entry (and each
  entry that is no longer public), so ``sphinx -W`` fails the build.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent
API_PAGES = DOCS / "api"
# Modules whose __all__ the reference must cover.
PUBLIC_MODULES = ("lrjax", "lrjax.compare")

_FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w:-]+)\}\s*(.*)$")
_RST = re.compile(r"^\.\. ([\w:-]+)::\s*(.*)$")
_DESCRIBES = {"function", "class", "data", "attribute", "exception"}
_AUTODOC = {"autofunction", "autoclass", "autodata", "autoexception"}


def public_names() -> set[str]:
    """``module.name`` for every name in the public modules' ``__all__``."""
    names = set()
    for module in PUBLIC_MODULES:
        names.update(f"{module}.{n}" for n in importlib.import_module(module).__all__)
    return names


def page_entries(text: str) -> list[str]:
    """The qualified names one page documents, in order (repeats kept).

    Reads the reST directives of ``{eval-rst}`` blocks (``currentmodule``,
    ``autosummary``, ``autofunction``, ...) and MyST fenced directives
    (```` ```{py:function} name ````).
    """
    entries: list[str] = []
    _read(text.splitlines(), [None], entries)
    return entries


def _read(lines: list[str], module: list[str | None], entries: list[str]) -> None:
    """Appends the names ``lines`` document; ``module[0]`` is the current module."""
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        fence, rst = _FENCE.match(line), _RST.match(line)
        if fence:
            marker, directive, argument = fence.groups()
            body = []
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence
            if directive == "eval-rst":
                _read(body, module, entries)
                continue
        elif rst:
            directive, argument = rst.groups()
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i][:1] == " "):
                body.append(lines[i])
                i += 1
        else:
            continue
        directive = directive.removeprefix("py:")
        if directive in ("currentmodule", "module"):
            module[0] = argument.strip()
        elif directive == "autosummary":
            for item in body:
                item = item.strip()
                if item and not item.startswith(":"):
                    entries.append(_qualify(module[0], item.lstrip("~")))
        elif directive in _DESCRIBES or directive in _AUTODOC:
            name = re.split(r"[(\s]", argument.strip(), maxsplit=1)[0]
            entries.append(_qualify(module[0], name))


def _qualify(module: str | None, name: str) -> str:
    if module is None:
        raise ValueError(f"{name!r} is listed before any currentmodule directive")
    return name if name.startswith(module + ".") else f"{module}.{name}"


def documented_names(pages_dir: Path = API_PAGES) -> dict[str, list[str]]:
    """``{qualified name: [pages listing it]}`` over the reference pages."""
    found: dict[str, list[str]] = {}
    for page in sorted(pages_dir.glob("*.md")):
        for name in page_entries(page.read_text()):
            found.setdefault(name, []).append(page.name)
    return found


def _check_domain(app, env) -> None:
    """Warns for each public name the Python domain holds no object for."""
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    objects = env.get_domain("py").objects
    public = public_names()
    missing = sorted(n for n in public if n not in objects)
    if missing:
        logger.warning(
            "%d public name(s) have no entry in the API reference (add each "
            "to a list in docs/api/*.md): %s",
            len(missing),
            ", ".join(missing),
            type="lrjax",
            subtype="api_coverage",
        )
    stale = sorted(
        n
        for n, pages in documented_names().items()
        if n not in public
        for _ in pages[:1]
    )
    if stale:
        logger.warning(
            "the API reference lists name(s) that are not public: %s",
            ", ".join(stale),
            type="lrjax",
            subtype="api_coverage",
        )


def setup(app):
    app.connect("env-check-consistency", _check_domain)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
