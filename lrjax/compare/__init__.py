"""The strategy comparison behind ``lrjax compare``: learning-rate strategies
on the same network, each at a rate tuned by :func:`lrjax.sweep`, reported on
fresh seeds with confidence intervals.

Needs the ``examples`` extra (mnist1d and scikit-learn for the data, tqdm and
matplotlib for the progress bar and the figure)::

    pip install "lrjax[examples]"
    lrjax compare                      # MNIST-1D MLP, 13 strategies, tuned
    lrjax compare --model cnn --strategies decay adam
    lrjax compare --task digits --no-tune --strategies all

On your own model, :func:`compare` takes ``init_fn``, ``loss_fn``, the train,
validation and test data and a metric, and returns the results that
:func:`format_table`, :func:`write_csv` and :func:`plot_results` take
(``examples/compare_own_model.py``).
"""

from lrjax.compare.command import run_comparison
from lrjax.compare.data import TASKS, Dataset, cache_dir, load_digits, load_mnist1d
from lrjax.compare.figure import plot_results
from lrjax.compare.models import MODELS, Model, build_model, cnn, cnn1d, mlp
from lrjax.compare.report import StrategyResult, format_table, write_csv
from lrjax.compare.training import Curves, make_seed_run, seed_keys, train_seeds
from lrjax.compare.tuning import DEFAULT_STRATEGIES, compare, rate_grid
from lrjax.tune.catalogue import FAMILIES, STRATEGIES, Context, Plan, Strategy, select

__all__ = [
    "Context",
    "Curves",
    "DEFAULT_STRATEGIES",
    "Dataset",
    "FAMILIES",
    "MODELS",
    "Model",
    "Plan",
    "STRATEGIES",
    "Strategy",
    "StrategyResult",
    "TASKS",
    "build_model",
    "cache_dir",
    "cnn",
    "cnn1d",
    "compare",
    "format_table",
    "load_digits",
    "load_mnist1d",
    "make_seed_run",
    "mlp",
    "plot_results",
    "rate_grid",
    "run_comparison",
    "seed_keys",
    "select",
    "train_seeds",
    "write_csv",
]
