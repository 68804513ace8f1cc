"""SM3 against the paper's SM3-II, written out in NumPy with explicit cover sets.

Anil et al. 2019, Algorithm SM3-II: for each coordinate i,
nu'_t(i) = min_{r: S_r contains i} mu'_{t-1}(r) + g_t(i)^2, the step is
g_t(i) / sqrt(nu'_t(i)) (0/0 = 0), and mu'_t(r) = max_{i in S_r} nu'_t(i).
The covers are the rows and columns of a matrix, the single elements of a
vector. optax's (and lrjax's) momentum m <- b1 m + (1 - b1) u is applied on
top. The reference loops over cover sets; it calls neither lrjax nor optax.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

R = np.random.RandomState(7)
GRADS = [{"mat": R.randn(3, 4), "vec": R.randn(5)} for _ in range(3)]
GRADS[1]["mat"][0, 0] = 0.0  # a coordinate whose cover minimum is still > 0
W0 = {"mat": R.randn(3, 4), "vec": R.randn(5)}


def covers(shape):
    """Cover sets: every slice along every axis, as lists of index tuples."""
    sets = []
    for axis, size in enumerate(shape):
        for k in range(size):
            sets.append(
                [i for i in itertools.product(*map(range, shape)) if i[axis] == k]
            )
    return sets


def sm3_reference(lr, b1, eps):
    w = {k: v.copy() for k, v in W0.items()}
    m = {k: np.zeros_like(v) for k, v in W0.items()}
    acc = {k: [0.0] * len(covers(v.shape)) for k, v in W0.items()}
    for g in GRADS:
        for k in w:
            sets = covers(w[k].shape)
            nu = np.zeros_like(w[k])
            for i in itertools.product(*map(range, w[k].shape)):
                nu[i] = min(acc[k][r] for r, s in enumerate(sets) if i in s)
                nu[i] += g[k][i] ** 2
            acc[k] = [max(nu[i] for i in s) for s in sets]
            u = np.where(nu == 0, 0.0, g[k] / np.sqrt(nu + eps))
            m[k] = b1 * m[k] + (1 - b1) * u
            w[k] = w[k] - lr * m[k]
    return w, acc


@pytest.mark.parametrize("momentum", [0.9, None])
def test_sm3_three_steps(momentum):
    opt = lrjax.sm3(0.1, momentum=momentum)
    w = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), W0)
    state = opt.init(w)
    for g in GRADS:
        g = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), g)
        u, state = opt.update(g, state, w)
        w = optax.apply_updates(w, u)
    want, acc = sm3_reference(0.1, 0.0 if momentum is None else momentum, 1e-8)
    for k in W0:
        np.testing.assert_allclose(w[k], want[k], rtol=1e-5, atol=1e-6)
        got_acc = np.concatenate([np.ravel(a) for a in state[0].mu[k]])
        np.testing.assert_allclose(got_acc, acc[k], rtol=1e-5)
    # The state holds sum(shape) numbers per matrix, not prod(shape).
    assert [a.shape for a in state[0].mu["mat"]] == [(3,), (4,)]


def test_sm3_zero_gradient_gives_zero_step():
    # 0/0 = 0: a coordinate never seen stays put.
    opt = lrjax.scale_by_sm3(b1=0.0, eps=0.0)
    u, _ = opt.update(jnp.array([0.0, 2.0]), opt.init(jnp.zeros(2)))
    np.testing.assert_allclose(u, [0.0, 1.0])


def test_sm3_zero_d_parameter_is_adagrad():
    # lrjax addition (optax fails on 0-d leaves): one accumulator, Adagrad.
    opt = lrjax.scale_by_sm3(b1=0.0, eps=0.0)
    state = opt.init(jnp.asarray(1.0))
    u1, state = opt.update(jnp.asarray(3.0), state)
    u2, _ = opt.update(jnp.asarray(4.0), state)
    np.testing.assert_allclose([u1, u2], [1.0, 4.0 / 5.0], rtol=1e-6)


def test_sm3_b2_below_one_averages():
    # (c1, c2) = (1 - b2, b2): nu = 0.5 * 4 + 0.5 * 0 = 2 for a vector.
    opt = lrjax.scale_by_sm3(b1=0.0, b2=0.5, eps=0.0)
    u, _ = opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))
    np.testing.assert_allclose(u, [2.0 / np.sqrt(2.0)], rtol=1e-6)


def test_sm3_rejects_complex_params():
    with pytest.raises(
        TypeError, match=r"\[.w.\] is complex \(complex64\).*real parameters"
    ):
        lrjax.sm3(0.1).init({"w": jnp.ones(2, jnp.complex64)})
