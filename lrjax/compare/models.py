"""The networks of the comparison, in plain JAX.

A model is a pair of pure functions: ``init(key) -> params`` and
``apply(params, inputs) -> logits``. For MNIST-1D (signals ``(n, 40)``) the
paper's MLP 40-100-100-10 and a small 1-D CNN; for the digits (images
``(n, 8, 8, 1)``) an MLP 64-128-128-10 and a small 2-D CNN
(:func:`build_model` picks by task). Weights use He-normal initialisation
(ReLU networks), biases start at zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["MODELS", "Model", "build_model", "cnn", "cnn1d", "mlp"]


class Model(NamedTuple):
    """A network as two pure functions and a name."""

    name: str
    init: Callable[[jax.Array], Any]
    apply: Callable[[Any, ArrayLike], jax.Array]


def _he_normal(key: jax.Array, shape: tuple[int, ...], fan_in: int) -> jax.Array:
    return jax.random.normal(key, shape, jnp.float32) * jnp.sqrt(2.0 / fan_in)


def mlp(
    hidden: Sequence[int] = (128, 128), num_classes: int = 10, inputs: int = 64
) -> Model:
    """A fully connected ReLU network on the flattened inputs.

    Args:
      hidden: widths of the hidden layers. Default two layers of 128.
      num_classes: outputs. Default 10.
      inputs: input features after flattening. Default 64 (8x8 digits);
        MNIST-1D has 40.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax.compare
        >>> model = lrjax.compare.mlp(hidden=(8,), num_classes=3, inputs=4)
        >>> model.name
        'mlp(8,)'
        >>> params = model.init(jax.random.PRNGKey(0))
        >>> [layer["w"].shape for layer in params]
        [(4, 8), (8, 3)]
        >>> model.apply(params, jnp.ones((5, 2, 2))).shape  # 2x2 inputs: 4 features
        (5, 3)
    """
    if not hidden or any(int(h) < 1 for h in hidden):
        raise ValueError(f"hidden must be positive layer widths, got {hidden!r}.")
    widths = [int(inputs), *map(int, hidden), num_classes]

    def init(key: jax.Array) -> Any:
        keys = jax.random.split(key, len(widths) - 1)
        return [
            {"w": _he_normal(k, (n_in, n_out), n_in), "b": jnp.zeros(n_out)}
            for k, n_in, n_out in zip(keys, widths[:-1], widths[1:], strict=True)
        ]

    def apply(params: Any, images: ArrayLike) -> jax.Array:
        images = jnp.asarray(images)
        h = images.reshape(images.shape[0], -1)
        for layer in params[:-1]:
            h = jax.nn.relu(h @ layer["w"] + layer["b"])
        return h @ params[-1]["w"] + params[-1]["b"]

    return Model(f"mlp{tuple(widths[1:-1])}", init, apply)


def cnn(channels: tuple[int, int] = (16, 32), num_classes: int = 10) -> Model:
    """Two 3x3 convolutions (ReLU, 2x2 max-pooling after the second), then a
    linear classifier: the articles' small CNN, sized for 8x8 images.

    Args:
      channels: output channels of the two convolutions. Default (16, 32).
      num_classes: outputs. Default 10.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax.compare
        >>> model = lrjax.compare.cnn()
        >>> params = jax.eval_shape(model.init, jax.random.PRNGKey(0))  # shapes only
        >>> params["out"]["w"].shape  # 4 x 4 pooled positions x 32 channels
        (512, 10)
        >>> jax.eval_shape(model.apply, params, jnp.zeros((2, 8, 8, 1))).shape
        (2, 10)
    """
    c1, c2 = (int(c) for c in channels)
    if c1 < 1 or c2 < 1:
        raise ValueError(f"channels must be positive, got {channels!r}.")
    flat = 4 * 4 * c2

    def init(key: jax.Array) -> Any:
        k1, k2, k3 = jax.random.split(key, 3)
        return {
            "conv1": {"w": _he_normal(k1, (3, 3, 1, c1), 9), "b": jnp.zeros(c1)},
            "conv2": {"w": _he_normal(k2, (3, 3, c1, c2), 9 * c1), "b": jnp.zeros(c2)},
            "out": {
                "w": _he_normal(k3, (flat, num_classes), flat),
                "b": jnp.zeros(num_classes),
            },
        }

    def conv(x: jax.Array, layer: Any) -> jax.Array:
        # As patches times a matrix: under vmap over seeds (a batch of
        # kernels) this stays a batched matmul, where a convolution with
        # batched kernels becomes a grouped convolution, ~20x slower on CPU.
        patches = jax.lax.conv_general_dilated_patches(
            x, (3, 3), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        w = layer["w"]
        # The patches' feature axis is ordered (channel, row, column).
        kernel = w.transpose(2, 0, 1, 3).reshape(-1, w.shape[-1])
        return jax.nn.relu(patches @ kernel + layer["b"])

    def apply(params: Any, images: ArrayLike) -> jax.Array:
        h = conv(jnp.asarray(images), params["conv1"])
        h = conv(h, params["conv2"])
        n, height, width, c = h.shape
        h = h.reshape(n, height // 2, 2, width // 2, 2, c).max(axis=(2, 4))
        h = h.reshape(n, -1)
        return h @ params["out"]["w"] + params["out"]["b"]

    return Model("cnn", init, apply)


def cnn1d(channels: int = 25, num_classes: int = 10, length: int = 40) -> Model:
    """The MNIST-1D paper's small CNN: three 1-D convolutions of ``channels``
    (kernel 5 then 3 and 3, stride 2, padding 1, ReLU), then a linear
    classifier on the flattened ``(5, channels)`` features for length 40.

    Args:
      channels: channels of each convolution. Default 25.
      num_classes: outputs. Default 10.
      length: input signal length. Default 40.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax.compare
        >>> model = lrjax.compare.cnn1d()
        >>> params = jax.eval_shape(model.init, jax.random.PRNGKey(0))  # shapes only
        >>> params["out"]["w"].shape  # lengths 40 -> 19 -> 10 -> 5, x 25 channels
        (125, 10)
        >>> jax.eval_shape(model.apply, params, jnp.zeros((2, 40))).shape
        (2, 10)
    """
    c = int(channels)
    if c < 1:
        raise ValueError(f"channels must be positive, got {channels!r}.")
    kernels = (5, 3, 3)
    out = int(length)
    for k in kernels:
        out = (out + 2 - k) // 2 + 1
    flat = out * c

    def init(key: jax.Array) -> Any:
        keys = jax.random.split(key, 4)
        params = {}
        for i, (k, c_in) in enumerate(zip(kernels, (1, c, c), strict=True)):
            params[f"conv{i + 1}"] = {
                "w": _he_normal(keys[i], (k, c_in, c), k * c_in),
                "b": jnp.zeros(c),
            }
        params["out"] = {
            "w": _he_normal(keys[3], (flat, num_classes), flat),
            "b": jnp.zeros(num_classes),
        }
        return params

    def conv(x: jax.Array, layer: Any) -> jax.Array:
        # Patches times a matrix, as in cnn(): a batched matmul under vmap.
        w = layer["w"]
        patches = jax.lax.conv_general_dilated_patches(
            x, (w.shape[0],), (2,), [(1, 1)], dimension_numbers=("NWC", "WIO", "NWC")
        )
        # The patches' feature axis is ordered (channel, position).
        kernel = w.transpose(1, 0, 2).reshape(-1, w.shape[-1])
        return jax.nn.relu(patches @ kernel + layer["b"])

    def apply(params: Any, signals: ArrayLike) -> jax.Array:
        signals = jnp.asarray(signals)
        h = signals.reshape(signals.shape[0], -1, 1)
        for i in range(len(kernels)):
            h = conv(h, params[f"conv{i + 1}"])
        h = h.reshape(h.shape[0], -1)
        return h @ params["out"]["w"] + params["out"]["b"]

    return Model("cnn1d", init, apply)


# Model name -> constructor, per task.
MODELS: dict[str, dict[str, Callable[[], Model]]] = {
    "mnist1d": {"mlp": lambda: mlp((100, 100), inputs=40), "cnn": cnn1d},
    "digits": {"mlp": mlp, "cnn": cnn},
}


def build_model(task: str, name: str) -> Model:
    """The network ``name`` (``"mlp"`` or ``"cnn"``) sized for ``task``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import lrjax.compare
        >>> model = lrjax.compare.build_model("mnist1d", "mlp")
        >>> model.name  # the MNIST-1D paper's 40-100-100-10
        'mlp(100, 100)'
        >>> params = model.init(jax.random.PRNGKey(0))
        >>> model.apply(params, jnp.zeros((2, 40)))[0, :3]  # zero inputs and biases
        Array([0., 0., 0.], dtype=float32)
    """
    try:
        return MODELS[task][name]()
    except KeyError:
        raise ValueError(
            f"unknown task/model {task!r}/{name!r}; tasks and models: "
            f"{ {t: sorted(m) for t, m in MODELS.items()} }."
        ) from None
