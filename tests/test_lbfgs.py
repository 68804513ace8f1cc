"""L-BFGS and the zoom line search: optax parity, hand-computed steps, calling
convention.

References: optax's ``lbfgs`` on the same problems (parity); the BFGS
inverse-Hessian update written as matrices in NumPy (Nocedal & Wright, eq.
6.17), and the exact line minimum of a quadratic (the Cauchy step), neither of
which calls lrjax or optax.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

A = np.diag([1.0, 10.0, 100.0]) + 0.5
B = np.array([1.0, -1.0, 2.0])


def quadratic(x):
    return 0.5 * x @ jnp.asarray(A, jnp.float32) @ x - jnp.asarray(B, jnp.float32) @ x


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def run(opt, fn, x0, steps):
    """optax's documented loop: value and gradient reused from the state."""
    value_and_grad = lrjax.value_and_grad_from_state(fn)

    @jax.jit
    def step(x, state):
        value, grad = value_and_grad(x, state=state)
        updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=fn)
        return optax.apply_updates(x, updates), state

    x, state, path = x0, opt.init(x0), []
    for _ in range(steps):
        x, state = step(x, state)
        path.append(np.asarray(x))
    return np.stack(path), state


@pytest.mark.parametrize(
    "fn, x0, steps",
    [
        (quadratic, [1.0, 2.0, 3.0], 20),
        (rosenbrock, [-1.2, 1.0, -0.5, 0.8], 50),
    ],
    ids=["quadratic", "rosenbrock"],
)
@pytest.mark.parametrize("memory_size", [10, pytest.param(2, marks=pytest.mark.slow)])
def test_matches_optax(fn, x0, steps, memory_size):
    # Same trials, same accepted steps: measured identical to the last bit on
    # CPU; rtol 1e-5 leaves room for a different XLA fusion order.
    x0 = jnp.asarray(x0, jnp.float32)
    ours, state = run(lrjax.lbfgs(memory_size=memory_size), fn, x0, steps)
    theirs, ref = run(optax.lbfgs(memory_size=memory_size), fn, x0, steps)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state[2].learning_rate, ref[2].learning_rate, rtol=1e-5)
    assert float(fn(ours[-1])) < float(fn(x0))


def test_rosenbrock_converges():
    path, _ = run(lrjax.lbfgs(), rosenbrock, jnp.asarray([-1.2, 1.0]), 50)
    np.testing.assert_allclose(path[-1], [1.0, 1.0], atol=1e-3)


def test_first_direction_is_the_gradient_capped_to_norm_one():
    opt = lrjax.scale_by_lbfgs()
    w = jnp.zeros(2)
    u, _ = opt.update(jnp.array([3.0, 4.0]), opt.init(w), w)
    np.testing.assert_allclose(u, [0.6, 0.8], rtol=1e-6)  # g / ||g||
    u, _ = opt.update(jnp.array([0.3, 0.4]), opt.init(w), w)
    np.testing.assert_allclose(u, [0.3, 0.4], rtol=1e-6)  # ||g|| < 1: g


@pytest.mark.parametrize("scaled", [True, False])
def test_second_direction_is_the_bfgs_matrix_update(scaled):
    # One pair (s, y): H = V^T H0 V + rho s s^T, V = I - rho y s^T,
    # H0 = gamma I with gamma = <y, s> / <y, y> (or 1); direction H g.
    w0, g0 = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 2.0])
    w1, g1 = np.array([0.7, -1.5, 0.2]), np.array([0.1, 0.3, -0.7])
    s, y = w1 - w0, g1 - g0
    rho = 1.0 / (y @ s)
    gamma = (y @ s) / (y @ y) if scaled else 1.0
    v = np.eye(3) - rho * np.outer(y, s)
    h = v.T @ (gamma * np.eye(3)) @ v + rho * np.outer(s, s)
    opt = lrjax.scale_by_lbfgs(memory_size=4, scale_init_precond=scaled)
    state = opt.init(jnp.zeros(3))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    _, state = opt.update(f32(g0), state, f32(w0))
    u, _ = opt.update(f32(g1), state, f32(w1))
    np.testing.assert_allclose(u, h @ g1, rtol=1e-5)


