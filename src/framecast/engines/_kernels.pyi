"""The built-in engine's per-frame kernels, in C (``_kernels.c``): in-betweens, 2x upsampling, camera moves.

Every array's shape and row stride are read from its buffer (pixels contiguous within a row).
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_U8 = npt.NDArray[np.uint8]
_F32 = npt.NDArray[np.float32]
_Window = tuple[float, float, float]
# A 3x3 projective map: its 9 entries, row-major.
_Matrix = Sequence[float]

def inbetween(
    out: _U8,
    src0: _U8,
    src1: _U8,
    fade0: _U8,
    fade1: _U8,
    f01: _F32,
    f10: _F32,
    lam: _U8 | None,
    t: float,
    scale: int,
    *,
    portable: bool = False,
    avx2: bool = True,
    out2: _U8 | None = None,
    t2: float = 0.0,
) -> None: ...
def upsample2(img: _U8, dst: _U8, /) -> None: ...
def zoom(src: _U8, dst: _U8, x0: float, y0: float, step: float, /) -> None: ...
def camera(
    out: _U8,
    first: _U8,
    last: _U8,
    window0: _Window,
    window1: _Window,
    t: float,
    feather0: float,
    feather1: float,
    /,
) -> None: ...
def camera_flow(
    out: _U8,
    first: _U8,
    last: _U8,
    flow: _F32 | None,
    out_to_first: _Matrix,
    first_to_last: _Matrix,
    t: float,
    feather0: float,
    feather1: float,
    *,
    portable: bool = False,
    avx2: bool = True,
) -> None: ...
def simd() -> str: ...
