"""Layer-wise learning-rate decay (LLRD): rate groups by depth from the top.

Fine-tuning recipes (BEiT, ELECTRA) train the head at the base rate and
each layer below it ``decay`` times slower. :func:`layerwise_rate_decay`
builds the :class:`lrjax.ParamGroup` rules for :func:`lrjax.param_groups`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from lrjax import _validation as val
from lrjax.transforms._param_rules import Rule, all_of, matcher
from lrjax.transforms.param_groups import ParamGroup

__all__ = ["layerwise_rate_decay"]


def layerwise_rate_decay(
    decay: float,
    layers: Sequence[Rule | Sequence[Rule]] | None = None,
    *,
    pattern: str | None = None,
    num_layers: int | None = None,
    embeddings: Rule | Sequence[Rule] | None = None,
    no_weight_decay: Rule | Sequence[Rule] | None = None,
) -> dict[str, ParamGroup]:
    """Groups for layer-wise learning-rate decay (LLRD), for :func:`param_groups`.

    A leaf at depth ``d`` (counted from the top of the network) trains at
    ``lr_mult = decay**d``: the head at depth 0 trains at the base rate,
    each layer below it ``decay`` times slower, the embeddings slowest (the
    convention of BEiT and ELECTRA fine-tuning). Depths come either from
    ``layers``, rules listed top first (``layers[i]`` is depth ``i``), or
    from ``pattern``, a regular expression whose first group captures the
    layer index ``i`` in ``[0, num_layers)``, counted from the input: layer
    ``i`` is at depth ``num_layers - i``. ``embeddings`` are one below the
    deepest layer. Leaves matched by none are left to the ``"default"``
    group (depth 0, the base rate).

    Groups are named ``"depth_<d>"``. With ``no_weight_decay`` (say
    ``r"(bias|scale)$"``) each depth is split: its matching leaves go to
    ``"depth_<d>_no_wd"`` (``wd_mult=0``), and those of the default group to
    ``"no_wd"``. Put groups of your own (frozen ones) before these in the
    dict: the first match wins.

    Args:
      decay: in ``(0, 1]``, the rate ratio between adjacent depths.
      layers: rules (regex, predicate, or a list of them) top first.
      pattern: a regex with a capture group for the layer index; needs
        ``num_layers``. Give ``layers`` or ``pattern``, not both.
      num_layers: the number of indexed layers, an integer > 0.
      embeddings: rule(s) for the embeddings, one depth below the layers.
      no_weight_decay: rule(s) for leaves that get no weight decay.

    Returns:
      ``{name: ParamGroup}`` in the order to try them.

    Raises:
      ValueError, TypeError: for bad arguments, naming them; at ``init``, a
        layer index outside ``[0, num_layers)``.

    Examples:
        >>> import lrjax
        >>> groups = lrjax.layerwise_rate_decay(
        ...     0.5, pattern=r"^layers_(\\d+)/", num_layers=2, embeddings=r"^embed/"
        ... )
        >>> {name: g.lr_mult for name, g in groups.items()}  # head: default, 1
        {'depth_1': 0.5, 'depth_2': 0.25, 'depth_3': 0.125}
        >>> groups["depth_1"].match("layers_1/kernel", None)  # the top layer
        True
    """
    val.check_in_range("decay", decay, 0.0, 1.0, low_inclusive=False)
    if (layers is None) == (pattern is None):
        raise ValueError(
            "layerwise_rate_decay: give layers (rules, top first) or pattern "
            f"with num_layers, exactly one; got layers={layers!r}, "
            f"pattern={pattern!r}."
        )
    depths: list[Callable[[str, Any], bool]] = []
    if layers is not None:
        if isinstance(layers, (str, re.Pattern)) or not isinstance(layers, Sequence):
            raise TypeError(
                f"layers must be a list of rules, top layer first, got {layers!r}."
            )
        if num_layers is not None:
            raise ValueError(
                f"num_layers goes with pattern, got num_layers={num_layers!r} "
                "with layers."
            )
        depths = [matcher(f"layers[{i}]", r) for i, r in enumerate(layers)]
    else:
        val.check_type("pattern", pattern, str)
        val.check_positive_int("num_layers", num_layers)
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise ValueError(
                f"pattern must be a valid regular expression, got {pattern!r}: {e}."
            ) from None
        if regex.groups < 1:
            raise ValueError(
                "pattern must capture the layer index in a group, as in "
                f"r'layers_(\\d+)/', got {pattern!r}."
            )

        def index(path: str) -> int | None:
            m = regex.search(path)
            if m is None:
                return None
            i = int(m.group(1))
            if not 0 <= i < num_layers:
                raise ValueError(
                    f"layerwise_rate_decay: path {path!r} has layer index {i}, "
                    f"outside [0, num_layers) = [0, {num_layers}) for pattern "
                    f"{pattern!r}."
                )
            return i

        def at_depth(d: int) -> Callable[[str, Any], bool]:
            return lambda path, leaf: index(path) == num_layers - d

        depths = [lambda path, leaf: False] + [
            at_depth(d) for d in range(1, num_layers + 1)
        ]
    if embeddings is not None:
        depths.append(matcher("embeddings", embeddings))
    no_wd = (
        None if no_weight_decay is None else matcher("no_weight_decay", no_weight_decay)
    )
    groups: dict[str, ParamGroup] = {}
    start = 0 if layers is not None else 1  # pattern: depth 0 is the default
    for d in range(start, len(depths)):
        mult = float(decay) ** d
        if no_wd is not None:
            groups[f"depth_{d}_no_wd"] = ParamGroup(
                all_of(depths[d], no_wd), lr_mult=mult, wd_mult=0.0
            )
        groups[f"depth_{d}"] = ParamGroup(depths[d], lr_mult=mult)
    if no_wd is not None:
        groups["no_wd"] = ParamGroup(no_wd, wd_mult=0.0)
    return groups
