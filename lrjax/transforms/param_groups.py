"""Parameter groups chosen by path: per-group rate, weight decay or freezing.

PyTorch's ``param_groups`` and big_vision's ``lr_mults``/``wd_mults``/frozen
patterns, as one ``GradientTransformation``. Each leaf of the parameter tree
is labelled by its path; each label (group) gets its own copy of the
optimizer, built with the group's rate and weight decay, under
``optax.partition``, so the groups' states are separate and
:func:`lrjax.get_learning_rate` reads ``{group: rate}``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrjax import _containers
from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms._param_rules import (
    DEFAULT_GROUP,
    Rule,
    label_tree,
    matcher,
    unmatched_message,
    user_stacklevel,
)
from lrjax.transforms.scaling import set_to_zero

__all__ = [
    "ParamGroup",
    "RateMultiplierState",
    "param_group_labels",
    "param_groups",
]

_UNMATCHED = ("raise", "warn", "ignore")


class ParamGroup(NamedTuple):
    """One group of :func:`param_groups`: which leaves, and how they train.

    Attributes:
      match: a rule or a list/tuple of rules (any may match). A rule is a
        regular expression (``str`` or compiled), tried with ``re.search``
        on the leaf's path string (see :func:`param_groups`), or a predicate
        ``(path, leaf) -> bool`` that reads only the path, shape and dtype
        (it also runs under ``jit`` and ``jax.eval_shape``). ``None`` only
        for the ``default`` group.
      learning_rate: the group's own rate (number or schedule); ``None``
        uses the base ``learning_rate``.
      lr_mult: ``>= 0``, multiplies the group's rate. Default 1.
      weight_decay: the group's own weight decay; ``None`` uses the base.
      wd_mult: ``>= 0``, multiplies the group's weight decay; 0 disables it.
      freeze: no optimizer state, zero updates. Default False.
      optional: the group may end up with no leaf: ``init`` then neither
        raises nor warns about it, whatever ``unmatched`` says. Default
        False, so that a mistyped rule is caught; for groups that are
        empty by design on some models (:func:`layerwise_rate_decay` sets it
        on the ``_no_wd`` groups it generates).
    """

    match: Rule | Sequence[Rule] | None = None
    learning_rate: ScalarOrSchedule | None = None
    lr_mult: float = 1.0
    weight_decay: ScalarOrSchedule | None = None
    wd_mult: float = 1.0
    freeze: bool = False
    optional: bool = False


class RateMultiplierState(NamedTuple):
    """State of a group's ``lr_mult`` when the optimizer is given built.

    Attributes:
      learning_rate_scale: float32 multiplier, read by
        :func:`lrjax.get_learning_rate` as a factor on the group's rate.
    """

    learning_rate_scale: jax.Array


def _rate_multiplier(mult: float) -> GradientTransformation:
    def init_fn(params):
        del params
        return RateMultiplierState(jnp.asarray(mult, jnp.float32))

    def update_fn(updates, state, params=None):
        del params
        scaled = jax.tree_util.tree_map(lambda u: (u * mult).astype(u.dtype), updates)
        return scaled, state

    return GradientTransformation(init_fn, update_fn)


def _as_group(where: str, spec: Any) -> ParamGroup:
    if isinstance(spec, ParamGroup):
        return spec
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(ParamGroup._fields), key=str)
        if unknown:
            raise TypeError(
                f"{where} has unknown keys {unknown}; valid keys are "
                f"{list(ParamGroup._fields)}."
            )
        return ParamGroup(**spec)
    raise TypeError(
        f"{where} must be an lrjax.ParamGroup or a dict of its fields, got "
        f"{spec!r} of type {type(spec).__name__}."
    )


def _scaled(value: Any, mult: float) -> Any:
    """``mult * value`` for a number or a schedule."""
    if val.is_zero(mult):
        return 0.0  # a constant 0: weight decay skips its work entirely
    if mult == 1:
        return value
    if callable(value):
        return lambda count: mult * value(count)
    return mult * value


def _check_groups(groups: Any, default: Any) -> dict[str, ParamGroup]:
    if not isinstance(groups, Mapping):
        raise TypeError(
            "groups must be a dict {name: ParamGroup or dict}, got "
            f"{groups!r} of type {type(groups).__name__}."
        )
    out = {}
    for name, spec in groups.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"groups: each name must be a non-empty str, got {name!r}.")
        if name == DEFAULT_GROUP:
            raise ValueError(
                f"groups: the name {DEFAULT_GROUP!r} is the default group's; "
                "set its options with default=... instead."
            )
        group = _as_group(f"groups[{name!r}]", spec)
        if group.match is None:
            raise ValueError(f"groups[{name!r}].match must be given, got None.")
        out[name] = group
    default = _as_group("default", ParamGroup() if default is None else default)
    if default.match is not None:
        raise ValueError(
            f"default.match must be None (the default group takes the leaves "
            f"no group matches), got {default.match!r}."
        )
    out[DEFAULT_GROUP] = default
    for name, g in out.items():
        where = "default" if name == DEFAULT_GROUP else f"groups[{name!r}]"
        val.check_non_negative(f"{where}.lr_mult", g.lr_mult)
        val.check_non_negative(f"{where}.wd_mult", g.wd_mult)
        val.check_learning_rate(
            f"{where}.learning_rate", g.learning_rate, allow_none=True
        )
        val.check_learning_rate(
            f"{where}.weight_decay", g.weight_decay, allow_none=True
        )
        val.check_type(f"{where}.freeze", g.freeze, bool)
        val.check_type(f"{where}.optional", g.optional, bool)
        if g.freeze and (
            g.learning_rate is not None
            or g.weight_decay is not None
            or g.lr_mult != 1
            or g.wd_mult != 1
        ):
            raise ValueError(
                f"{where} has freeze=True and also sets a rate or weight decay "
                f"({g}); a frozen group takes no other option."
            )
    return out


def _rules(groups: dict[str, ParamGroup]) -> list[tuple[str, Callable]]:
    return [
        (name, matcher(f"groups[{name!r}].match", g.match))
        for name, g in groups.items()
        if name != DEFAULT_GROUP
    ]


def _group_tx(
    name: str,
    g: ParamGroup,
    optimizer: Any,
    learning_rate: Any,
    weight_decay: Any,
    any_decay: bool,
) -> GradientTransformation:
    where = "default" if name == DEFAULT_GROUP else f"groups[{name!r}]"
    if g.freeze:
        return set_to_zero()
    if isinstance(optimizer, GradientTransformation):
        if g.learning_rate is not None or g.weight_decay is not None or g.wd_mult != 1:
            raise TypeError(
                f"{where} sets learning_rate, weight_decay or wd_mult, which "
                "need the optimizer as a factory (lrjax.adamw, or "
                "functools.partial(lrjax.adamw, b1=0.95)), not a built one."
            )
        return (
            optimizer
            if g.lr_mult == 1
            else chain(optimizer, _rate_multiplier(float(g.lr_mult)))
        )
    rate = learning_rate if g.learning_rate is None else g.learning_rate
    if rate is None:
        raise ValueError(
            f"{where} has no learning rate: give learning_rate= (the base) or "
            f"{where}.learning_rate."
        )
    kwargs = {"learning_rate": _scaled(rate, g.lr_mult)}
    if any_decay:
        decay = weight_decay if g.weight_decay is None else g.weight_decay
        if decay is None and val.is_zero(g.wd_mult):
            decay = 0.0  # wd_mult=0 means no decay, with or without a base
        if decay is None:
            raise ValueError(
                f"{where} has no weight decay while other groups set one: give "
                f"weight_decay= (the base) or {where}.weight_decay."
            )
        kwargs["weight_decay"] = _scaled(decay, g.wd_mult)
    return optimizer(**kwargs)


def param_group_labels(
    params: Any,
    groups: Mapping[str, ParamGroup | Mapping[str, Any]],
) -> Any:
    """The tree of group names :func:`param_groups` gives ``params``' leaves.

    For checking rules: leaves no group matches are labelled ``"default"``.
    ``params`` may be a tree, an ``nnx.State`` or an ``nnx.Module``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> params = {"body": {"w": jnp.ones(2)}, "head": {"w": jnp.ones(2)}}
        >>> lrjax.param_group_labels(params, {"top": {"match": r"^head/"}})
        {'body': {'w': 'default'}, 'head': {'w': 'top'}}
    """
    rules = _rules(_check_groups(groups, None))
    return label_tree(_containers.params_of(params), rules)


@elementwise_constructor(
    "its groups select leaves by their place in the tree, which packing changes"
)
def param_groups(
    optimizer: Callable[..., GradientTransformation] | GradientTransformation,
    groups: Mapping[str, ParamGroup | Mapping[str, Any]],
    *,
    learning_rate: ScalarOrSchedule | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    default: ParamGroup | Mapping[str, Any] | None = None,
    unmatched: str = "raise",
) -> GradientTransformationExtraArgs:
    """Trains groups of parameters, chosen by path, with their own settings.

    Each leaf goes to the first group whose ``match`` accepts it, else to the
    group ``"default"``. A group ``g`` runs its own copy of the optimizer on
    its leaves only (other leaves are not passed to it, as in
    ``optax.partition``), built as::

        rate  = g.lr_mult * (g.learning_rate if given, else learning_rate)
        decay = g.wd_mult * (g.weight_decay if given, else weight_decay)
        optimizer(learning_rate=rate, weight_decay=decay)

    (``weight_decay`` is passed only when it or some group sets one;
    ``wd_mult=0`` is no decay; a schedule is scaled per step). A frozen group gets zero updates, keeps no state,
    and its leaves reach no optimizer, so a NaN gradient there harms nothing.
    :func:`lrjax.get_learning_rate` returns ``{group: rate}``, frozen groups
    left out.

    Paths are the keys from the root joined by ``/``: dict keys and
    attribute names as they are, list/tuple positions as numbers
    (``"layers/0/kernel"``); an ``nnx.Variable`` is a leaf (its ``value`` is
    not part of the path), so ``nnx.state(model, nnx.Param)`` gives
    ``"head/kernel"``; linen's ``variables["params"]`` (what
    ``TrainState.create(params=...)`` takes) gives ``"Dense_0/kernel"``, the
    whole ``variables`` dict ``"params/Dense_0/kernel"``; a lone array
    ``""``. Check them with :func:`param_group_labels`.

    PyTorch: ``SGD([{"params": a, "lr": 0.1}, {"params": b}], lr=0.01)`` is
    ``param_groups(f, {"a": {"match": ..., "learning_rate": 0.1}},
    learning_rate=0.01)``; its group ``weight_decay`` is ``weight_decay``
    here; freezing is ``requires_grad=False``. big_vision's ``lr_mults``,
    ``wd_mults`` and frozen patterns are ``lr_mult``, ``wd_mult`` and
    ``freeze``. optax: ``optax.partition`` (``multi_transform``) with a
    label function and one optimizer per label, which this builds; unlike
    it, groups without leaves keep no state and a group matching nothing
    is an error (``unmatched``).

    Args:
      optimizer: a factory called with ``learning_rate=`` (and
        ``weight_decay=``), such as ``lrjax.adamw`` or a
        ``functools.partial`` of it; or a built ``GradientTransformation``,
        whose groups may then set only ``lr_mult`` (applied to the updates,
        read as a ``learning_rate_scale``) and ``freeze``. The factory form
        is exact; the built form multiplies updates the optimizer has
        already rounded, so bf16 updates are rounded twice (up to about one
        bf16 ulp from ``adamw(lr_mult * lr)``): use a factory for bf16.
      groups: ``{name: ParamGroup or dict of its fields}``, tried in order.
      learning_rate: the base rate, a number ``>= 0`` or a schedule.
      weight_decay: the base weight decay, ``>= 0`` or a schedule.
      default: options of the ``"default"`` group (no ``match``). Default:
        base rate and weight decay.
      unmatched: what ``init`` does when a group that is not ``optional``
        gets no leaf: ``"raise"`` (default; a mistyped pattern would
        silently train with base settings), ``"warn"`` (the warning names
        the line that called ``init``) or ``"ignore"``. The message says
        whether the group's rule matches no path or only leaves that earlier
        groups took. An empty group has no state.

    Returns:
      A ``GradientTransformationExtraArgs`` whose state is an
      ``optax.PartitionState`` over the groups with leaves.

    Raises:
      TypeError, ValueError: at construction, for a bad rule, group name,
        field, multiplier or rate, naming it; at ``init``, for a group that
        matches nothing (``unmatched="raise"``).

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.param_groups(
        ...     lrjax.adamw,
        ...     {"head": {"match": r"^head/", "lr_mult": 10.0, "wd_mult": 0.0},
        ...      "embed": {"match": r"^embed/", "freeze": True}},
        ...     learning_rate=0.01, weight_decay=0.5,
        ... )
        >>> params = {n: {"w": jnp.array([2.0])} for n in ("embed", "body", "head")}
        >>> grads = {n: {"w": jnp.array([3.0])} for n in ("embed", "body", "head")}
        >>> updates, state = tx.update(grads, tx.init(params), params)
        >>> # first AdamW step: -lr * (sign(g) + wd * w), the head 10x, no decay
        >>> {k: round(float(u["w"][0]), 4) for k, u in updates.items()}
        {'body': -0.02, 'embed': 0.0, 'head': -0.1}
        >>> rates = lrjax.get_learning_rate(state)
        >>> {k: round(float(v), 4) for k, v in sorted(rates.items())}
        {'default': 0.01, 'head': 0.1}
    """
    if not isinstance(optimizer, GradientTransformation) and not callable(optimizer):
        raise TypeError(
            "optimizer must be a factory (learning_rate=..., weight_decay=...) -> "
            f"GradientTransformation or a GradientTransformation, got {optimizer!r}."
        )
    val.check_learning_rate("learning_rate", learning_rate, allow_none=True)
    val.check_learning_rate("weight_decay", weight_decay, allow_none=True)
    val.check_one_of("unmatched", unmatched, _UNMATCHED)
    checked = _check_groups(groups, default)
    if isinstance(optimizer, GradientTransformation) and (
        learning_rate is not None or weight_decay is not None
    ):
        raise TypeError(
            "learning_rate and weight_decay need the optimizer as a factory "
            f"(got learning_rate={learning_rate!r}, weight_decay={weight_decay!r} "
            "with a built GradientTransformation)."
        )
    any_decay = weight_decay is not None or any(
        g.weight_decay is not None or g.wd_mult != 1 for g in checked.values()
    )
    txs = {
        name: _group_tx(name, g, optimizer, learning_rate, weight_decay, any_decay)
        for name, g in checked.items()
    }
    rules = _rules(checked)

    def partition(tree: Any) -> tuple[Any, set[str]]:
        labels = label_tree(tree, rules)
        used = set(jax.tree_util.tree_leaves(labels))
        # Only groups with leaves: an empty one would keep state and a rate.
        inner = {name: tx for name, tx in txs.items() if name in used}
        return optax.partition(inner, labels), used

    def init_fn(params):
        tx, used = partition(params)
        empty = [
            n
            for n, g in checked.items()
            if n not in used and n != DEFAULT_GROUP and not g.optional
        ]
        if empty and used and unmatched != "ignore":
            message = unmatched_message(empty, params, rules, unmatched)
            if unmatched == "raise":
                raise ValueError(message)
            warnings.warn(message, stacklevel=user_stacklevel())
        return tx.init(params)

    def update_fn(updates, state, params=None, **extra_args):
        tx, _ = partition(updates)
        return tx.update(updates, state, params, **extra_args)

    return GradientTransformationExtraArgs(init_fn, update_fn)