def test_first_accepted_step_on_a_quadratic_is_the_exact_line_minimum():
    # f = x^T diag(10, 20) x / 2 from x0 = (0.1, 0.1): g = (1, 2), ||g|| > 1,
    # so the direction is d = -g / ||g||. The trial t = 1 overshoots (f
    # rises), the bracket is [0, 1], and the parabola through f(0), f'(0)
    # and f(1) is f itself: its minimiser t* = ||g||^3 / (g^T A g) = 0.124 is
    # accepted (zero slope). The step is Cauchy's: x1 = x0 - (g.g)/(g.Ag) g.
    a = np.diag([10.0, 20.0])
    fn = lambda x: 0.5 * x @ jnp.asarray(a, jnp.float32) @ x  # noqa: E731
    x0 = np.array([0.1, 0.1])
    g = a @ x0
    opt = lrjax.lbfgs()
    x = jnp.asarray(x0, jnp.float32)
    state = opt.init(x)
    value, grad = jax.value_and_grad(fn)(x)
    u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=fn)
    np.testing.assert_allclose(
        x + u, x0 - (g @ g) / (g @ a @ g) * g, rtol=1e-5, atol=1e-7
    )
    t_star = np.linalg.norm(g) ** 3 / (g @ a @ g)
    np.testing.assert_allclose(lrjax.get_learning_rate(state), t_star, rtol=1e-5)
    assert int(state[2].info.num_linesearch_steps) == 2  # t = 1, then t*
    assert float(state[2].info.decrease_error) == 0.0
    # The state keeps f and its gradient at the accepted point.
    np.testing.assert_allclose(state[2].value, fn(x + u), rtol=1e-5)
    np.testing.assert_allclose(state[2].grad, jax.grad(fn)(x + u), rtol=1e-4)


def test_value_fn_takes_extra_keywords_and_rejects_unknown_ones():
    def fn(params, x, y):
        return jnp.sum((x @ params - y) ** 2)

    x, y = jnp.array([[3.0, 2.0, 1.0]]), jnp.array([1.0])
    opt = lrjax.lbfgs()
    params = jnp.array([1.0, 2.0, 3.0])
    state = opt.init(params)
    value, grad = jax.value_and_grad(fn)(params, x, y)
    updates, _ = opt.update(
        grad, state, params, value=value, grad=grad, value_fn=fn, x=x, y=y
    )
    assert float(fn(params + updates, x, y)) < float(value)
    with pytest.raises(TypeError, match="z"):
        opt.update(
            grad, state, params, value=value, grad=grad, value_fn=fn, x=x, y=y, z=1.0
        )


def test_value_and_grad_from_state_reads_lrjax_state():
    # optax's helper, re-exported: the value stored by the line search is
    # returned without calling fn; a fresh state (inf) makes it call fn.
    opt = lrjax.lbfgs()
    x = jnp.array([1.0, 2.0, 3.0])
    state = opt.init(x)
    value, grad = lrjax.value_and_grad_from_state(quadratic)(x, state=state)
    np.testing.assert_allclose(value, quadratic(x), rtol=1e-6)
    updates, state = opt.update(
        grad, state, x, value=value, grad=grad, value_fn=quadratic
    )
    x = optax.apply_updates(x, updates)
    value, grad = lrjax.value_and_grad_from_state(quadratic)(x, state=state)
    assert value is not None and float(value) == float(state[2].value)
    np.testing.assert_allclose(value, quadratic(x), rtol=1e-5)
    np.testing.assert_allclose(grad, jax.grad(quadratic)(x), rtol=1e-4, atol=1e-5)


