"""The two networks of the comparison, in plain JAX.

A model is a pair of pure functions: ``init(key) -> params`` and
``apply(params, images) -> logits`` with images ``(n, 8, 8, 1)``. Weights use
He-normal initialisation (ReLU networks), biases start at zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Model", "cnn", "mlp", "MODELS"]


class Model(NamedTuple):
    """A network as two pure functions and a name."""

    name: str
    init: Callable[[jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]


def _he_normal(key: jax.Array, shape: tuple[int, ...], fan_in: int) -> jax.Array:
    return jax.random.normal(key, shape, jnp.float32) * jnp.sqrt(2.0 / fan_in)


def mlp(hidden: Sequence[int] = (128, 128), num_classes: int = 10) -> Model:
    """A fully connected ReLU network on the flattened 64 pixels.

    Args:
      hidden: widths of the hidden layers. Default two layers of 128.
      num_classes: outputs. Default 10.
    """
    if not hidden or any(int(h) < 1 for h in hidden):
        raise ValueError(f"hidden must be positive layer widths, got {hidden!r}.")
    widths = [64, *map(int, hidden), num_classes]

    def init(key: jax.Array) -> Any:
        keys = jax.random.split(key, len(widths) - 1)
        return [
            {"w": _he_normal(k, (n_in, n_out), n_in), "b": jnp.zeros(n_out)}
            for k, n_in, n_out in zip(keys, widths[:-1], widths[1:], strict=True)
        ]

    def apply(params: Any, images: jax.Array) -> jax.Array:
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

    def apply(params: Any, images: jax.Array) -> jax.Array:
        h = conv(images, params["conv1"])
        h = conv(h, params["conv2"])
        n, height, width, c = h.shape
        h = h.reshape(n, height // 2, 2, width // 2, 2, c).max(axis=(2, 4))
        h = h.reshape(n, -1)
        return h @ params["out"]["w"] + params["out"]["b"]

    return Model("cnn", init, apply)


MODELS: dict[str, Callable[[], Model]] = {"mlp": mlp, "cnn": cnn}
