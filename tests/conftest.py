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
