"""Every learning-rate strategy on the same network: ``lrjax compare``.

A thin wrapper around :mod:`lrjax.compare` (the code lives in the package, so
it is installed and tested). Tunes each strategy's rate on MNIST-1D's
validation split, trains the chosen rate on fresh seeds (an MLP, or ``--model
cnn``), and writes ``results/strategies.csv``, ``results/strategies_curves.csv``,
``results/sweep.csv`` and ``results/strategies.png``. Same options as
``lrjax compare --help``::

    python examples/compare_strategies.py
    python examples/compare_strategies.py --strategies decay adam --epochs 27
"""

import sys

from lrjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
