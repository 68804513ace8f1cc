"""A tqdm progress bar over strategies, for :func:`lrjax.sweep` and
``lrjax compare``; tqdm is optional (the ``examples`` extra), so without it
there is no bar and nothing else changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(items: Sequence[Any], enabled: bool) -> Any:
    """A tqdm bar over ``items`` (one tick per strategy), or ``None`` when
    ``enabled`` is false or tqdm is not installed."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(items, unit="strategy", dynamic_ncols=True, leave=True)
