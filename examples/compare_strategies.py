"""Every learning-rate strategy on the same network: ``lrjax compare``.

A thin wrapper around :mod:`lrjax.compare` (the code lives in the package, so
it is installed and tested). Trains an MLP (or ``--model cnn``) on
scikit-learn's bundled digits under each strategy, three seeds at once, and
writes ``results/strategies.csv``, ``results/strategies_curves.csv`` and
``results/strategies.png``. Same options as ``lrjax compare --help``::

    python examples/compare_strategies.py
    python examples/compare_strategies.py --strategies decay adam --epochs 30
"""

import sys

from lrjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
