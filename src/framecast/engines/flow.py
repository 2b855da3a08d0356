"""First/last-frame in-betweening with dense optical flow: everything the builtin engine does per pair.

Per pair (once, at a reduced "analysis" scale, long side <= 640 px):

1. Grey images with mean and contrast equalised, so a brightness change does not read as motion.
2. DIS optical flow (coarse-to-fine) in both directions.
3. Whole-pair trust: how much the flow explains the difference between the keyframes, and how much of
   the frame passes a forward/backward consistency check. Unrelated pairs get 0 (a plain dissolve).
4. A confidence map ``lam``: both keyframes are warped to the middle of the pair and compared. Where the
   two warps disagree more than the keyframes themselves differ, the flow is wrong there (occlusion,
   motion blur, non-rigid change), and the in-between leans toward the cross-fade, which is the
   least-bad guess when nothing is known. It is an inverse-variance weight, smoothed over ~2% of the
   frame so seams stay soft.

Per in-between frame at time ``t`` (full resolution): the sampling positions (the flow from ``t`` back
to each keyframe, Super SloMo's linear-motion approximation, a weighted sum of the two full-resolution
flows), both bilinear samples, their ``(1 - t, t)`` blend and the mix with the cross-fade by ``lam``
are one pass of a small C kernel (``_kernels.c``) that reads each input once and rounds once. Done
with OpenCV (two remaps, conversions, five arithmetic passes over full frames) the same frame cost
about as much CPU as libx264 spends encoding it. :meth:`Interpolator.frames` draws two in-betweens per
kernel call, row by row, so each row's inputs are read once for both.

Pairs with small motion (median flow under ``_FINE_MOTION``) are sampled from the keyframes' exact 2x
cubic upsampling: there the in-between's error is mostly the blur of bilinear sampling at fractional
positions rather than flow error, and this recovers most of what bicubic ``remap`` would (0.4 dB on the
tuning pairs) at a fraction of its cost. Whole-pixel positions still return the keyframe pixels, so no
detail is invented. :meth:`Interpolator.frame` is thread-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from framecast.engines import _kernels
from framecast.engines.base import Frame

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

# OpenCV's stubs reject None for optional arguments and miss DIS; call those through this alias.
_cv: Any = cv2

# Flow is estimated on frames whose long side is at most this. DIS is coarse-to-fine already; flow at
# this scale is as good as full-scale flow on the bench clips (within 0.05 dB) and much cheaper.
ANALYSIS_LONG_SIDE = 640
# Photometric tolerance (grey levels on the normalised images) before a match counts as wrong.
_PHOTO_TAU = 48.0
# Smoothing of the confidence map, as a share of the analysis frame's long side.
_CONFIDENCE_SIGMA = 12.0 / 640.0
# Below this share of consistent pixels the pair is treated as unrelated (a cut) and dissolved.
_MIN_AGREEMENT = 0.2
# ``lam`` above/below these everywhere in a region means pure warp / pure cross-fade there.
_LAM_HI = 0.995
_LAM_LO = 0.005
# Squared grey-level floor of both error estimates: where both are this small either choice looks the
# same, so flat areas count as warp (and skip the mix).
_NOISE_FLOOR = 4.0
# Median flow (analysis pixels) below which keyframes are sampled through their 2x cubic upsampling.
_FINE_MOTION = 4.0


def normalised_grey(img: Frame, size: tuple[int, int]) -> U8:
    """Grey at ``size`` with mean/contrast equalised, so a brightness change does not read as motion."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if (g.shape[1], g.shape[0]) != size:
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    f = g.astype(np.float32)
    std = float(f.std())
    f = (f - float(f.mean())) * (48.0 / max(std, 1.0)) + 128.0
    return np.clip(f, 0, 255).astype(np.uint8)


def _remap(src: F32, pos: F32) -> F32:
    out = _cv.remap(src, pos, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, dtype=np.float32)


def _flows_to_t(f01: F32, f10: F32, t: float) -> tuple[F32, F32]:
    """Flow from time t back to frame 0 and to frame 1 (linear-motion approximation)."""
    ft0 = np.asarray(cv2.addWeighted(f01, -(1 - t) * t, f10, t * t, 0.0), np.float32)
    ft1 = np.asarray(cv2.addWeighted(f01, (1 - t) * (1 - t), f10, -t * (1 - t), 0.0), np.float32)
    return ft0, ft1


