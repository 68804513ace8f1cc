"""A random learning rate that is still a pure function of the step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax._base import Schedule
from lrjax._validation import check_non_negative, check_positive, check_type
from lrjax.schedules._common import as_value, check_not_above, int_step, step_arg

__all__ = ["random_schedule"]


def random_schedule(
    key: jax.Array,
    min_value: ArrayLike,
    max_value: ArrayLike,
    hold_steps: int = 1,
    log_uniform: bool = True,
) -> Schedule:
    r"""A fresh random rate every ``hold_steps`` steps, reproducibly.

    Window ``w = \lfloor t / h \rfloor`` draws ``u ~ U[0, 1)`` from
    ``jax.random.fold_in(key, w)``; the rate is

    .. math::
        \eta_t = \begin{cases}
          \exp(\log a + u (\log b - \log a)) & \text{log-uniform} \\
          a + u (b - a) & \text{uniform}
        \end{cases}

    with ``a = min_value``, ``b = max_value``. The same key and step always
    give the same rate, so the schedule works under ``jit``/``vmap``, inside
    optimizer states and after checkpoint restore. This is the articles'
    "random learning rate" done right: their ``0.1 * randn()`` can be
    negative, here the law is bounded. The log-uniform law spreads draws
    evenly over decades (the usual prior for learning rates, Bergstra &
    Bengio 2012). PyTorch/Keras/optax: no built-in equivalent.

    Args:
      key: a JAX PRNG key (typed or raw ``uint32[2]``).
      min_value: ``a``, ``>= 0`` (``> 0`` when ``log_uniform``).
      max_value: ``b``, ``>= min_value``.
      hold_steps: ``h``, how many steps each draw is held, an integer in
        ``[1, 2**31 - 1]`` (steps are int32).
      log_uniform: draw ``log(rate)`` uniformly instead of the rate.

    Returns:
      A schedule ``step -> float32 rate`` in ``[min_value, max_value]``.

    Examples:
        >>> import jax
        >>> import lrjax
        >>> schedule = lrjax.random_schedule(jax.random.key(0), 1e-4, 0.1, hold_steps=10)
        >>> bool(schedule(3) == schedule(9)), bool(schedule(9) == schedule(10))
        (True, False)
        >>> bool(1e-4 <= schedule(3) <= 0.1)  # log-uniform in [1e-4, 0.1]
        True
    """
    check_type("log_uniform", log_uniform, bool)
    if log_uniform:
        check_positive("min_value", min_value)
    else:
        check_non_negative("min_value", min_value)
    check_non_negative("max_value", max_value)
    check_not_above("min_value", min_value, "max_value", max_value)
    hold_steps = step_arg("hold_steps", hold_steps, minimum=1)
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise TypeError(
            f"key must be a JAX PRNG key (jax.random.key or PRNGKey), got {key!r}."
        )
    key = jnp.asarray(key) if isinstance(key, np.ndarray) else key

    def draw(window: jax.Array) -> jax.Array:
        return jax.random.uniform(jax.random.fold_in(key, window), (), jnp.float32)

    def schedule(step: ArrayLike) -> jax.Array:
        window = int_step(step) // hold_steps
        u = jax.vmap(draw)(window.reshape(-1)).reshape(window.shape)
        low = jnp.asarray(min_value, jnp.float32)
        high = jnp.asarray(max_value, jnp.float32)
        if log_uniform:
            log_low = jnp.log(low)
            rate = jnp.exp(log_low + u * (jnp.log(high) - log_low))
        else:
            rate = low + u * (high - low)
        # exp/log rounding may step a hair outside the documented bounds.
        return as_value(jnp.clip(rate, low, high))

    return schedule
