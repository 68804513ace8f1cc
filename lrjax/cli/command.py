"""The ``lrjax`` command: its top-level parser and :func:`main`, which hands
``lrjax schedule`` to :mod:`lrjax.cli.schedule` and ``lrjax compare`` to
:mod:`lrjax.cli.compare`, and turns a :class:`~lrjax.cli.arguments.CliError`
into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lrjax.cli import compare, schedule
from lrjax.cli.arguments import CliError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    # Subcommand parsers are made by add_subparsers() with this class too.
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see `{self.prog} --help`)")


def _build_parsers() -> tuple[
    argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser
]:
    """The ``lrjax`` parser and its ``schedule`` and ``compare`` parsers."""
    top = _Parser(
        prog="lrjax",
        description="lrjax: learning-rate schedules and optimizers for JAX.",
    )
    from lrjax import __version__

    top.add_argument("--version", action="version", version=f"lrjax {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    return top, schedule.add_parser(commands), compare.add_parser(commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``lrjax`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top, sched, comp = _build_parsers()
    try:
        try:
            if argv and argv[0] == "schedule":
                return schedule.run(sched, argv[1:])
            if argv and argv[0] == "compare":
                return compare.run(comp, argv[1:])
            top.parse_args(argv)
            raise CliError("missing COMMAND (see `lrjax --help`)")
        except SystemExit as e:  # --help and --version
            return e.code if isinstance(e.code, int) else 0
    except CliError as e:
        print(f"lrjax: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `lrjax ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