class Interpolator:
    """Everything computed once per keyframe pair; :meth:`frame` is the cheap per-t part."""

    def __init__(self, first: Frame, last: Frame) -> None:
        h, w = first.shape[:2]
        self.size = (w, h)
        scale = min(1.0, ANALYSIS_LONG_SIDE / max(w, h))
        lw, lh = max(8, round(w * scale)), max(8, round(h * scale))
        self.low = (lw, lh)
        sx, sy = w / lw, h / lh

        g0 = normalised_grey(first, self.low)
        g1 = normalised_grey(last, self.low)
        dis = _cv.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        f01: F32 = np.asarray(dis.calc(g0, g1, None), np.float32)
        f10: F32 = np.asarray(dis.calc(g1, g0, None), np.float32)
        gx, gy = np.meshgrid(np.arange(lw, dtype=np.float32), np.arange(lh, dtype=np.float32))
        grid: F32 = np.dstack([gx, gy])

        r0 = _reliability(f01, f10, g0, g1, grid)
        r1 = _reliability(f10, f01, g1, g0, grid)
        agreement = 0.5 * (float(r0.mean()) + float(r1.mean()))
        trust = _explained(g0, g1, f01, grid) * float(np.clip((agreement - _MIN_AGREEMENT) / 0.3, 0.0, 1.0))
        lam = _confidence(g0, g1, f01, f10, grid) * np.float32(trust)

        self.warp_any = float(lam.max()) > _LAM_LO
        if not self.warp_any:
            return

        # Small motion: the error of the in-between is then mostly bilinear sampling blur, not flow
        # error, so the keyframes are sampled from their exact 2x cubic upsampling (see _upsample2).
        self.fine = float(np.median(np.hypot(f01[..., 0], f01[..., 1]))) < _FINE_MOTION
        self.scale = 2 if self.fine else 1
        # Full-resolution flows in source pixels (pixels of the 2x images on the fine path).
        gain = np.array([sx, sy], dtype=np.float32) * self.scale
        self.f01 = self._full(np.ascontiguousarray(f01 * gain))
        self.f10 = self._full(np.ascontiguousarray(f10 * gain))
        # Sources for the kernel: the keyframes (or their 2x upsampling) with the edge replicated one row
        # down and two columns right, as the kernel reads 2x2 neighbourhoods 8 bytes wide; the cross-fade
        # reads the padded keyframes.
        self.fade0, self.fade1 = pad_for_kernel(first), pad_for_kernel(last)
        if self.fine:
            self.src0, self.src1 = _upsample2(first), _upsample2(last)
        else:
            self.src0, self.src1 = self.fade0, self.fade1
        # The warp's share per pixel in 1/255; None where the warp is trusted everywhere (no fade).
        self.lam8: U8 | None = None
        if float(lam.min()) < _LAM_HI:
            full = self._full(lam)
            full[full >= _LAM_HI] = 1.0
            self.lam8 = np.asarray(cv2.convertScaleAbs(full, alpha=255.0), np.uint8)

    def _full(self, low: F32) -> F32:
        if self.low == self.size:
            return np.array(low, dtype=np.float32)
        return np.asarray(cv2.resize(low, self.size, interpolation=cv2.INTER_LINEAR), np.float32)

    def frame(self, t: float, first: Frame, last: Frame) -> Frame:
        """The in-between at ``t`` in (0, 1); ``first``/``last`` are the RGB keyframes.

        Thread-safe, and the kernel runs without the GIL. At ``t <= 0`` or ``t >= 1`` it is a copy of
        that keyframe.
        """
        if t <= 0.0 or t >= 1.0:
            return (first if t <= 0.0 else last).copy()
        if not self.warp_any:
            return np.asarray(cv2.addWeighted(first, 1 - t, last, t, 0.0), np.uint8)
        return self._draw(t)[0]

    def frames(self, ts: Sequence[float], first: Frame, last: Frame) -> list[Frame]:
        """:meth:`frame` at each of ``ts``, the same bytes, in less time: consecutive in-betweens are drawn
        two at a time by one kernel call, row by row, so the flows and sources are read once for both
        (at 720p a frame's are tens of MB, more than the cache holds; ``bench/kernels.py``)."""
        out: list[Frame] = []
        i = 0
        while i < len(ts):
            t = ts[i]
            t2 = ts[i + 1] if i + 1 < len(ts) else 0.0
            if self.warp_any and 0.0 < t < 1.0 and 0.0 < t2 < 1.0:
                out += self._draw(t, t2)
                i += 2
            else:
                out.append(self.frame(t, first, last))
                i += 1
        return out

    def _draw(self, *ts: float) -> list[Frame]:
        """The kernel's in-betweens at one or two times in (0, 1), in one pass."""
        w, h = self.size
        outs: list[Frame] = [np.empty((h, w, 3), np.uint8) for _ in ts]
        # Shapes and strides come from the arrays; the flows from t back to each keyframe are the
        # linear-motion approximation of _flows_to_t, formed inside the kernel.
        _kernels.inbetween(
            outs[0],
            self.src0,
            self.src1,
            self.fade0,
            self.fade1,
            self.f01,
            self.f10,
            self.lam8,
            ts[0],
            self.scale,
            out2=outs[1] if len(ts) > 1 else None,
            t2=ts[-1],
        )
        return outs

    @property
    def xmax(self) -> int:
        """Last valid source column (the sources carry two padding columns)."""
        return int(self.src0.shape[1]) - 3

    @property
    def ymax(self) -> int:
        """Last valid source row (the sources carry one padding row)."""
        return int(self.src0.shape[0]) - 2


