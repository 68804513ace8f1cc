"""Shared test setup: 8 simulated CPU devices (set before JAX starts)."""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

# Tests compare float32 numerics with optax; keep JAX's default precision.
jax.config.update("jax_enable_x64", False)

from hypothesis import settings  # noqa: E402

# The same examples on every run: CI must not pass or fail by chance.
settings.register_profile("lrjax", derandomize=True, deadline=None)
settings.load_profile("lrjax")


import gc  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_code():
    """Drops JAX's compiled executables after each test module.

    The suite compiles tens of thousands of functions; kept for the whole
    session they grow one process past the CI machine's memory.
    """
    yield
    jax.clear_caches()
    gc.collect()
