"""Bit-exactness of lrjax.packed over the case-driven suite, in its own process.

XLA:CPU contracts ``a * b + c`` into one FMA in some loops and not in others
(vectorized vs scalar code), so the same element-wise formula can round
differently on a ``(6, 5)`` leaf than on the flat buffer that holds it. With
``--xla_cpu_max_isa=AVX`` (no FMA instructions) every loop rounds alike, and
``==`` then tests what packing controls: the arithmetic. Run by
``test_packed.py``: ``python tests/packed_exactness.py TREE [TREE ...]``.
"""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_cpu_max_isa=AVX"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", False)

import test_packed as tp  # noqa: E402


def main(trees: list[str]) -> int:
    failures = []
    for case in tp.ELEMENTWISE:
        for tree in trees:
            try:
                tp.check_exact(case, tp.TREES[tree])
            except AssertionError as e:
                failures.append(f"{case.id} on {tree}: {str(e)[:300]}")
    print(f"{len(tp.ELEMENTWISE)} cases x {trees}: {len(failures)} not identical")
    print("\n".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
