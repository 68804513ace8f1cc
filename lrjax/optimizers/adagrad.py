"""AdaGrad (Duchi et al., 2011): per-parameter rates from summed squared gradients.

Accepts complex parameters (squares are ``|g|**2``; the sum is real, kept in
the parameter's dtype as optax keeps it) and float16/bfloat16 ones
(arithmetic in at least float32, state stored in the declared dtype).
"""

from __future__ import annotations

from jax.typing import DTypeLike

from lrjax import _validation as val
from lrjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    chain,
    elementwise_constructor,
)
from lrjax.transforms.adagrad import scale_by_rss
from lrjax.transforms.scaling import scale_by_learning_rate

__all__ = ["adagrad"]


@elementwise_constructor()
def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """AdaGrad (Duchi et al., 2011).

    With ``G_0 = initial_accumulator_value``::

        G <- G + g**2                              (squared *gradients*)
        w <- w - lr * g / sqrt(G + eps)            (eps_in_sqrt=True, default)
        w <- w - lr * g / (sqrt(G) + eps)          (eps_in_sqrt=False)

    Defaults (optax's): ``initial_accumulator_value=0.1``, ``eps=1e-7`` inside
    the root. ``G`` only grows, so the effective rate decays like ``1/sqrt(t)``.

    PyTorch: ``torch.optim.Adagrad(lr, initial_accumulator_value=v, eps=e)`` is
    ``lrjax.adagrad(lr, initial_accumulator_value=v, eps=e, eps_in_sqrt=False)``
    (PyTorch's defaults are ``v=0``, ``e=1e-10`` outside the root). Its
    ``lr_decay=d`` is the schedule ``lambda t: lr / (1 + t * d)``; its
    ``weight_decay`` adds ``wd * w`` to ``g`` (L2), i.e.
    ``optax.chain(lrjax.add_decayed_weights(wd), lrjax.adagrad(...))``.

    Keras: ``keras.optimizers.Adagrad(learning_rate, initial_accumulator_value,
    epsilon)`` is ``lrjax.adagrad(learning_rate, initial_accumulator_value,
    epsilon)`` (eps inside the root; same 0.1 / 1e-7 defaults).

    Args:
      learning_rate: a number ``>= 0`` or a schedule. Required.
      initial_accumulator_value: ``G_0``, ``>= 0``. Default 0.1.
      eps: ``>= 0``. Default 1e-7.
      eps_in_sqrt: where ``eps`` goes. lrjax addition. Default True.
      nu_dtype: dtype of ``G`` (default: the param's). lrjax addition.

    Returns:
      ``chain(scale_by_rss(...), scale_by_learning_rate(learning_rate))``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import lrjax
        >>> tx = lrjax.adagrad(learning_rate=0.1, initial_accumulator_value=0.0)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> state = tx.init(params)

        >>> grads = {"w": jnp.array([0.5, -0.5])}
        >>> updates, state = tx.update(grads, state, params)
        >>> [round(float(u), 4) for u in updates["w"]]  # -lr * g / sqrt(g**2)
        [-0.1, 0.1]
        >>> updates, state = tx.update(grads, state, params)
        >>> [round(float(u), 4) for u in updates["w"]]  # -lr * g / sqrt(2 g**2)
        [-0.0707, 0.0707]
        >>> print(lrjax.get_learning_rate(state))
        0.1
    """
    val.check_learning_rate("learning_rate", learning_rate)
    return chain(
        scale_by_rss(
            initial_accumulator_value,
            eps,
            eps_in_sqrt=eps_in_sqrt,
            nu_dtype=nu_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )
