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

# Every generated name starts with this, so that groups of one's own merged
# with these ({**own, **llrd}) do not replace them by accident.
_PREFIX = "llrd_"


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

    Groups are named ``"llrd_depth_<d>"``. With ``no_weight_decay`` (say
    ``r"(bias|scale)$"``) each depth is split: its matching leaves go to
    ``"llrd_depth_<d>_no_wd"`` (``wd_mult=0``), and those of the default
    group to ``"llrd_no_wd"``. These ``_no_wd`` groups are ``optional``: a
    depth without biases leaves its group empty, which ``init`` accepts. The
    depth groups are not: each comes from a rule you wrote, so a mistyped
    ``layers`` rule or ``pattern``, or a ``num_layers`` larger than the
    model, is an error at ``init`` (with ``unmatched="raise"``).

    Put groups of your own (frozen ones) before these in the dict, as in
    ``{**own, **groups}``: the first match wins. A key in both dicts keeps
    the later value silently, so do not start your names with ``"llrd_"``
    (or check that ``own.keys() & groups.keys()`` is empty).

    A scan-over-layers model (``nnx.scan``, ``nn.scan``) stacks the layers
    in one leaf, whose path has no layer index: ``pattern`` cannot split it
    (its groups match nothing and ``init`` raises). Give the stacked leaves
    one rule in ``layers`` (one depth), or scale the stacked axis of their
    updates yourself (see the guide, ``docs/param_groups.md``).

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
        layer index outside ``[0, num_layers)`` or a capture that is not an
        integer.

    Examples:
        >>> import lrjax
        >>> groups = lrjax.layerwise_rate_decay(
        ...     0.5, pattern=r"^layers_(\\d+)/", num_layers=2, embeddings=r"^embed/"
        ... )
        >>> {name: g.lr_mult for name, g in groups.items()}  # head: default, 1
        {'llrd_depth_1': 0.5, 'llrd_depth_2': 0.25, 'llrd_depth_3': 0.125}
        >>> groups["llrd_depth_1"].match("layers_1/kernel", None)  # the top layer
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
            captured = m.group(1)
            if captured is None or not captured.isdecimal():
                raise ValueError(
                    f"layerwise_rate_decay: pattern {pattern!r} captured "
                    f"{captured!r} from path {path!r}, not a layer index (an "
                    "integer); capture digits only, as in r'^layers_(\\d+)/'."
                )
            i = int(captured)
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
        name = f"{_PREFIX}depth_{d}"
        if no_wd is not None:
            # Optional: a depth without biases or scales is no mistake.
            groups[f"{name}_no_wd"] = ParamGroup(
                all_of(depths[d], no_wd), lr_mult=mult, wd_mult=0.0, optional=True
            )
        groups[name] = ParamGroup(depths[d], lr_mult=mult)
    if no_wd is not None:
        groups[f"{_PREFIX}no_wd"] = ParamGroup(no_wd, wd_mult=0.0, optional=True)
    return groups
