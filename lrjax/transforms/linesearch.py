"""A zoom line search: strong Wolfe conditions (Nocedal & Wright, Alg. 3.5-3.6)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrjax import _numerics as num
from lrjax import _validation as val
from lrjax._base import GradientTransformationExtraArgs
from lrjax.transforms.lbfgs import tree_real_vdot

__all__ = [
    "ScaleByZoomLinesearchState",
    "ZoomLinesearchInfo",
    "scale_by_zoom_linesearch",
    "value_and_grad_from_state",
]

# optax's helper reads the fields named `value` and `grad` anywhere in the
# state, which ScaleByZoomLinesearchState provides: re-exported, not rewritten.
value_and_grad_from_state = optax.value_and_grad_from_state

_GUESSES = ("one", "keep")


class ZoomLinesearchInfo(NamedTuple):
    """What the last search did (optax's fields).

    Attributes:
      num_linesearch_steps: function evaluations made.
      decrease_error: how far the accepted step is from sufficient decrease
        (0: satisfied).
      curvature_error: the same for the curvature condition.
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array


class ScaleByZoomLinesearchState(NamedTuple):
    """State of :func:`scale_by_zoom_linesearch` (optax's fields).

    Attributes:
      learning_rate: the step size accepted at the last update (what
        :func:`lrjax.get_learning_rate` reports).
      value: the objective at the accepted step, and
      grad: its gradient: the next update's ``value`` and ``grad`` for a
        deterministic objective (see :func:`lrjax.value_and_grad_from_state`).
      info: :class:`ZoomLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    info: ZoomLinesearchInfo


class _Search(NamedTuple):
    """The search's loop carry: the last trial, the bracket, the best safe step."""

    count: jax.Array
    stepsize: jax.Array
    value: jax.Array
    grad: Any
    slope: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array
    bracketed: jax.Array
    done: jax.Array
    failed: jax.Array
    low: jax.Array
    value_low: jax.Array
    slope_low: jax.Array
    high: jax.Array
    value_high: jax.Array
    slope_high: jax.Array
    ref: jax.Array  # third point of the cubic interpolation
    value_ref: jax.Array
    safe: jax.Array  # largest-decrease step meeting sufficient decrease (0: none)
    value_safe: jax.Array
    grad_safe: Any


def _cubic_minimizer(a, fa, da, b, fb, c, fc):
    """Critical point of the cubic through (a, fa), (b, fb), (c, fc), slope da at a.

    With ``p(x) = A (x-a)^3 + B (x-a)^2 + da (x-a) + fa``: ``A, B`` solve the
    2x2 system given by ``b`` and ``c``; the root is NaN when there is none
    (then an inequality test rejects it).
    """
    db, dc = b - a, c - a
    rb, rc = fb - fa - da * db, fc - fa - da * dc
    denom = (db * dc) ** 2 * (db - dc)
    big_a = (dc**2 * rb - db**2 * rc) / denom
    big_b = (-(dc**3) * rb + db**3 * rc) / denom
    return a + (-big_b + jnp.sqrt(big_b**2 - 3.0 * big_a * da)) / (3.0 * big_a)


def _quadratic_minimizer(a, fa, da, b, fb):
    """Minimiser of the parabola through (a, fa), (b, fb) with slope da at a."""
    db = b - a
    curvature = (fb - fa - da * db) / db**2
    return a - da / (2.0 * curvature)


def _split_kwargs(value_fn: Callable[..., Any], extra: dict[str, Any]):
    names = set(inspect.signature(value_fn).parameters)
    unused = sorted(k for k in extra if k not in names)
    if unused:
        raise TypeError(
            "scale_by_zoom_linesearch.update: keyword arguments not accepted by "
            f"value_fn: {unused}. Pass only the inputs value_fn takes."
        )
    return dict(extra)


def scale_by_zoom_linesearch(
    max_linesearch_steps: int,
    max_learning_rate: float | None = None,
    tol: float = 0.0,
    increase_factor: float = 2.0,
    slope_rtol: float = 1e-4,
    curv_rtol: float = 0.9,
    approx_dec_rtol: float | None = 1e-6,
    stepsize_precision: float = 1e-5,
    initial_guess_strategy: str = "keep",
    verbose: bool = False,
) -> GradientTransformationExtraArgs:
    """Scales the update by a step size meeting the strong Wolfe conditions.

    Nocedal & Wright, "Numerical Optimization", Algorithms 3.5 (bracketing)
    and 3.6 (zoom), with Hager & Zhang's (2006) approximate Wolfe test. For
    the direction ``u`` (the incoming update), ``f0 = value``, the slope
    ``d0 = <u, grad>`` and a trial step ``t`` with ``f_t = f(w + t u)`` and
    slope ``d_t``, the step is accepted when both errors are ``<= tol``::

        decrease:  f_t - f0 - slope_rtol * t * d0               (Armijo)
                   or, where f_t <= f0 + approx_dec_rtol * |f0|,
                   d_t - (2 slope_rtol - 1) d0                  (approximate)
        curvature: |d_t| - curv_rtol * |d0|

    Bracketing tries ``guess, increase_factor * guess, ...`` (``guess`` is 1
    or, with ``initial_guess_strategy="keep"``, the last accepted step) until
    an interval holds an acceptable step; zooming then tries the minimiser of
    a cubic through the bracket ends and the previous trial, of a parabola
    when the cubic's lies within 20% of an end, or the midpoint when the
    parabola's lies within 10%. After ``max_linesearch_steps`` evaluations,
    or once the bracket is narrower than ``stepsize_precision``, the step
    with the lowest value among those meeting sufficient decrease is taken
    (the last trial if none did, unless it gave inf or NaN).

    ``update(updates, state, params, *, value, grad, value_fn, **kwargs)``
    takes the objective's value and gradient at ``params`` and the objective
    ``value_fn(params, **kwargs)``; extra keywords go to ``value_fn`` (a
    keyword it does not take is a ``TypeError``). The state keeps the value
    and gradient at the accepted step for the next update
    (:func:`lrjax.value_and_grad_from_state`). Same calling convention,
    arguments and defaults as ``optax.scale_by_zoom_linesearch``.

    Args:
      max_linesearch_steps: function evaluations per update, ``>= 1``.
      max_learning_rate: the largest step tried, ``> 0``, or None. Default None.
      tol: tolerance on both errors, ``>= 0``. Default 0.
      increase_factor: growth of the trial step while bracketing, ``> 1``.
        Default 2.
      slope_rtol: Armijo's ``c1``, in ``(0, 1)``. Default 1e-4.
      curv_rtol: Wolfe's ``c2``, ``> 0`` (``inf`` drops the condition).
        Default 0.9.
      approx_dec_rtol: ``>= 0``, or None for Armijo's test only. Default 1e-6.
      stepsize_precision: bracket width below which the search stops,
        ``>= 0``. Default 1e-5.
      initial_guess_strategy: ``"one"`` or ``"keep"``. Default ``"keep"``.
      verbose: accepted for optax compatibility; lrjax prints nothing (read
        ``state.info`` instead).

    Returns:
      A ``GradientTransformationExtraArgs`` with
      :class:`ScaleByZoomLinesearchState`.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import lrjax
        >>> def f(params):  # minimum at w = [1, 2]
        ...     return jnp.sum((params["w"] - jnp.array([1.0, 2.0])) ** 2)
        >>> search = lrjax.scale_by_zoom_linesearch(max_linesearch_steps=15)
        >>> tx = lrjax.chain(lrjax.scale(-1.0), search)  # along -g
        >>> params = {"w": jnp.zeros(2)}
        >>> state = tx.init(params)
        >>> value, grad = jax.value_and_grad(f)(params)
        >>> updates, state = tx.update(
        ...     grad, state, params, value=value, grad=grad, value_fn=f
        ... )
        >>> optax.apply_updates(params, updates)["w"]
        Array([1., 2.], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))  # the step accepted
        0.5
        >>> int(state[1].info.num_linesearch_steps)
        2
    """
    val.check_positive_int("max_linesearch_steps", max_linesearch_steps)
    if max_learning_rate is not None:
        val.check_positive("max_learning_rate", max_learning_rate)
    val.check_non_negative("tol", tol)
    val.check_in_range("increase_factor", increase_factor, 1.0, low_inclusive=False)
    val.check_in_range(
        "slope_rtol", slope_rtol, 0.0, 1.0, low_inclusive=False, high_inclusive=False
    )
    val.check_in_range("curv_rtol", curv_rtol, 0.0, low_inclusive=False)
    if approx_dec_rtol is not None:
        val.check_non_negative("approx_dec_rtol", approx_dec_rtol)
    val.check_non_negative("stepsize_precision", stepsize_precision)
    val.check_one_of("initial_guess_strategy", initial_guess_strategy, _GUESSES)
    val.check_type("verbose", verbose, bool)

    def errors(t, f_t, d_t, f0, d0):
        dec = f_t - f0 - slope_rtol * t * d0
        if approx_dec_rtol is not None:
            approx = jnp.maximum(
                d_t - (2.0 * slope_rtol - 1.0) * d0,
                f_t - f0 - approx_dec_rtol * jnp.abs(f0),
            )
            dec = jnp.minimum(dec, approx)
        dec = jnp.maximum(dec, 0.0)
        curv = jnp.maximum(jnp.abs(d_t) - curv_rtol * jnp.abs(d0), 0.0)
        nan_to_inf = lambda e: jnp.where(jnp.isnan(e), jnp.inf, e)  # noqa: E731
        return nan_to_inf(dec), nan_to_inf(curv)

    def pick(cond, a, b):
        return jax.tree_util.tree_map(lambda x, y: jnp.where(cond, x, y), a, b)

    def init_fn(params):
        # The search's scalars (step, values, slopes) in at least float32: a
        # bf16 line search cannot resolve the sufficient-decrease test.
        leaves = jax.tree_util.tree_leaves(params)
        dtype = jnp.finfo(num.compute_dtype(*(jnp.result_type(x) for x in leaves)))
        inf = jnp.asarray(jnp.inf, jnp.float32)
        return ScaleByZoomLinesearchState(
            jnp.ones([], dtype.dtype),
            jnp.asarray(jnp.inf, dtype.dtype),
            num.tree_buffers(params),
            ZoomLinesearchInfo(jnp.zeros([], jnp.int32), inf, inf),
        )

    def update_fn(
        updates,
        state,
        params=None,
        *,
        value,
        grad,
        value_fn,
        **extra_args,
    ):
        val.check_params("scale_by_zoom_linesearch", updates, params)
        fn_kwargs = _split_kwargs(value_fn, extra_args)
        value_and_grad = jax.value_and_grad(value_fn)
        dtype = state.learning_rate.dtype
        f0 = jnp.asarray(value, dtype)
        # optax's slopes: <u, grad> at 0 (u conjugated), Re sum(grad * u) on
        # the line; the same for real parameters.
        d0 = tree_real_vdot(updates, grad).astype(dtype)

        def evaluate(t):
            trial = jax.tree_util.tree_map(
                lambda w, u: (w + t * u).astype(jnp.asarray(w).dtype), params, updates
            )
            f_t, g_t = value_and_grad(trial, **fn_kwargs)
            d_t = tree_real_vdot(jax.tree_util.tree_map(jnp.conj, g_t), updates)
            return jnp.asarray(f_t, dtype), g_t, d_t.astype(dtype)

        def bracket(s: _Search) -> _Search:
            t = jnp.where(s.count == 0, guess, increase_factor * s.stepsize)
            if max_learning_rate is None:
                capped = jnp.asarray(False)
            else:
                capped = t >= max_learning_rate
                t = jnp.minimum(t, max_learning_rate)
            t = t.astype(dtype)
            f_t, g_t, d_t = evaluate(t)
            dec, curv = errors(t, f_t, d_t, f0, d0)
            ok = jnp.maximum(dec, curv) <= tol
            safe, value_safe, grad_safe = pick(
                dec <= tol, (t, f_t, g_t), (s.safe, s.value_safe, s.grad_safe)
            )
            # Too far: the bracket is [previous, t]. Slope turned up: [t, previous].
            overshoot = (dec > 0.0) | ((f_t >= s.value) & (s.count > 0))
            turned = (d_t >= 0.0) & ~overshoot
            low, value_low, slope_low, high, value_high, slope_high = pick(
                turned,
                (t, f_t, d_t, s.stepsize, s.value, s.slope),
                (s.stepsize, s.value, s.slope, t, f_t, d_t),
            )
            bracketed = overshoot | turned | ok
            done = ok | (capped & ~bracketed)
            count = num.safe_increment(s.count)
            return _Search(
                count, t, f_t, g_t, d_t, dec, curv, bracketed, done,
                (count >= max_linesearch_steps) & ~done,
                low, value_low, slope_low, high, value_high, slope_high,
                low, value_low, safe, value_safe, grad_safe,
            )  # fmt: skip

        def zoom(s: _Search) -> _Search:
            width = jnp.abs(s.high - s.low)
            left, right = jnp.minimum(s.low, s.high), jnp.maximum(s.low, s.high)
            cubic = _cubic_minimizer(
                s.low, s.value_low, s.slope_low, s.high, s.value_high, s.ref,
                s.value_ref,
            )  # fmt: skip
            quad = _quadratic_minimizer(
                s.low, s.value_low, s.slope_low, s.high, s.value_high
            )
            cubic_ok = (cubic > left + 0.2 * width) & (cubic < right - 0.2 * width)
            quad_ok = (quad > left + 0.1 * width) & (quad < right - 0.1 * width)
            t = jnp.where(
                cubic_ok, cubic, jnp.where(quad_ok, quad, (s.low + s.high) / 2.0)
            ).astype(dtype)
            f_t, g_t, d_t = evaluate(t)
            dec, curv = errors(t, f_t, d_t, f0, d0)
            done = jnp.maximum(dec, curv) <= tol
            better = (dec <= tol) & (f_t < s.value_safe)
            safe, value_safe, grad_safe = pick(
                better, (t, f_t, g_t), (s.safe, s.value_safe, s.grad_safe)
            )
            # Algorithm 3.6: t replaces high if it overshoots, else low (and
            # the old low becomes high when the slope at t points past it).
            to_high = (dec > 0.0) | (f_t >= s.value_low)
            flip = (d_t * (s.high - s.low) >= 0.0) & ~to_high
            high, value_high, slope_high = pick(
                to_high, (t, f_t, d_t), (s.high, s.value_high, s.slope_high)
            )
            high, value_high, slope_high = pick(
                flip, (s.low, s.value_low, s.slope_low), (high, value_high, slope_high)
            )
            low, value_low, slope_low = pick(
                to_high, (s.low, s.value_low, s.slope_low), (t, f_t, d_t)
            )
            ref, value_ref = pick(
                to_high | flip, (s.high, s.value_high), (s.low, s.value_low)
            )
            count = num.safe_increment(s.count)
            stuck = (count >= max_linesearch_steps) | (
                (width <= stepsize_precision) & (safe > 0.0)
            )
            return _Search(
                count, t, f_t, g_t, d_t, dec, curv, s.bracketed, done,
                stuck & ~done, low, value_low, slope_low, high, value_high,
                slope_high, ref, value_ref, safe, value_safe, grad_safe,
            )  # fmt: skip

        def fall_back(s: _Search) -> _Search:
            # Out of evaluations: the best step with sufficient decrease, or
            # the last trial (none at all if that left the domain: inf/NaN).
            use_safe = (s.safe > 0.0) | jnp.isinf(s.decrease_error)
            t, f_t, g_t = pick(
                use_safe,
                (s.safe, s.value_safe, s.grad_safe),
                (s.stepsize, s.value, s.grad),
            )
            return s._replace(stepsize=t, value=f_t, grad=g_t)

        def body(s: _Search) -> _Search:
            s = jax.lax.cond(s.bracketed, zoom, bracket, s)
            return jax.lax.cond(s.failed, fall_back, lambda x: x, s)

        guess = (
            jnp.ones([], dtype)
            if initial_guess_strategy == "one"
            else state.learning_rate
        )
        zero = jnp.zeros([], dtype)
        inf = jnp.asarray(jnp.inf, dtype)
        grad = jax.tree_util.tree_map(jnp.asarray, grad)
        start = _Search(
            jnp.zeros([], jnp.int32), zero, f0, grad, d0, inf, inf,
            jnp.asarray(False), jnp.asarray(False), jnp.asarray(False),
            zero, f0, d0, zero, f0, d0, zero, f0, zero, f0, grad,
        )  # fmt: skip
        end = jax.lax.while_loop(lambda s: ~(s.done | s.failed), body, start)
        out = jax.tree_util.tree_map(
            lambda u: (end.stepsize * u).astype(jnp.asarray(u).dtype), updates
        )
        info = ZoomLinesearchInfo(
            end.count,
            end.decrease_error.astype(jnp.float32),
            end.curvature_error.astype(jnp.float32),
        )
        new_grad = num.tree_cast_like(end.grad, state.grad)
        return out, ScaleByZoomLinesearchState(end.stepsize, end.value, new_grad, info)

    return GradientTransformationExtraArgs(init_fn, update_fn)
