"""Independent references for the Adam family, written once for every test.

Each class transcribes a published update rule in float64 (complex128 for
complex parameters) NumPy and calls neither lrjax nor optax. A reference is
stateful: ``ref(g, w)`` consumes the gradient of step ``t = 1, 2, ...`` and
returns that step's update (the change of the parameters, learning rate and
sign included). Complex gradients follow optax's convention: second moments
average ``|g|**2``, first moments stay complex.

Sources:
  * Adam, AdamW: Kingma & Ba (2015), Algorithm 1; Loshchilov & Hutter (2019)
    for the decoupled decay ``- lr * wd * w``; optax's ``eps_root`` inside
    the root; NAdam's look-ahead in optax's constant-``b1`` form (Dozat, 2016).
  * AMSGrad: Reddi, Kale & Kumar (2018). optax keeps the running maximum of
    the debiased ``v``; PyTorch (``torch.optim.Adam(amsgrad=True)``) keeps
    the maximum of the raw ``v`` and debiases it afterwards.
  * Adamax: Kingma & Ba (2015), section 7.1, with optax's/PyTorch's ``eps``
    inside the maximum.
  * RAdam: Liu et al. (2020), Algorithm 2. PyTorch's documented variant
    (``torch.optim.RAdam``) adds ``eps`` to ``sqrt(v)`` before debiasing and
    rectifies when ``rho_t > 5``; the paper and optax when
    ``rho_t >= threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np


def _as_float(x: Any) -> np.ndarray:
    x = np.asarray(x)
    return x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)


class _Moments:
    """First and second moments shared by the references below."""

    def __init__(self, b1: float, b2: float):
        self.b1, self.b2 = b1, b2
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def _advance(self, g: np.ndarray) -> None:
        if self.m is None:
            self.m = np.zeros_like(g)
            self.v = np.zeros(g.shape)
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * np.abs(g) ** 2

    def _m_hat(self, g: np.ndarray, nesterov: bool) -> np.ndarray:
        b1, t = self.b1, self.t
        if nesterov:
            return b1 * self.m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        return self.m / (1 - b1**t)


class Adam(_Moments):
    """Adam / AdamW / NAdam(W): ``-lr * (m_hat / (sqrt(v_hat + eps_root) + eps) + wd * w)``."""

    def __init__(
        self,
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        eps_root: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(b1, b2)
        self.lr, self.eps, self.eps_root = lr, eps, eps_root
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def direction(self, g: Any) -> np.ndarray:
        """Advances one step; returns ``m_hat / (sqrt(v_hat + eps_root) + eps)``."""
        g = _as_float(g)
        self._advance(g)
        v_hat = self.v / (1 - self.b2**self.t)
        return self._m_hat(g, self.nesterov) / (
            np.sqrt(v_hat + self.eps_root) + self.eps
        )

    def __call__(self, g: Any, w: Any = 0.0) -> np.ndarray:
        return -self.lr * (self.direction(g) + self.weight_decay * _as_float(w))


class AMSGrad(_Moments):
    """AMSGrad: ``-lr * m_hat / (sqrt(v_max + eps_root) + eps)``.

    ``debias_mu`` / ``debias_nu`` off give the paper's Algorithm 2; both on is
    optax's default. ``pytorch=True`` is PyTorch's form:
    ``v_max = max(v_max, v)``, then ``sqrt(v_max / (1 - b2**t)) + eps``.
    """

    def __init__(
        self,
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        eps_root: float = 0.0,
        debias_mu: bool = True,
        debias_nu: bool = True,
        pytorch: bool = False,
    ):
        super().__init__(b1, b2)
        self.lr, self.eps, self.eps_root = lr, eps, eps_root
        self.debias_mu, self.debias_nu, self.pytorch = debias_mu, debias_nu, pytorch
        self.v_max: np.ndarray | None = None

    def __call__(self, g: Any, w: Any = 0.0) -> np.ndarray:
        del w
        g = _as_float(g)
        self._advance(g)
        t, b2 = self.t, self.b2
        m_hat = self.m / (1 - self.b1**t) if self.debias_mu else self.m
        if self.v_max is None:
            self.v_max = np.zeros(g.shape)
        if self.pytorch:
            self.v_max = np.maximum(self.v_max, self.v)
            denom = np.sqrt(self.v_max / (1 - b2**t)) + self.eps
        else:
            v = self.v / (1 - b2**t) if self.debias_nu else self.v
            self.v_max = np.maximum(self.v_max, v)
            denom = np.sqrt(self.v_max + self.eps_root) + self.eps
        return -self.lr * m_hat / denom


class Adamax(_Moments):
    """Adamax: ``u = max(b2 * u, |g| + eps)``; ``-lr * (m / ((1 - b1**t) u) + wd * w)``."""

    def __init__(
        self,
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(b1, b2)
        self.lr, self.eps, self.weight_decay = lr, eps, weight_decay
        self.u: np.ndarray | None = None

    def __call__(self, g: Any, w: Any = 0.0) -> np.ndarray:
        g = _as_float(g)
        self._advance(g)
        if self.u is None:
            self.u = np.zeros(g.shape)
        self.u = np.maximum(self.b2 * self.u, np.abs(g) + self.eps)
        step = self.m / ((1 - self.b1**self.t) * self.u)
        return -self.lr * (step + self.weight_decay * _as_float(w))


class RAdam(_Moments):
    """RAdam: the rectified Adam step once ``rho_t`` passes the threshold, else ``-lr * m_hat``.

    ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)``, ``rho_inf = 2 / (1 - b2) - 1``,
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.
    The paper's step: ``-lr * r_t * m_hat / (sqrt(v_hat + eps_root) + eps)``
    when ``rho_t >= threshold``. ``pytorch=True``: ``-lr * m_hat * r_t * l_t``
    with ``l_t = sqrt(1 - b2**t) / (sqrt(v) + eps)`` when ``rho_t > threshold``.
    The ``rho_t`` of every step is kept in ``rhos``.
    """

    def __init__(
        self,
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        threshold: float = 5.0,
        eps_root: float = 0.0,
        nesterov: bool = False,
        pytorch: bool = False,
    ):
        super().__init__(b1, b2)
        self.lr, self.eps, self.eps_root = lr, eps, eps_root
        self.threshold, self.nesterov, self.pytorch = threshold, nesterov, pytorch
        self.rho_inf = 2 / (1 - b2) - 1
        self.rhos: list[float] = []

    def __call__(self, g: Any, w: Any = 0.0) -> np.ndarray:
        del w
        g = _as_float(g)
        self._advance(g)
        t, b2, rho_inf = self.t, self.b2, self.rho_inf
        m_hat = self._m_hat(g, self.nesterov)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        self.rhos.append(rho)
        rectify = rho > self.threshold if self.pytorch else rho >= self.threshold
        if not rectify:
            return -self.lr * m_hat
        r = np.sqrt(
            (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
        )
        if self.pytorch:
            l_t = np.sqrt(1 - b2**t) / (np.sqrt(self.v) + self.eps)
            return -self.lr * m_hat * r * l_t
        v_hat = self.v / (1 - b2**t)
        return -self.lr * r * m_hat / (np.sqrt(v_hat + self.eps_root) + self.eps)


class PerLeaf:
    """One reference per key of a dict of parameters (the rules are per leaf)."""

    def __init__(self, make: Callable[[], Any], keys: Iterable[str]):
        self.refs = {k: make() for k in keys}

    def __call__(self, g: Mapping[str, Any], w: Mapping[str, Any]) -> dict:
        return {k: ref(g[k], w[k]) for k, ref in self.refs.items()}

    def __getitem__(self, key: str) -> Any:
        return self.refs[key]


def run(reference: Any, grads: Iterable[Any], w0: Any) -> tuple[Any, list[Any]]:
    """Feeds ``grads`` in turn (no feedback); returns final params and updates."""
    w, updates = _as_float(w0), []
    for g in grads:
        u = reference(g, w)
        updates.append(u)
        w = w + u
    return w, updates


def train(
    reference: Any, grad_fn: Callable[[Any], Any], w0: Any, steps: int
) -> tuple[Any, list[Any]]:
    """``steps`` updates with ``g = grad_fn(w)``; final params and updates.

    ``w0`` may be an array or a dict of arrays (with a :class:`PerLeaf`).
    """

    def cast(w):
        return (
            {k: _as_float(v) for k, v in w.items()}
            if isinstance(w, Mapping)
            else _as_float(w)
        )

    w, updates = cast(w0), []
    for _ in range(steps):
        u = reference(grad_fn(w), w)
        updates.append(u)
        w = {k: w[k] + u[k] for k in w} if isinstance(w, Mapping) else w + u
    return w, updates


class TorchPlateau:
    """PyTorch ``ReduceLROnPlateau`` as documented: one ``step(metric)`` a decision.

    Per step, an improvement (``rel``: beyond ``best * (1 -+ threshold)``,
    ``abs``: beyond ``best -+ threshold``) resets the bad-epoch count, else it
    grows; during a cooldown it is held at 0; when it *exceeds* ``patience``
    the rate becomes ``max(lr * factor, min_lr)`` (skipped when the change is
    at most ``eps``) and a cooldown starts.
    """

    def __init__(
        self,
        mode,
        factor,
        patience,
        threshold,
        threshold_mode,
        cooldown,
        lr=1.0,
        min_lr=0.0,
        eps=1e-8,
    ):
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = (
            threshold,
            threshold_mode,
            cooldown,
        )
        self.best = math.inf if mode == "min" else -math.inf
        self.bad = 0
        self.cooldown_counter = 0
        self.lr, self.min_lr, self.eps = lr, min_lr, eps

    def _better(self, a):
        t = self.threshold
        if self.mode == "min":
            return a < (
                self.best * (1 - t) if self.threshold_mode == "rel" else self.best - t
            )
        return a > (
            self.best * (1 + t) if self.threshold_mode == "rel" else self.best + t
        )

    def step(self, a):
        if self._better(a):
            self.best, self.bad = a, 0
        else:
            self.bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad = 0
        if self.bad > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.bad = 0
        return self.lr
