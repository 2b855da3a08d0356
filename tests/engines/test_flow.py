"""The in-betweener's internals: the C kernel against a float reference, its two code paths, its bounds
checks, and the exact 2x upsampling it samples small motion from."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from framecast.engines import _kernels
from framecast.engines.base import Frame
from framecast.engines.flow import Interpolator, _upsample2
from tests.engines.simd import KERNEL_PATHS, assert_widest_path_runs

DATA = Path(__file__).resolve().parents[1] / "data"
F64 = npt.NDArray[np.float64]


def load(name: str) -> Frame:
    img = cv2.imread(str(DATA / name), cv2.IMREAD_COLOR)
    assert img is not None, name
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def bilinear(src: Frame, x: F64, y: F64) -> F64:
    """Float64 bilinear sampling with positions clamped to the image (BORDER_REPLICATE)."""
    h, w = src.shape[:2]
    x, y = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    s = src.astype(np.float64)
    top = s[y0, x0] * (1 - fx) + s[y0, x1] * fx
    bot = s[y1, x0] * (1 - fx) + s[y1, x1] * fx
    return np.asarray(top * (1 - fy) + bot * fy, np.float64)


def reference(it: Interpolator, t: float, a: Frame, b: Frame) -> F64:
    """The in-between as flow.py defines it, in float64 and without the kernel's fixed point."""
    h, w = a.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    s = float(it.scale)
    f01, f10 = it.f01.astype(np.float64), it.f10.astype(np.float64)
    m0 = -(1 - t) * t * f01 + t * t * f10
    m1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
    src0 = it.src0[: it.ymax + 1, : it.xmax + 1]
    src1 = it.src1[: it.ymax + 1, : it.xmax + 1]
    warp = (1 - t) * bilinear(src0, s * gx + m0[..., 0], s * gy + m0[..., 1])
    warp += t * bilinear(src1, s * gx + m1[..., 0], s * gy + m1[..., 1])
    if it.lam8 is None:
        return warp
    lam = it.lam8.astype(np.float64)[..., None] / 255.0
    fade = (1 - t) * a.astype(np.float64) + t * b.astype(np.float64)
    return np.asarray(lam * warp + (1 - lam) * fade, np.float64)


def pair(shift: int) -> tuple[Frame, Frame]:
    """A real frame and itself moved ``shift`` px right, with a band the flow cannot explain."""
    a = load("bikes_110.jpg")
    b = np.ascontiguousarray(np.roll(a, shift, axis=1))
    b[:40] = load("bikes_114.jpg")[:40]  # so the cross-fade is mixed in there
    return a, b


@pytest.mark.parametrize(("shift", "fine"), [(1, True), (24, False)])
def test_kernel_matches_float_reference(shift: int, fine: bool) -> None:
    a, b = pair(shift)
    it = Interpolator(a, b)
    assert it.warp_any and it.fine is fine and it.lam8 is not None
    assert 0 < int(it.lam8.min()) < 255  # both pure warp and mixed pixels are exercised
    for t in (0.2, 0.5, 0.9):
        out = it.frame(t, a, b)
        diff = np.abs(out.astype(np.float64) - reference(it, t, a, b))
        # One rounding at the end, positions in 1/64 px, shares in 1/256: within a grey level.
        assert float(diff.max()) <= 1.5 and float(diff.mean()) < 0.35, (t, float(diff.max()))


def kernel_args(rng: np.random.Generator | None, h: int, w: int, scale: int) -> dict[str, Any]:
    """A complete, valid ``inbetween`` call for an h x w output: random inputs, or zeros without ``rng``."""
    sh, sw = (h, w) if scale == 1 else (2 * h - 1, 2 * w - 1)

    def u8(*shape: int) -> Frame:
        return rng.integers(0, 256, shape, np.uint8) if rng is not None else np.zeros(shape, np.uint8)

    def flow() -> npt.NDArray[np.float32]:
        return (rng.standard_normal((h, w, 2)) * 20 if rng is not None else np.zeros((h, w, 2))).astype(
            np.float32
        )

    return {
        "out": np.empty((h, w, 3), np.uint8),
        "src0": u8(sh + 1, sw + 2, 3),
        "src1": u8(sh + 1, sw + 2, 3),
        "fade0": u8(h + 1, w + 2, 3),
        "fade1": u8(h + 1, w + 2, 3),
        "f01": flow(),
        "f10": flow(),
        "lam": u8(h, w),
        "t": 0.3,
        "scale": scale,
    }


