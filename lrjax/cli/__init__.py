"""The ``lrjax`` command line.

    lrjax schedule NAME --ARG VALUE ... --steps N   # print (and plot) a schedule
    lrjax compare [--strategies NAME ...]           # compare strategies on a network

``python -m lrjax`` is the same. Modules: :mod:`lrjax.cli.command` (the
top-level parser, :func:`main`), :mod:`lrjax.cli.schedule` and
:mod:`lrjax.cli.compare` (one per subcommand), :mod:`lrjax.cli.arguments`
(reading a schedule's arguments) and :mod:`lrjax.cli.aliases` (PyTorch and
Keras scheduler names).
"""

from lrjax.cli.arguments import available_schedules
from lrjax.cli.command import main

__all__ = ["main", "available_schedules"]
