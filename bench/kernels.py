"""Per-frame cost of the C kernels (``src/framecast/engines/_kernels.c``) against OpenCV doing the same work.

    python bench/kernels.py              # 720p, ~1 min
    python bench/kernels.py --repeat 50

Everything on one core (OpenCV's thread pool is set to one thread: the engine runs its per-frame work on
one thread while libx264 has the other core). Each figure is the median and the minimum of ``--repeat``
calls in ms; the machine is shared, so the minimum is the steadier figure of what the work costs.

- in-between: ``flow.Interpolator.frame`` on the Big Buck Bunny pairs of ``bench/engine.py`` (large
  motion, and small motion, sampled through the 2x upsampling), its SIMD path (AVX2 where the CPU has it,
  and then again held to SSE4.1) and portable C path, against the same frame composed from OpenCV calls
  (two ``remap``s, the fade, the mix by the confidence map); and two in-betweens per call, as
  ``Interpolator.frames`` draws them (per frame);
- 2x upsampling of a keyframe (``upsample2``) against ``cv2.resize`` 2x cubic;
- zoom (image-to-video moves) against ``cv2.warpAffine`` of the same window;
- camera (first/last pans and zooms) against its OpenCV composition: two ``warpAffine``s, the edge
  weights in NumPy, ``cv2.blendLinear``;
- camera_flow (first/last camera moves with local motion on top: the ``pan_subject`` pair of
  ``bench/engine.py``), its SIMD path (AVX2 where the CPU has it, and then again held to SSE4.1) and
  portable C path, against the OpenCV composition the engine used
  before the kernel: sampling maps on the analysis grid (the path's homography, two ``remap``s of the
  residual flows, ``perspectiveTransform``), upsampled with ``resize``, the edge weights in NumPy, two
  ``remap``s of the keyframes, ``cv2.blendLinear``;
- per-pair analysis (``builtin.inbetweener``: camera stage and flow), with OpenCV's threads as the
  engine runs it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import keyframes, load
from framecast.engines import _kernels, camera
from framecast.engines.base import Frame
from framecast.engines.builtin import inbetweener
from framecast.engines.flow import Interpolator

_cv: Any = cv2
# The in-betweens' time: off the middle, so no share rounds to a tie.
T = 0.5 - 1 / 120
_INVERSE = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, minimum) of ``repeat`` calls, in ms, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), min(times)


def opencv_inbetween(it: Interpolator, t: float, a: Frame, b: Frame) -> Frame:
    """The in-between ``Interpolator.frame`` draws, composed from OpenCV calls (float maps, float blend)."""
    w, h = it.size
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid = np.dstack([gx, gy]) * np.float32(it.scale)
    ft0 = cv2.addWeighted(it.f01, -(1 - t) * t, it.f10, t * t, 0.0)
    ft1 = cv2.addWeighted(it.f01, (1 - t) * (1 - t), it.f10, -t * (1 - t), 0.0)
    src0, src1 = it.src0[: it.ymax + 1, : it.xmax + 1], it.src1[: it.ymax + 1, : it.xmax + 1]
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_REPLICATE
    w0 = _cv.remap(src0, grid + ft0, None, flags, borderMode=border)
    w1 = _cv.remap(src1, grid + ft1, None, flags, borderMode=border)
    warp = cv2.addWeighted(w0, 1 - t, w1, t, 0.0, dtype=cv2.CV_32F)
    if it.lam8 is None:
        return np.asarray(cv2.convertScaleAbs(warp), np.uint8)
    fade = cv2.addWeighted(a, 1 - t, b, t, 0.0, dtype=cv2.CV_32F)
    lam = cv2.cvtColor(it.lam8.astype(np.float32) / 255.0, cv2.COLOR_GRAY2RGB)
    return np.asarray(cv2.convertScaleAbs(fade + lam * (warp - fade)), np.uint8)


def _ramp(p: np.ndarray, n: int, feather: float) -> np.ndarray:
    d = np.minimum(p, (n - 1) - p)
    return np.asarray(np.clip(d / feather + 1.0 / feather, 0.0, 1.0), np.float32)


def opencv_camera(
    a: Frame, b: Frame, w0: tuple[float, float, float], w1: tuple[float, float, float], t: float
) -> Frame:
    """What ``_kernels.camera`` draws, composed from OpenCV calls and NumPy."""
    h, w = a.shape[:2]
    layers, weights = [], []
    for img, (x0, y0, step), share in ((a, w0, 1 - t), (b, w1, t)):
        m = np.array([[step, 0.0, x0], [0.0, step, y0]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        layers.append(cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE))
        rx = _ramp(x0 + np.arange(w, dtype=np.float32) * step, w, 6.0)
        ry = _ramp(y0 + np.arange(h, dtype=np.float32) * step, h, 6.0)
        weights.append(np.asarray((np.outer(ry, rx) + 1e-3) * share, np.float32))
    return np.asarray(cv2.blendLinear(layers[0], layers[1], weights[0], weights[1]), np.uint8)


def opencv_camera_flow(it: camera.CameraInterpolator, t: float, a: Frame, b: Frame) -> Frame:
    """What ``_kernels.camera_flow`` draws, composed from OpenCV calls and NumPy on maps computed on the
    analysis grid and upsampled (the engine's code before the kernel)."""
    assert it.residual is not None
    (w, h), (lw, lh) = it.size, it.low
    ht_inv = it.path.inverse_at(t)
    gx, gy = np.meshgrid(np.arange(lw, dtype=np.float32), np.arange(lh, dtype=np.float32))
    grid = np.dstack([gx, gy])
    q = cv2.perspectiveTransform(grid, ht_inv @ it.s)  # output pixel -> first keyframe, full-res pixels
    ql = cv2.perspectiveTransform(grid, np.linalg.inv(it.s) @ ht_inv @ it.s)
    f01, f10 = it.residual
    ft0 = cv2.addWeighted(f01, -(1 - t) * t, f10, t * t, 0.0)
    ft1 = cv2.addWeighted(f01, (1 - t) * (1 - t), f10, -t * (1 - t), 0.0)
    gain = np.array([it.s[0, 0], it.s[1, 1]], np.float32)
    d0 = _cv.remap(ft0, ql, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    d1 = _cv.remap(ft1, ql, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    x0 = np.asarray(q + d0 * gain, np.float32)
    x1 = cv2.perspectiveTransform(np.asarray(q + d1 * gain, np.float32), it.h_full)
    zoom0 = float(np.sqrt(abs(np.linalg.det(ht_inv[:2, :2]))))
    zoom1 = float(np.sqrt(abs(np.linalg.det(it.h_full[:2, :2])))) * zoom0
    layers, weights = [], []
    for img, x, share, z in ((a, x0, 1 - t, zoom0), (b, x1, t, zoom1)):
        weight = (_ramp(x[..., 0], w, 6.0 * z) * _ramp(x[..., 1], h, 6.0 * z) + 1e-3) * share
        weights.append(cv2.resize(np.asarray(weight, np.float32), (w, h), interpolation=cv2.INTER_LINEAR))
        pos = cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)
        layers.append(_cv.remap(img, pos, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return np.asarray(cv2.blendLinear(layers[0], layers[1], weights[0], weights[1]), np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    n = args.repeat
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    print(
        f"Per-frame cost at 1280x720, one core, ms: median / minimum of {n} calls. SIMD: {_kernels.simd()}."
    )
    print(f"Load average at the start: {load()}.\n")
    print("| work | kernel | portable C | OpenCV equivalent |")
    print("| --- | ---: | ---: | ---: |")

    def row(
        name: str, kernel: tuple[float, float], portable: tuple[float, float] | None, ref: tuple[float, float]
    ) -> None:
        port = f"{portable[0]:.1f} / {portable[1]:.1f}" if portable else "-"
        print(
            f"| {name} | {kernel[0]:.1f} / {kernel[1]:.1f} | {port} | {ref[0]:.1f} / {ref[1]:.1f} |",
            flush=True,
        )

    for pair in ("large", "small"):
        a, b = keyframes(1280, 720, pair)
        it = Interpolator(a, b)
        assert it.warp_any
        out, second = np.empty_like(a), np.empty_like(a)

        def kernel(
            portable: bool,
            it: Interpolator = it,
            out: Frame = out,
            avx2: bool = True,
            out2: Frame | None = None,
        ) -> None:
            _kernels.inbetween(
                out,
                it.src0,
                it.src1,
                it.fade0,
                it.fade1,
                it.f01,
                it.f10,
                it.lam8,
                T,
                it.scale,
                portable=portable,
                avx2=avx2,
                out2=out2,
                t2=1 - T,
            )

        row(
            f"in-between, {pair} pair ({'2x sources' if it.fine else '1x sources'})",
            timed(lambda k=kernel: k(False), n),
            timed(lambda k=kernel: k(True), max(3, n // 3)),
            opencv := timed(lambda it=it, a=a, b=b: opencv_inbetween(it, T, a, b), max(3, n // 3)),
        )
        # Two in-betweens per call (Interpolator.frames, as the engine draws them), per frame: the flows
        # and sources read once for both.
        median, least = timed(lambda k=kernel, o2=second: k(False, out2=o2), n)
        row(f"in-between, {pair} pair, two per call (per frame)", (median / 2, least / 2), None, opencv)
        if _kernels.simd() == "avx2":
            # The same call held to SSE4.1, in the same run: what the eight-wide path gains.
            row(
                f"in-between, {pair} pair, SSE4.1 only",
                timed(lambda k=kernel: k(False, avx2=False), n),
                None,
                opencv,
            )
    a, b = keyframes(1280, 720, "large")
    up = np.empty((1440, 2561, 3), np.uint8)
    row(
        "2x upsampling of a keyframe",
        timed(lambda: _kernels.upsample2(a, up), n),
        None,
        timed(lambda: cv2.resize(a, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), n),
    )
    out = np.empty_like(a)
    for name, (x0, y0, step) in (
        ("zoom, a 1.2x window", (100.3, 50.7, 1 / 1.2)),
        ("zoom, a pan", (100.3, 50.7, 1.0)),
    ):
        m = np.array([[step, 0.0, x0], [0.0, step, y0]])

        def affine(m: np.ndarray = m) -> object:
            return cv2.warpAffine(a, m, (1280, 720), flags=_INVERSE, borderMode=cv2.BORDER_REPLICATE)

        row(
            name,
            timed(lambda x0=x0, y0=y0, step=step: _kernels.zoom(a, out, x0, y0, step), n),
            None,
            timed(affine, n),
        )
    c0, c1 = keyframes(1280, 720, "pan")
    for name, w0, w1 in (
        ("camera, a 25% pan", (0.0, 0.0, 1.0), (-160.0, 0.0, 1.0)),
        ("camera, a 1.3x push in", (70.0, 40.0, 1 / 1.14), (-110.0, -60.0, 1.14)),
    ):

        def cam(w0: tuple[float, float, float] = w0, w1: tuple[float, float, float] = w1) -> None:
            _kernels.camera(out, c0, c1, w0, w1, 0.4, 6.0, 6.0 * w1[2])

        row(name, timed(cam, n), None, timed(lambda w0=w0, w1=w1: opencv_camera(c0, c1, w0, w1, 0.4), n))
    s0, s1 = keyframes(1280, 720, "pan_subject")
    motion = camera.estimate(s0, s1)
    assert motion is not None and not motion.dissolve
    cam_it = camera.CameraInterpolator(s0, s1, motion)
    assert cam_it.flow is not None
    m0 = cam_it.path.inverse_at(0.4)
    hm = cam_it.h_full / cam_it.h_full[2, 2]
    maps = (tuple(float(v) for v in (m0 / m0[2, 2]).ravel()), tuple(float(v) for v in hm.ravel()))
    zoom0 = float(np.sqrt(abs(np.linalg.det(m0[:2, :2]))))

    def cam_flow(portable: bool, avx2: bool = True) -> None:
        _kernels.camera_flow(
            out,
            cam_it.src0,
            cam_it.src1,
            cam_it.flow,
            *maps,
            0.4,
            6.0 * zoom0,
            6.0 * zoom0,
            portable=portable,
            avx2=avx2,
        )

    opencv = timed(lambda: opencv_camera_flow(cam_it, 0.4, s0, s1), max(3, n // 3))
    row(
        "camera_flow, a 25% pan with local motion",
        timed(lambda: cam_flow(False), n),
        timed(lambda: cam_flow(True), max(3, n // 3)),
        opencv,
    )
    if _kernels.simd() == "avx2":
        # The same call held to SSE4.1, in the same run: what the eight-wide path gains.
        row("camera_flow, the same, SSE4.1 only", timed(lambda: cam_flow(False, avx2=False), n), None, opencv)
    cv2.setNumThreads(threads)
    print(f"\nPer-pair analysis (builtin.inbetweener, OpenCV with {threads} threads), median of 3, s:\n")
    for pair in ("large", "small", "pan", "pan_subject"):
        a, b = keyframes(1280, 720, pair)
        times, kind = [], ""
        for _ in range(3):
            t0 = time.perf_counter()
            kind = type(inbetweener(a, b)).__name__
            times.append(time.perf_counter() - t0)
        print(f"- {pair}: {statistics.median(times):.3f} s ({kind})")


if __name__ == "__main__":
    main()