def test_learning_rate_multiplies_the_line_search_step():
    x = jnp.array([0.1, 0.1])
    fn = lambda p: 0.5 * jnp.sum(jnp.array([10.0, 20.0]) * p**2)  # noqa: E731
    value, grad = jax.value_and_grad(fn)(x)
    u1, s1 = lrjax.lbfgs().update(
        grad, lrjax.lbfgs().init(x), x, value=value, grad=grad, value_fn=fn
    )
    opt = lrjax.lbfgs(learning_rate=0.5)
    u2, s2 = opt.update(grad, opt.init(x), x, value=value, grad=grad, value_fn=fn)
    # The line search sees the direction already scaled by 0.5, so its step
    # doubles: the update and the reported rate are the same.
    np.testing.assert_allclose(u2, u1, rtol=1e-5)
    np.testing.assert_allclose(
        lrjax.get_learning_rate(s2), lrjax.get_learning_rate(s1), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_linesearch_steps": 0}, "max_linesearch_steps"),
        ({"max_linesearch_steps": 5, "max_learning_rate": 0.0}, "max_learning_rate"),
        ({"max_linesearch_steps": 5, "increase_factor": 1.0}, "increase_factor"),
        ({"max_linesearch_steps": 5, "slope_rtol": 1.0}, "slope_rtol"),
        ({"max_linesearch_steps": 5, "curv_rtol": 0.0}, "curv_rtol"),
        ({"max_linesearch_steps": 5, "tol": -1.0}, "tol"),
        ({"max_linesearch_steps": 5, "approx_dec_rtol": -1.0}, "approx_dec_rtol"),
        (
            {"max_linesearch_steps": 5, "initial_guess_strategy": "two"},
            "initial_guess_strategy",
        ),
    ],
)
def test_zoom_linesearch_validates_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        lrjax.scale_by_zoom_linesearch(**kwargs)


def test_lbfgs_rejects_a_non_transformation_linesearch():
    with pytest.raises(TypeError, match="linesearch"):
        lrjax.lbfgs(linesearch="zoom")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        pytest.param({"initial_guess_strategy": "one"}, marks=pytest.mark.slow),
        pytest.param({"max_learning_rate": 5e-4}, marks=pytest.mark.slow),
        {"approx_dec_rtol": None, "increase_factor": 3.0},
        pytest.param(
            {"curv_rtol": float("inf"), "slope_rtol": 0.3}, marks=pytest.mark.slow
        ),
        pytest.param(
            {"max_linesearch_steps": 3, "stepsize_precision": 1e-2},
            marks=pytest.mark.slow,
        ),
    ],
    ids=["default", "one", "max_lr", "armijo_only", "no_curvature", "few_steps"],
)
def test_zoom_linesearch_after_sgd_matches_optax(kwargs):
    # optax's documented use: a gradient step whose size the search picks.
    kwargs = {"max_linesearch_steps": 15, **kwargs}

    def make(lib):
        return optax.chain(lib.sgd(1.0), lib.scale_by_zoom_linesearch(**kwargs))

    x0 = jnp.asarray([-1.2, 1.0, -0.5, 0.8], jnp.float32)
    ours, state = run(make(lrjax), rosenbrock, x0, 20)
    theirs, ref = run(make(optax), rosenbrock, x0, 20)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        state[1].info.num_linesearch_steps, ref[1].info.num_linesearch_steps
    )
    # sgd's rate (1) times the accepted step. The cubic's coefficients are
    # computed in another order than optax's 2x2 product, and its minimiser
    # is ill-conditioned: the last zoom steps differ by up to 3e-5 relative
    # (measured), the params by less than 1e-5.
    np.testing.assert_allclose(
        lrjax.get_learning_rate(state), ref[1].learning_rate, rtol=1e-4
    )


def test_bf16_parameters_search_in_float32():
    # The step, values and slopes of the zoom search are at least float32:
    # in bf16 the sufficient-decrease test cannot tell 0.40 from 0.41.
    a = jnp.asarray([1.0, 10.0], jnp.float32)

    def loss(p):
        return 0.5 * jnp.sum(a * p["x"].astype(jnp.float32) ** 2)

    params = {"x": jnp.asarray([1.0, -1.0], jnp.bfloat16)}
    opt = lrjax.lbfgs()
    state = opt.init(params)
    search = state[-1]
    assert search.learning_rate.dtype == jnp.float32
    assert search.value.dtype == jnp.float32
    for _ in range(4):
        value, grad = jax.value_and_grad(loss)(params)
        updates, state = opt.update(
            grad, state, params, value=value, grad=grad, value_fn=loss
        )
        assert updates["x"].dtype == jnp.bfloat16
        params = optax.apply_updates(params, updates)
    assert state[-1].learning_rate.dtype == jnp.float32
    # From 5.5 to below 1e-3 in four steps (exactly 0 is allowed in bf16).
    assert float(loss(params)) < 1e-3
