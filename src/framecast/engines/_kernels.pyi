"""The built-in engine's per-frame kernels, in C (``_kernels.c``): in-betweens, 2x upsampling, camera zoom."""

import numpy as np
import numpy.typing as npt

_U8 = npt.NDArray[np.uint8]
_F32 = npt.NDArray[np.float32]

def inbetween(
    *,
    out: _U8,
    src0: _U8,
    src1: _U8,
    stride: int,
    fade0: _U8,
    fade1: _U8,
    fade_stride: int,
    xmax: int,
    ymax: int,
    scale: int,
    f01: _F32,
    f10: _F32,
    lam: _U8 | None,
    width: int,
    y0: int,
    y1: int,
    a0: float,
    b0: float,
    a1: float,
    b1: float,
    t256: int,
    portable: bool = False,
) -> None: ...
def upsample2(img: _U8, h: int, w: int, dst: _U8, /) -> None: ...
def zoom(src: _U8, dst: _U8, h: int, w: int, x0: float, y0: float, step: float, /) -> None: ...
def simd() -> str: ...