def test_simd_and_portable_paths_give_identical_bytes() -> None:
    assert_widest_path_runs()
    rng = np.random.default_rng(5)
    # Widths that leave every kind of row tail after the blocks of eight (a block of four and scalar
    # pixels, a block of four, scalar pixels, nothing), and rows too short for a block of eight or any.
    for h, w, scale in ((37, 53, 1), (20, 31, 2), (9, 12, 1), (5, 10, 1), (6, 16, 2), (8, 4, 1), (3, 1, 2)):
        args = kernel_args(rng, h, w, scale)
        # Far outside the frame, and not numbers at all: clamped to the edge, never read outside.
        args["f01"][0, 0] = (1e30, -1e30)
        args["f10"][-1, -1] = (np.nan, np.inf)
        args["f01"][h // 2, min(5, w - 1)] = (-np.inf, np.nan)
        for lam in (args["lam"], None):
            outs = []
            for path in KERNEL_PATHS:
                out = np.empty((h, w, 3), np.uint8)
                _kernels.inbetween(**{**args, "out": out, "lam": lam, **path})
                outs.append(out)
            for other, path in zip(outs[1:], KERNEL_PATHS[1:], strict=True):
                assert np.array_equal(outs[0], other), (h, w, scale, lam is None, path)


def test_two_in_betweens_in_one_call_are_the_bytes_of_two_calls() -> None:
    """``out2``/``t2`` draw a second in-between row by row beside the first (the inputs read once): on
    every code path, with and without the fade, each is byte for byte what a call of its own gives."""
    rng = np.random.default_rng(6)
    for h, w, scale in ((37, 53, 1), (20, 31, 2), (8, 4, 1)):
        args = kernel_args(rng, h, w, scale)
        for lam in (args["lam"], None):
            for path in KERNEL_PATHS:
                for t, t2 in ((0.25, 0.75), (0.5, 0.5), (0.9, 0.1)):
                    alone = []
                    for at in (t, t2):
                        out = np.empty((h, w, 3), np.uint8)
                        _kernels.inbetween(**{**args, "out": out, "lam": lam, "t": at, **path})
                        alone.append(out)
                    first, second = np.empty((h, w, 3), np.uint8), np.empty((h, w, 3), np.uint8)
                    _kernels.inbetween(
                        **{**args, "out": first, "lam": lam, "t": t, "out2": second, "t2": t2, **path}
                    )
                    assert np.array_equal(first, alone[0]), (h, w, scale, lam is None, path, t)
                    assert np.array_equal(second, alone[1]), (h, w, scale, lam is None, path, t2)


def test_the_second_in_between_is_checked_like_the_first() -> None:
    h, w = 10, 16
    good = kernel_args(None, h, w, 1)
    second = np.empty((h, w, 3), np.uint8)
    _kernels.inbetween(**good, out2=second, t2=0.5)
    read_only = second.copy()
    read_only.flags.writeable = False
    for change in (
        {"out2": np.empty((h - 1, w, 3), np.uint8)},  # not the first's size
        {"out2": np.empty((h, w, 4), np.uint8)},
        {"out2": np.empty((h, w, 3), np.float32)},
        {"out2": np.empty((h, 2 * w, 3), np.uint8)[:, ::2]},  # not contiguous
        {"t2": 1.5},
        {"t2": float("nan")},
    ):
        with pytest.raises(ValueError):
            _kernels.inbetween(**{**good, "out2": second, "t2": 0.5, **change})
    with pytest.raises((ValueError, BufferError)):
        _kernels.inbetween(**good, out2=read_only, t2=0.5)


def test_frames_gives_the_bytes_of_frame_at_each_t() -> None:
    """Interpolator.frames (two in-betweens per kernel call) against frame, one at a time: the same
    frames, for an odd count, keyframe times among the in-betweens, and both sampling paths."""
    for shift in (1, 24):
        a, b = pair(shift)
        it = Interpolator(a, b)
        ts = [0.0, 0.1, 0.2, 0.5, 1.0, 0.7, 0.3, 0.9, 0.95]
        got = it.frames(ts, a, b)
        assert len(got) == len(ts)
        for t, f in zip(ts, got, strict=True):
            assert np.array_equal(f, it.frame(t, a, b)), (shift, t)


def test_kernel_reads_sources_through_their_row_strides() -> None:
    """Sources and fades may be views into wider arrays: the same bytes as from compact copies."""
    rng = np.random.default_rng(9)
    args = kernel_args(rng, 12, 17, 1)
    wide = {k: rng.integers(0, 256, (13, 25, 3), np.uint8) for k in ("src0", "src1", "fade0", "fade1")}
    views = {k: wide[k][:, :19] for k in wide}
    compact = {k: np.ascontiguousarray(v) for k, v in views.items()}
    outs = []
    for sources in (views, compact):
        out = np.empty((12, 17, 3), np.uint8)
        _kernels.inbetween(**{**args, **sources, "out": out})
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])


