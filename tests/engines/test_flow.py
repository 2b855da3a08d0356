"""The in-betweener's internals: exact upsampling, the fixed-point cross-fade mix, path selection."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from framecast.engines.base import Frame
from framecast.engines.flow import Interpolator, _Scratch, _upsample2

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> Frame:
    img = cv2.imread(str(DATA / name), cv2.IMREAD_COLOR)
    assert img is not None, name
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def test_upsample2_keeps_every_source_pixel_and_interpolates_between() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    img = np.ascontiguousarray(cv2.GaussianBlur(noise, (0, 0), 2), dtype=np.uint8)
    up = _upsample2(img)
    assert up.shape == (59, 79, 4) and up.flags.c_contiguous
    assert np.array_equal(up[0::2, 0::2], img)  # whole-pixel positions return the keyframe itself
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8)[None, :, None], (6, 1, 4))
    mid = _upsample2(np.ascontiguousarray(ramp))[0, 3:-3:2, 0].astype(int)  # between columns 1..18
    assert np.all(np.abs(mid - (ramp[0, 1:-2, 0].astype(int) + 5)) <= 1)


@pytest.mark.parametrize(("shift", "fine"), [(1, True), (24, False)])
def test_mix_matches_float_reference(shift: int, fine: bool) -> None:
    a = load("bikes_110.jpg")
    b = np.ascontiguousarray(np.roll(a, shift, axis=1))
    b[:40] = load("bikes_114.jpg")[:40]  # a region the flow cannot explain, so the cross-fade is mixed in
    it = Interpolator(a, b)
    assert it.warp_any and it.fine is fine and it.bands
    h, w = a.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid = np.dstack([gx, gy]) * (2.0 if fine else 1.0)
    scratch = _Scratch(w)
    for t in (0.2, 0.5, 0.9):
        out = it._frame(t, scratch).astype(np.float32)
        assert np.array_equal(out, it.frame(t, a, b))
        # The whole frame at once, in float where the engine works per strip in uint8.
        map0 = grid + (-(1 - t) * t) * it.f01 + (t * t) * it.f10
        map1 = grid + ((1 - t) * (1 - t)) * it.f01 + (-t * (1 - t)) * it.f10
        warp0 = cv2.remap(it.src0, map0, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        warp1 = cv2.remap(it.src1, map1, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ref = (1 - t) * warp0[..., :3].astype(np.float32) + t * warp1[..., :3].astype(np.float32)
        fade = (1 - t) * a.astype(np.float32) + t * b.astype(np.float32)
        for y0, y1, band in it.strips:
            if band is None:
                continue
            box = (slice(y0, y1), band.box[1])
            lam = band.lam[..., :3].astype(np.float32) / 255.0
            ref[box] = lam * ref[box] + (1 - lam) * fade[box]
        assert float(np.abs(out - ref).max()) <= 2.0  # three uint8 roundings


@pytest.mark.parametrize(("shift", "fine"), [(1, True), (24, False)])
def test_frames_at_and_near_the_keyframes(shift: int, fine: bool) -> None:
    a = load("bikes_110.jpg")
    b = np.ascontiguousarray(np.roll(a, shift, axis=1))
    it = Interpolator(a, b)
    assert it.warp_any and it.fine is fine
    assert np.array_equal(it.frame(0.0, a, b), a) and np.array_equal(it.frame(1.0, a, b), b)
    # Next to a keyframe the in-between is that keyframe, give or take rounding, on both paths: the
    # second warp's map is derived from the first by a factor -(1 - t) / t that is large here.
    for t, key in ((1e-3, a), (1 - 1e-3, b)):
        diff = np.abs(it.frame(t, a, b).astype(int) - key.astype(int))
        assert float(diff.mean()) < 0.5, (t, float(diff.mean()))
