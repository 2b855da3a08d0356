"""What the kernels' byte-identity tests share: the paths a kernel call can be held to, and a check that
the widest one this CPU offers is the one that runs unheld (else a test would compare a path with itself)."""

from __future__ import annotations

import platform
from pathlib import Path

from framecast.engines import _kernels

# AVX2 where the CPU has it (eight pixels at a time, then one block of four in SSE4.1), SSE4.1 alone, and
# the portable C. Each must give the others' bytes.
KERNEL_PATHS: tuple[dict[str, bool], ...] = ({}, {"avx2": False}, {"portable": True})


def assert_widest_path_runs() -> None:
    if platform.machine() in ("x86_64", "AMD64"):
        assert _kernels.simd() in ("sse4.1", "avx2")
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and " avx2" in cpuinfo.read_text():
        assert _kernels.simd() == "avx2"
