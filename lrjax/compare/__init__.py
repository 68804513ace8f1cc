"""The strategy comparison behind ``lrjax compare``: every learning-rate
strategy on the same network, several seeds at once.

Needs the ``examples`` extra (scikit-learn for the data, tqdm and matplotlib
for the progress bar and the figure)::

    pip install "lrjax[examples]"
    lrjax compare                      # MLP, every strategy, 3 seeds
    lrjax compare --model cnn --strategies decay adam
"""

from lrjax.compare.command import run_comparison
from lrjax.compare.data import Digits, load_digits
from lrjax.compare.figure import plot_results
from lrjax.compare.models import MODELS, Model, cnn, mlp
from lrjax.compare.report import StrategyResult, format_table, write_csv
from lrjax.compare.strategies import FAMILIES, STRATEGIES, Context, Strategy, select
from lrjax.compare.training import Curves, Plan, make_seed_run, seed_keys, train_seeds
