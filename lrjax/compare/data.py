"""The comparison's data: scikit-learn's bundled 8x8 handwritten digits.

The 1,797 images ship inside scikit-learn, so nothing is downloaded. Pixels
(0..16) are scaled to ``[0, 1]``; the split is stratified by class and fixed
(``random_state=0``), so every run and every strategy sees the same examples.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Digits", "load_digits"]

NUM_CLASSES = 10


class Digits(NamedTuple):
    """Train and test arrays; images are ``(n, 8, 8, 1)`` float32 in ``[0, 1]``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits(test_fraction: float = 0.25, split_seed: int = 0) -> Digits:
    """Loads the digits with a fixed stratified train/test split.

    Args:
      test_fraction: share of the examples held out for testing, in (0, 1).
        Default 0.25 (1,347 train, 450 test images).
      split_seed: seed of the split (not of training). Default 0.

    Returns:
      :class:`Digits`, with int32 labels.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError(
            'lrjax compare needs scikit-learn: pip install "lrjax[examples]"'
        ) from None
    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(np.float32)[..., None]
    labels = bunch.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        labels,
        test_size=test_fraction,
        stratify=labels,
        random_state=split_seed,
    )
    return Digits(x_train, y_train, x_test, y_test)