def test_kernel_refuses_buffers_smaller_than_it_would_touch() -> None:
    h, w = 10, 16
    good = kernel_args(None, h, w, 1)
    _kernels.inbetween(**good)
    out, src, flow = good["out"], good["src0"], good["f01"]
    bad: list[dict[str, Any]] = [
        {"out": out[:-1].copy()},  # flows and confidence no longer match the output
        {"src1": src[:-1].copy()},  # src0 and src1 differ
        {"src0": src[:, :-1].copy(), "src1": src[:, :-1].copy()},  # no room for the 8-byte reads
        {"src0": src[:-1].copy(), "src1": src[:-1].copy()},  # no padding row
        {"fade0": src[:-2].copy(), "fade1": src[:-2].copy()},  # one row short of the output
        {"fade0": src[:, :-1].copy(), "fade1": src[:, :-1].copy()},  # one column short of the 16-byte reads
        {"f10": flow[:-1].copy()},
        {"lam": np.zeros((h - 1, w), np.uint8)},
        {"lam": np.zeros((h, w), np.float32)},
        {"f01": flow.astype(np.float64)},
        {"src0": src[..., :2].copy()},
        {"scale": 3},
        {"scale": 2},  # 1x sources are too small for the 2x path
        {"t": 1.5},
        {"t": float("nan")},
    ]
    for change in bad:
        with pytest.raises(ValueError):
            _kernels.inbetween(**{**good, **change})
    read_only = out.copy()
    read_only.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        _kernels.inbetween(**{**good, "out": read_only})
    with pytest.raises(ValueError, match="contiguous"):
        _kernels.inbetween(**{**good, "f01": np.zeros((h, w, 4), np.float32)[..., :2]})
    with pytest.raises(ValueError, match="contiguous"):
        _kernels.inbetween(**{**good, "src0": src[:, ::-1], "src1": src[:, ::-1]})


def test_frames_from_several_threads_are_the_same_frames() -> None:
    a, b = pair(24)
    it = Interpolator(a, b)
    ts = [i / 11 for i in range(1, 11)]
    alone = [it.frame(t, a, b) for t in ts]
    together: dict[float, Frame] = {}

    def work(part: list[float]) -> None:
        for t in part:
            together[t] = it.frame(t, a, b)

    threads = [threading.Thread(target=work, args=(ts[i::2],)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.array_equal(together[t], f) for t, f in zip(ts, alone, strict=True))


def test_upsample2_keeps_every_source_pixel_and_interpolates_between() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    img = np.ascontiguousarray(cv2.GaussianBlur(noise, (0, 0), 2), dtype=np.uint8)
    up = _upsample2(img)
    assert up.shape == (60, 81, 3) and up.flags.c_contiguous
    valid = up[:59, :79]
    assert np.array_equal(valid[0::2, 0::2], img)  # whole-pixel positions return the keyframe itself
    # The padding the kernel reads replicates the edge.
    assert np.array_equal(up[59], up[58]) and np.array_equal(up[:, 79], up[:, 78])
    assert np.array_equal(up[:, 80], up[:, 78])
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8)[None, :, None], (6, 1, 3))
    mid = _upsample2(np.ascontiguousarray(ramp))[0, 3:-5:2, 0].astype(int)  # between columns 1..18
    assert np.all(np.abs(mid - (ramp[0, 1:-2, 0].astype(int) + 5)) <= 1)
    for h, w in ((1, 1), (1, 2), (2, 1), (3, 3)):  # the smallest images, where every tap is clamped
        tiny = rng.integers(0, 256, (h, w, 3), np.uint8)
        assert np.array_equal(_upsample2(tiny)[: 2 * h - 1 : 2, : 2 * w - 1 : 2], tiny)


@pytest.mark.parametrize(("shift", "fine"), [(1, True), (24, False)])
def test_frames_at_and_near_the_keyframes(shift: int, fine: bool) -> None:
    a, b = pair(shift)
    it = Interpolator(a, b)
    assert it.warp_any and it.fine is fine
    assert np.array_equal(it.frame(0.0, a, b), a) and np.array_equal(it.frame(1.0, a, b), b)
    for t, key in ((1e-3, a), (1 - 1e-3, b)):
        diff = np.abs(it.frame(t, a, b).astype(int) - key.astype(int))
        assert float(diff.mean()) < 0.5, (t, float(diff.mean()))