def pad_for_kernel(img: U8) -> U8:
    """``img`` with one replicated row below and two columns right."""
    return np.asarray(cv2.copyMakeBorder(img, 0, 1, 0, 2, cv2.BORDER_REPLICATE), np.uint8)


def _upsample2(img: U8) -> U8:
    """The (2h - 1) x (2w - 1) cubic upsampling whose even rows/columns are ``img`` itself, padded for
    the kernel (one more row and two more columns, replicated).

    Bilinear sampling of this image at ``2 * p`` is a sharper interpolation kernel than bilinear
    sampling of ``img`` at ``p`` (close to bicubic at a fraction of its cost), and it still returns
    the keyframe pixel exactly at whole-pixel positions: nothing is sharpened.
    """
    h, w = img.shape[:2]
    out: U8 = np.empty((2 * h, 2 * w + 1, 3), np.uint8)
    _kernels.upsample2(np.ascontiguousarray(img), out)
    return out


def norm2(v: F32) -> F32:
    """Squared length of each 2-vector (numpy's reductions over a last axis of 2 are slow)."""
    x, y = v[..., 0], v[..., 1]
    return np.asarray(x * x + y * y, np.float32)


def _reliability(fab: F32, fba: F32, ga: U8, gb: U8, grid: F32) -> F32:
    """Per-pixel trust in ``fab``: forward/backward agreement, same look, and target inside the frame."""
    pos = grid + fab
    back = _remap(fba, pos)
    err2 = norm2(fab + back)
    tol2 = 0.01 * (norm2(fab) + norm2(back)) + 0.5
    r = np.exp(-err2 / (2.0 * tol2))
    photo = np.abs(ga.astype(np.float32) - _remap(gb.astype(np.float32), pos))
    r *= np.exp(-((photo / _PHOTO_TAU) ** 2))
    h, w = ga.shape
    r *= (pos[..., 0] >= 0) & (pos[..., 0] <= w - 1) & (pos[..., 1] >= 0) & (pos[..., 1] <= h - 1)
    return np.asarray(r, dtype=np.float32)


def _explained(g0: U8, g1: U8, f01: F32, grid: F32) -> float:
    """How much warping explains the pair better than no motion at all, in [0, 1]."""
    a, b = g0.astype(np.float32), g1.astype(np.float32)
    raw = float(np.mean(np.abs(a - b)))
    if raw < 1.0:
        return 1.0
    err = float(np.mean(np.abs(a - _remap(b, grid + f01))))
    # Flow that removes less than ~10% of the difference is noise; above ~40% it is clearly real.
    return float(np.clip(((raw - err) / raw - 0.1) / 0.3, 0.0, 1.0))


def _confidence(g0: U8, g1: U8, f01: F32, f10: F32, grid: F32) -> F32:
    """Per-pixel weight of the warp against the cross-fade, from how well the two warps meet at t=0.5.

    Inverse-variance mix of two estimates: the warp's error is estimated by the disagreement of the
    two half-way warps, the cross-fade's by the difference between the keyframes.
    """
    a, b = g0.astype(np.float32), g1.astype(np.float32)
    h0, h1 = _flows_to_t(f01, f10, 0.5)
    disagree = (_remap(a, grid + h0) - _remap(b, grid + h1)) ** 2
    differ = (a - b) ** 2
    sigma = _CONFIDENCE_SIGMA * max(a.shape)
    e_warp = np.asarray(cv2.GaussianBlur(disagree, (0, 0), sigma), np.float32)
    e_fade = np.asarray(cv2.GaussianBlur(differ, (0, 0), sigma), np.float32)
    return np.asarray((e_fade + _NOISE_FLOOR) / (e_fade + e_warp + _NOISE_FLOOR), np.float32)
