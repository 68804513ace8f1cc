#!/usr/bin/env bash
# The many-leaf benchmark on a CUDA machine that already has jax, optax, chex
# and torch (no install): lrjax from this checkout, PyTorch's fused and
# foreach Adam in the same rounds; then whole training steps (train_step.py).
# Results go to ${OUT:-.}/gpu_many_leaves.md and ${OUT:-.}/gpu_train_step.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# JAX takes 75% of the GPU at start by default; PyTorch needs room beside it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
out="${OUT:-.}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import jax, optax, lrjax; print(jax.__version__, optax.__version__, jax.devices())"
python3 benchmarks/many_leaves.py --rounds "${ROUNDS:-5}" --steps "${STEPS:-20}" \
  --compiles "${COMPILES:-1}" --torch --constant-offsets \
  --write "$out/gpu_many_leaves.md" "$@"
python3 benchmarks/train_step.py --rounds "${ROUNDS:-5}" --steps "${STEPS:-20}" \
  --compiles "${COMPILES:-1}" --write "$out/gpu_train_step.md"
