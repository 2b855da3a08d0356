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

Per in-between frame at time ``t`` (full resolution, all in OpenCV, made in strips of ``_STRIP`` rows
so the intermediates stay in cache): the sampling maps (the flow from ``t`` back to each keyframe, Super
SloMo's linear-motion approximation) are one weighted sum of the two full-resolution flows, both
keyframes are backward-warped with ``cv2.remap`` (RGBA, whose SIMD path is about twice as fast as RGB),
and the two warps, back in RGB, are blended ``(1 - t, t)`` and mixed with the cross-fade by ``lam``
(keyframes premultiplied by ``1 - lam`` once per pair, so the mix is three uint8 operations) straight
into the returned frame.

Pairs with small motion (median flow under ``_FINE_MOTION``) are sampled from the keyframes' exact 2x
cubic upsampling: there the in-between's error is mostly the blur of bilinear sampling at fractional
positions rather than flow error, and this recovers most of what bicubic ``remap`` would (0.4 dB on the
tuning pairs) at a fraction of its cost. Whole-pixel positions still return the keyframe pixels, so no
detail is invented. :meth:`Interpolator.frame` is thread-safe.
"""

from __future__ import annotations

import queue
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

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
# Height in output pixels of the strips a frame is made in. 48 rows of 720p (61,440 pixels) stay in
# the 2 MB L2 cache with all their intermediates and are below the 65,536 pixels per stripe at which
# OpenCV's remap splits work across threads.
_STRIP = 48
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

        # uint8 RGBA sources: remap's RGBA path is about twice as fast as RGB.
        first4: U8 = np.asarray(cv2.cvtColor(first, cv2.COLOR_RGB2RGBA), np.uint8)
        last4: U8 = np.asarray(cv2.cvtColor(last, cv2.COLOR_RGB2RGBA), np.uint8)

        # Small motion: the error of the in-between is then mostly bilinear sampling blur, not flow
        # error, so the keyframes are sampled from their exact 2x cubic upsampling (see _upsample2).
        self.fine = float(np.median(np.hypot(f01[..., 0], f01[..., 1]))) < _FINE_MOTION
        # Full-resolution flows in full-res pixels (source pixels of the 2x images on the fine path).
        # The per-frame sampling maps are the weighted sum of the two (linear-motion approximation, as
        # in _flows_to_t), per strip: relative maps on the fast path (plus the strip's y0, as remap adds
        # strip-local coordinates), absolute positions in the 2x images on the fine path. Two-channel
        # maps: OpenCV 5.0's relative remap with separate x/y planes returns wrong pixels and can crash.
        gain = np.array([sx, sy], dtype=np.float32) * (2.0 if self.fine else 1.0)
        self.f01 = self._full(np.ascontiguousarray(f01 * gain))
        self.f10 = self._full(np.ascontiguousarray(f10 * gain))
        # On the fast path the keyframes are kept padded on the left by ``pad`` columns (see _frame);
        # src0/src1 are views of the unpadded part, the keyframes themselves.
        self.pad = 0
        if self.fine:
            fx, fy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self.grid2: F32 = np.dstack([2 * fx, 2 * fy])
            self.src0: U8 = _upsample2(first4)
            self.src1: U8 = _upsample2(last4)
        else:
            self.pad = (h - 1) // _STRIP * _STRIP
            self.wide0 = _pad_left(first4, self.pad)
            self.wide1 = _pad_left(last4, self.pad)
            self.src0, self.src1 = self.wide0[:, self.pad :], self.wide1[:, self.pad :]

        # The frame is made in strips of _STRIP rows, each finished (maps, both warps, RGB, blend, mix)
        # before the next: the intermediates stay in cache instead of streaming full frames through
        # memory that libx264 shares, and each call is small enough that OpenCV runs it on the calling
        # thread. Where the cross-fade has to be mixed in, per strip, the columns where lam < _LAM_HI:
        # out = lam * warp + (1 - lam) * ((1 - t) first + t last); the keyframes are premultiplied by
        # (1 - lam) once here, so per frame the mix is one multiply, one weighted sum and one add.
        full_lam: F32 | None = None
        self.strips: list[tuple[int, int, _Band | None]] = []
        for y0 in range(0, h, _STRIP):
            y1 = min(h, y0 + _STRIP)
            ly0, ly1 = max(0, int(y0 / sy) - 1), min(lh, int(np.ceil(y1 / sy)) + 1)
            cols = np.nonzero((lam[ly0:ly1] < _LAM_HI).any(axis=0))[0]
            band: _Band | None = None
            if cols.size:
                if full_lam is None:
                    full_lam = self._full(lam)
                x0, x1 = max(0, int((cols[0] - 1) * sx)), min(w, int(np.ceil((cols[-1] + 2) * sx)))
                box = (slice(y0, y1), slice(x0, x1))
                local = (slice(0, y1 - y0), slice(x0, x1))
                band = _Band(local, full_lam[box], first[box], last[box])
            self.strips.append((y0, y1, band))
        self._scratch: queue.SimpleQueue[_Scratch] = queue.SimpleQueue()

    @property
    def bands(self) -> list[_Band]:
        """The strips' cross-fade mixes (empty where the warp is used as is)."""
        return [band for _, _, band in self.strips if band is not None]

    def _full(self, low: F32) -> F32:
        if self.low == self.size:
            return np.ascontiguousarray(low, dtype=np.float32)
        return np.asarray(cv2.resize(low, self.size, interpolation=cv2.INTER_LINEAR), np.float32)

    def frame(self, t: float, first: Frame, last: Frame) -> Frame:
        """The in-between at ``t`` in (0, 1); ``first``/``last`` are the RGB keyframes.

        Thread-safe: each call borrows its own scratch buffers, so frames can be made in parallel.
        At ``t <= 0`` or ``t >= 1`` it is a copy of that keyframe.
        """
        if t <= 0.0 or t >= 1.0:
            return (first if t <= 0.0 else last).copy()
        if not self.warp_any:
            return np.asarray(cv2.addWeighted(first, 1 - t, last, t, 0.0), np.uint8)
        try:
            scratch = self._scratch.get_nowait()
        except queue.Empty:
            scratch = _Scratch(self.size[0])
        try:
            return self._frame(t, scratch)
        finally:
            self._scratch.put(scratch)

    def _frame(self, t: float, s: _Scratch) -> Frame:
        w, h = self.size
        out: U8 = np.empty((h, w, 3), np.uint8)
        # Flow from t back to frame 0 and to frame 1 (linear-motion approximation, as _flows_to_t).
        a0, b0, a1, b1 = -(1 - t) * t, t * t, (1 - t) * (1 - t), -t * (1 - t)
        fine = self.fine
        flags = cv2.INTER_LINEAR if fine else cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP
        # The flow back to frame 1 is -(1 - t) / t times the flow back to frame 0 (linear motion).
        k = -(1 - t) / t
        for y0, y1, band in self.strips:
            n = y1 - y0
            rows = slice(y0, y1)
            map0, map1 = s.map0[:n], s.map1[:n]
            warp0, warp1, rgb0, rgb1 = s.warp0[:n], s.warp1[:n], s.rgb0[:n], s.rgb1[:n]
            if fine:  # absolute positions in the 2x images: grid + flow to t, and grid + k * that flow
                flow = s.flow[:n]
                grid = self.grid2[rows]
                cv2.addWeighted(self.f01[rows], a0, self.f10[rows], b0, 0.0, dst=flow)
                cv2.add(flow, grid, dst=map0)
                cv2.addWeighted(flow, k, grid, 1.0, 0.0, dst=map1)
                src0, src1 = self.src0, self.src1
            else:
                # Relative maps are strip-local: remap adds (x, row within the strip), and the strip's
                # y0 is still to be added. addWeighted adds it for free as its scalar term, but to both
                # channels; the y0 the x channel gains is cancelled by sampling views of the keyframes
                # that start y0 columns early in their left-padded copies.
                cv2.addWeighted(self.f01[rows], a0, self.f10[rows], b0, float(y0), dst=map0)
                cv2.addWeighted(self.f01[rows], a1, self.f10[rows], b1, float(y0), dst=map1)
                src0, src1 = self.wide0[:, self.pad - y0 :], self.wide1[:, self.pad - y0 :]
            _cv.remap(src0, map0, None, flags, dst=warp0, borderMode=cv2.BORDER_REPLICATE)
            _cv.remap(src1, map1, None, flags, dst=warp1, borderMode=cv2.BORDER_REPLICATE)
            # Blend and mix in RGB, straight into the frame: a quarter fewer bytes than RGBA.
            cv2.cvtColor(warp0, cv2.COLOR_RGBA2RGB, dst=rgb0)
            cv2.cvtColor(warp1, cv2.COLOR_RGBA2RGB, dst=rgb1)
            mixed = out[rows]
            cv2.addWeighted(rgb0, 1 - t, rgb1, t, 0.0, dst=mixed)
            if band is not None:
                band.mix(mixed, t, s.fade[:n, : band.width])
        return out


class _Scratch:
    """Per-strip working buffers (one set per thread making frames)."""

    def __init__(self, width: int) -> None:
        shape = (_STRIP, width)
        self.map0: F32 = np.empty((*shape, 2), np.float32)
        self.map1: F32 = np.empty((*shape, 2), np.float32)
        self.flow: F32 = np.empty((*shape, 2), np.float32)
        self.warp0: U8 = np.empty((*shape, 4), np.uint8)
        self.warp1: U8 = np.empty((*shape, 4), np.uint8)
        self.rgb0: U8 = np.empty((*shape, 3), np.uint8)
        self.rgb1: U8 = np.empty((*shape, 3), np.uint8)
        self.fade: U8 = np.empty((*shape, 3), np.uint8)


class _Band:
    """One rectangle where the warp is mixed with the cross-fade, with its premultiplied keyframes.

    ``out = lam * warp + (1 - lam) * ((1 - t) * first + t * last)``: the keyframes are premultiplied
    by ``1 - lam`` once, so per frame the mix is one weighted sum, one multiply and one add, all uint8.
    (The same mix in 16-bit fixed point was 0.02 dB better on the tuning pairs and twice as slow.)
    ``box`` is relative to the strip.
    """

    def __init__(self, box: tuple[slice, slice], lam: F32, first: Frame, last: Frame) -> None:
        self.box = box
        lam8 = cv2.convertScaleAbs(lam, alpha=255.0)
        self.lam: U8 = np.asarray(cv2.merge([lam8, lam8, lam8]), np.uint8)
        rest = cv2.subtract(np.full_like(self.lam, 255), self.lam)
        self.first: U8 = np.asarray(cv2.multiply(first, rest, scale=1.0 / 255.0), np.uint8)
        self.last: U8 = np.asarray(cv2.multiply(last, rest, scale=1.0 / 255.0), np.uint8)
        self.width = self.first.shape[1]

    def mix(self, mixed: U8, t: float, fade: U8) -> None:
        region = mixed[self.box]  # a view: OpenCV writes into it in place
        cv2.addWeighted(self.first, 1 - t, self.last, t, 0.0, dst=fade)
        cv2.multiply(region, self.lam, dst=region, scale=1.0 / 255.0)
        cv2.add(region, fade, dst=region)


def _pad_left(img: U8, pad: int) -> U8:
    """``img`` with ``pad`` replicated columns on the left (as remap's BORDER_REPLICATE sees it)."""
    return np.asarray(cv2.copyMakeBorder(img, 0, 0, pad, 0, cv2.BORDER_REPLICATE), np.uint8)


# Cubic convolution (a = -0.75, as OpenCV's INTER_CUBIC) evaluated half-way between two samples.
_HALF_CUBIC = np.array([[-0.09375, 0.59375, 0.59375, -0.09375]], np.float32)


def _upsample2(img: U8) -> U8:
    """(2h-1) x (2w-1) cubic upsampling whose even rows/columns are ``img`` itself.

    Bilinear sampling of this image at ``2 * p`` is a sharper interpolation kernel than bilinear
    sampling of ``img`` at ``p`` (close to bicubic at a fraction of ``remap``'s INTER_CUBIC cost),
    and it still returns the keyframe pixel exactly at whole-pixel positions: nothing is sharpened.
    """
    h, w, c = img.shape
    out: U8 = np.empty((2 * h - 1, 2 * w - 1, c), np.uint8)
    # Filled in place through strided views: a third faster than interleaving with np.stack.
    out[0::2, 0::2] = img
    out[0::2, 1::2] = cv2.filter2D(img, -1, _HALF_CUBIC, anchor=(1, 0), borderType=cv2.BORDER_REPLICATE)[
        :, :-1
    ]
    rows = np.ascontiguousarray(out[0::2])
    out[1::2] = cv2.filter2D(rows, -1, _HALF_CUBIC.T, anchor=(0, 1), borderType=cv2.BORDER_REPLICATE)[:-1]
    return out


def _norm2(v: F32) -> F32:
    """Squared length of each 2-vector (numpy's reductions over a last axis of 2 are slow)."""
    x, y = v[..., 0], v[..., 1]
    return np.asarray(x * x + y * y, np.float32)


def _reliability(fab: F32, fba: F32, ga: U8, gb: U8, grid: F32) -> F32:
    """Per-pixel trust in ``fab``: forward/backward agreement, same look, and target inside the frame."""
    pos = grid + fab
    back = _remap(fba, pos)
    err2 = _norm2(fab + back)
    tol2 = 0.01 * (_norm2(fab) + _norm2(back)) + 0.5
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
