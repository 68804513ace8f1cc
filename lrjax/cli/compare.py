"""``lrjax compare``: the subcommand's parser and its call into
:mod:`lrjax.compare.command`, which holds the options and the run.

:mod:`lrjax.compare` (JAX training, and the ``examples`` extra's packages when
it runs) is imported when the parser is built, not with :mod:`lrjax.cli`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from lrjax.cli.arguments import CliError, first_line

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Adds ``compare`` to ``commands`` (``add_subparsers()``'s result)."""
    from lrjax.compare.command import add_arguments

    compare = commands.add_parser(
        "compare",
        help="train a network under every strategy and compare them",
        description="Train the same network (on MNIST-1D by default, or "
        "scikit-learn's digits with --task digits) under each learning-rate "
        "strategy, at rates tuned on the validation split (--no-tune: the "
        "hand-set rates), several seeds at once, then print a ranked table "
        "and write CSV files and a figure. Needs the examples extra: pip "
        'install "lrjax[examples]".',
    )
    add_arguments(compare)
    return compare


def run(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    """Runs ``lrjax compare`` with the arguments after ``compare``.

    Raises:
      CliError: for an option out of range or a missing optional package.
    """
    opts = parser.parse_args(argv)
    from lrjax.compare.command import UsageError
    from lrjax.compare.command import run as run_command

    try:
        return run_command(opts)
    except (UsageError, ImportError) as e:
        raise CliError(first_line(e)) from None
