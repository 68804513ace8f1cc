"""Shared test setup: 8 simulated CPU devices (set before JAX starts)."""

import os
import tempfile

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

# Tests compare float32 numerics with optax; keep JAX's default precision.
jax.config.update("jax_enable_x64", False)

# JAX's persistent compilation cache, shared by the xdist workers, the default
# and the slow runs, and later runs: the suite is compile-bound and compiles
# the same optimizer steps in many tests (measured on the 2-core machine: 96
# counter tests 123 s without it, 32 s with a warm cache; 430 mixed property
# tests 326 s without it, 202 s from an empty one). The key covers the
# program, the XLA flags and the jax/jaxlib versions, so a hit is the same
# executable (an entry two workers write at once reads back damaged at worst:
# JAX warns and compiles). The whole suite leaves about 100 MB in the temporary
# directory; LRJAX_TEST_COMPILATION_CACHE=0 turns the cache off, =DIR moves
# it; a JAX_COMPILATION_CACHE_DIR set by the user wins.
_CACHE = os.environ.get(
    "LRJAX_TEST_COMPILATION_CACHE",
    os.path.join(
        tempfile.gettempdir(),
        f"lrjax-tests-xla-cache-{getattr(os, 'getuid', lambda: 'user')()}",
    ),
)
if _CACHE != "0" and not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

from hypothesis import settings  # noqa: E402

# The same examples on every run: CI must not pass or fail by chance.
settings.register_profile("lrjax", derandomize=True, deadline=None)
settings.load_profile("lrjax")


import gc  # noqa: E402

import pytest  # noqa: E402

# Deep checks the default run leaves to ``-m slow`` (CI runs both): whole
# training runs, subprocesses, hypothesis properties and second examples of
# a feature the default run already checks. Parametrized subsets are marked
# in their own files.
DEEP_CHECKS = {
    "compare/test_command.py::test_same_command_twice_gives_the_same_results",
    "compare/test_training.py::test_loss_driven_rates_change_only_at_epoch_boundaries",
    "compare/test_training.py::test_averaging_rows_evaluate_the_averaged_weights",
    "compare/test_training.py::test_cnn_patch_convolution_equals_lax_conv",
    "schedules/test_pytorch_keras_schedules.py::test_fractional_steps_interpolate",
    "schedules/test_pytorch_keras_schedules.py::test_restart_cycles_decrease_between_restarts",
    "schedules/test_pytorch_keras_schedules.py::test_warmup_then_decay_are_unimodal",
    "test_data_parallel.py::test_pmap_example_runs_as_a_script_on_8_simulated_devices",
    "test_axis_name.py::test_shard_map_example_matches_unsharded_training",
    "test_examples.py::test_linear_regression_every_strategy_converges_with_defaults",
    "test_packed_params.py::test_forward_mode_and_hessian_vector_products_pass_through",
    "test_packed_params.py::test_big_leaves_keep_their_sharding_on_a_mesh",
    "test_packed_params.py::test_per_example_gradients_under_vmap",
    "test_cli.py::test_python_dash_m_entry_point",
    "test_combinators.py::test_skip_not_finite_inside_multi_steps",
    "control/test_lr_free.py::test_mechanize_takes_x0_at_the_first_update",
    "test_optimistic.py::test_optimistic_descent_converges_on_a_bilinear_game",
    "test_sharded_training.py::test_sharded_example_holds_an_eighth_per_device_and_matches",
}


def pytest_configure(config):
    """``-n auto`` schedules by work stealing unless another ``--dist`` is given.

    xdist's default (``load``) hands out fixed chunks and leaves a core idle
    at the end; stealing measured 7:53 against 9:28 for the default run on
    the 2-core machine.
    """
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "worksteal"


def pytest_collection_modifyitems(config, items):
    tests = os.path.dirname(__file__)
    for item in items:
        path = os.path.relpath(str(item.path), tests).replace(os.sep, "/")
        if f"{path}::{item.originalname}" in DEEP_CHECKS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_code():
    """Drops JAX's compiled executables after each test module.

    The suite compiles tens of thousands of functions; kept for the whole
    session they grow one process past the CI machine's memory.
    """
    yield
    jax.clear_caches()
    gc.collect()
