"""L-BFGS with a zoom line search, as a chain of blocks."""

from __future__ import annotations

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    checks_state,
)
from lrjax.transforms.lbfgs import scale_by_lbfgs
from lrjax.transforms.linesearch import scale_by_zoom_linesearch
from lrjax.transforms.scaling import identity, scale_by_learning_rate

__all__ = ["lbfgs"]

# optax's default line search (a module-level object, as in optax: stateless,
# so sharing it between optimizers is safe).
_ZOOM = scale_by_zoom_linesearch(max_linesearch_steps=20, initial_guess_strategy="one")


@checks_state
def lbfgs(
    learning_rate: ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: GradientTransformationExtraArgs | GradientTransformation | None = _ZOOM,
) -> GradientTransformationExtraArgs:
    """L-BFGS (Liu & Nocedal, 1989) with a zoom line search (Nocedal & Wright).

    ``w <- w - eta_k * P_k g_k``, where ``P_k g_k`` is the two-loop
    recursion over the last ``memory_size`` parameter and gradient
    differences (:func:`lrjax.scale_by_lbfgs`) and ``eta_k`` the step the
    line search accepts (strong Wolfe conditions, first trial 1:
    :func:`lrjax.scale_by_zoom_linesearch`), times ``learning_rate`` if given.

    The line search evaluates the objective, so ``update`` takes it, with its
    value and gradient at ``params``, as optax's does::

        opt = lrjax.lbfgs()
        state = opt.init(params)
        value_and_grad = lrjax.value_and_grad_from_state(f)

        @jax.jit
        def step(params, state):
            value, grad = value_and_grad(params, state=state)
            updates, state = opt.update(
                grad, state, params, value=value, grad=grad, value_fn=f
            )
            return optax.apply_updates(params, updates), state

    ``value_and_grad_from_state`` reuses the value and gradient the line
    search computed at the accepted step (deterministic objectives). Keywords
    after ``value_fn`` are passed to ``f`` (data, say). With
    ``linesearch=None`` the direction is scaled by ``learning_rate`` only and
    ``update`` needs no objective. :func:`lrjax.get_learning_rate` reports
    ``learning_rate`` (1 when None) times the accepted step.

    PyTorch: ``torch.optim.LBFGS(params, lr=1, history_size=memory_size,
    line_search_fn="strong_wolfe")`` runs several iterations per ``step``
    with a closure and starts with ``lr * min(1, 1 / ||g||_1)``; lrjax (like
    optax) makes one iteration per ``update`` and starts with
    ``min(1, 1 / ||g||_2)``. Keras has no L-BFGS.

    Args:
      learning_rate: a number ``>= 0``, a schedule, or None (rate 1). Default
        None: the line search sets the step.
      memory_size: pairs kept, ``>= 1``. Default 10.
      scale_init_precond: scale the initial inverse Hessian by
        ``<y, s> / <y, y>``. Default True.
      linesearch: a transformation choosing the step, or None. Default
        ``scale_by_zoom_linesearch(max_linesearch_steps=20,
        initial_guess_strategy="one")``.

    Returns:
      ``chain(scale_by_lbfgs(memory_size, scale_init_precond),
      scale_by_learning_rate(learning_rate), linesearch)``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import lrjax
        >>> def f(params):  # minimum at w = [1, 2]
        ...     return jnp.sum((params["w"] - jnp.array([1.0, 2.0])) ** 2)
        >>> tx = lrjax.lbfgs()
        >>> params = {"w": jnp.zeros(2)}
        >>> state = tx.init(params)
        >>> value_and_grad = lrjax.value_and_grad_from_state(f)
        >>> for _ in range(2):
        ...     value, grad = value_and_grad(params, state=state)
        ...     updates, state = tx.update(
        ...         grad, state, params, value=value, grad=grad, value_fn=f
        ...     )
        ...     params = optax.apply_updates(params, updates)
        >>> params["w"]  # step 1 has norm 1 (||g|| > 1), step 2 is Newton's
        Array([1., 2.], dtype=float32)
        >>> print(lrjax.get_learning_rate(state))  # the step accepted last
        1.0
    """
    val.check_learning_rate("learning_rate", learning_rate, allow_none=True)
    if linesearch is not None and not isinstance(linesearch, GradientTransformation):
        raise TypeError(
            "linesearch must be a GradientTransformation (e.g. "
            f"lrjax.scale_by_zoom_linesearch(...)) or None, got {linesearch!r}."
        )
    return chain(
        scale_by_lbfgs(memory_size=memory_size, scale_init_precond=scale_init_precond),
        scale_by_learning_rate(learning_rate),
        identity() if linesearch is None else linesearch,
    )
