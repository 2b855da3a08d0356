"""Camera motion: the global transform between two keyframes, its smooth path, and the warps.

Used by both kinds of job the builtin engine serves:

- first/last frame: :func:`estimate` finds the camera transform between the keyframes (ORB features,
  MAGSAC++ homography or similarity, refined by ECC on the background, then validated);
  :class:`CameraInterpolator` renders in-betweens that follow it on a constant-velocity path,
  ``H(t) = exp(t log H)``, with the local flow of the camera-compensated pair on top;
- image to video: the prompt's camera move is a window over the image, a 3x3 matrix per frame, drawn
  by :func:`warp` (the same sampling the first/last path uses).

Coordinates are pixel centres, ``x`` right, ``y`` down; a transform maps pixels of one frame to
pixels of another as a 3x3 matrix on homogeneous ``(x, y, 1)``.

Why a path in the Lie algebra, not element-wise interpolation of the matrix: ``exp(t log H)`` is the
one path whose speed is constant and which composes (``H(s) H(t) = H(s + t)``). For a zoom the scale
changes geometrically (``1.6 ** t``, not ``1 + 0.6 t``) about the zoom's fixed point, for a pan it is
the straight line, and for a rotating camera (``H = K R K^-1``) it is the rotation at constant
angular speed. Element-wise interpolation of ``H`` drifts off all three.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from framecast.engines import _kernels
from framecast.engines.base import Frame
from framecast.engines.flow import norm2, pad_for_kernel

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

# OpenCV's stubs reject None for optional arguments; call those through this alias.
_cv: Any = cv2

# Keyframes are analysed at this long side at most (as the local flow is, see flow.py).
ANALYSIS_LONG_SIDE = 640
# Below this share of either keyframe visible in the other, the pair is a dissolve: too little is
# shared for a move to be shown, and what enters would be most of the frame. See docs/engines.md.
MIN_OVERLAP = 0.25
# A transform is believed only with at least this many inlier matches, and this share of the matches.
MIN_INLIERS = 20
MIN_INLIER_SHARE = 0.15
# Plausible camera transforms: zoom between 1/3x and 3x, axis scales within 1.6x of each other,
# rotation up to 45 degrees, perspective that changes the scale by at most 50% across the frame.
MAX_ZOOM = 3.0
MAX_ANISOTROPY = 1.6
MAX_ROTATION_DEG = 45.0
MAX_PERSPECTIVE = 0.5
# The compensated keyframes must differ at most this share of what the raw ones differ (the camera
# explains the difference), judged on their overlap.
MAX_RESIDUAL_SHARE = 0.6
# Corner travel, as a share of the analysis frame's long side, below which the pair is left to the
# local flow alone: DIS follows such moves (it is measured to the sub-pixel there) and its C kernel
# is several times cheaper per frame than the camera path with local flow on top (at 720p the latter
# took a Big Buck Bunny pair with a 20 px drift from 1.3x to 4.7x the bare encode).
MIN_CAMERA_TRAVEL = 0.05
# Width of the soft edge (output pixels) over which a keyframe's share falls to zero where its view
# ends, so content entering the frame meets the shared content without a seam.
FEATHER = 6.0
# The similarity model is kept over the homography unless the homography has this many more inliers:
# four fewer degrees of freedom make the path and the extrapolation outside the matches steadier.
_HOMOGRAPHY_GAIN = 1.1
# An estimate this close to a pure pan or zoom (analysis pixels of departure, summed over the
# matrix's off-pan terms times the frame size) is drawn as one. Tried at 0.25 px: bench/camera.py's
# 50% pan (0.15 px of roll) gained 0.06 dB through the separable kernel, its 30% tilt lost 0.12 dB.
_SNAP_PX = 0.05
# RANSAC threshold in analysis pixels.
_RANSAC_PX = 2.0
# ECC refines the camera on the pixels the features' camera already explains to within this grey level
# (smoothed), when they are at least this share of the shared view; see _refine. At most this many
# iterations there (on background alone it converges in a few; the dev cases of bench/camera.py scored the
# same with 25 and 50), twice as many on the whole view.
_BACKGROUND_GREY = 8.0
_MIN_BACKGROUND_SHARE = 0.3
_ECC_ITERATIONS = 25
# Residual local motion (analysis pixels, 95th percentile over the overlap) below which the pair is a
# pure camera move and no local flow is applied.
_MIN_RESIDUAL = 0.75
# A residual flow vector is trusted fully where warping by it lowers the grey-level difference of the
# compensated pair by this much (smoothed over _EXPLAINED_SIGMA analysis pixels), whatever the
# consistency check says: see _flow_trust.
_EXPLAINED_GREY = 8.0
_EXPLAINED_SIGMA = 2.0


@dataclass(frozen=True)
class GlobalMotion:
    """The camera transform between two keyframes, ``matrix`` maps first-frame pixels to last-frame ones."""

    matrix: F64
    overlap: float  # share of the smaller of (first seen in last, last seen in first)
    inliers: int
    model: str  # "similarity" or "homography"

    @property
    def dissolve(self) -> bool:
        """Too little is shared between the keyframes to show the move: render a dissolve."""
        return self.overlap < MIN_OVERLAP


# --- matrix functions -----------------------------------------------------------------------------


def _sqrtm(m: F64) -> F64:
    """Principal square root (Denman-Beavers iteration); ``m`` has no eigenvalue on the negative axis."""
    y, z = m.copy(), np.eye(3)
    for _ in range(60):
        yi, zi = np.linalg.inv(y), np.linalg.inv(z)
        y, z = 0.5 * (y + zi), 0.5 * (z + yi)
        if np.abs(y @ y - m).max() < 1e-13 * max(1.0, float(np.abs(m).max())):
            break
    return np.asarray(y, np.float64)


def logm(m: F64) -> F64:
    """Principal matrix logarithm by inverse scaling and squaring (square roots until near I, then
    the series). Works for pure translations too, where an eigen-decomposition does not exist."""
    y = np.asarray(m, np.float64)
    k = 0
    while np.abs(y - np.eye(3)).max() > 0.1 and k < 40:
        y = _sqrtm(y)
        k += 1
    x = y - np.eye(3)
    term, out = np.eye(3), np.zeros((3, 3))
    for n in range(1, 30):
        term = term @ x
        out += ((-1) ** (n + 1)) * term / n
    return np.asarray(out * (2.0**k), np.float64)


def expm(a: F64) -> F64:
    """Matrix exponential by scaling and squaring of the Taylor series."""
    norm = float(np.abs(a).sum(axis=1).max())
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0.25 else 0
    x = np.asarray(a, np.float64) / (2.0**s)
    term, out = np.eye(3), np.eye(3)
    for n in range(1, 20):
        term = term @ x / n
        out = out + term
    for _ in range(s):
        out = out @ out
    return np.asarray(out, np.float64)


def normalised(h: F64) -> F64:
    """``h`` scaled to determinant 1 (the same projective transform; its logarithm is then traceless)."""
    det = float(np.linalg.det(h))
    return np.asarray(h / math.copysign(abs(det) ** (1.0 / 3.0), det), np.float64)


def apply(h: F64, pts: F64) -> F64:
    """``pts`` (..., 2) mapped by ``h``.

    Written out element-wise: a matrix product with a (n, 3) operand goes through BLAS, whose thread pool
    made this 100x slower (300 ms for a 640x360 grid) on a loaded 2-core machine.
    """
    x, y = pts[..., 0], pts[..., 1]
    den = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    out = np.empty(pts.shape, np.float64)
    np.divide(h[0, 0] * x + h[0, 1] * y + h[0, 2], den, out=out[..., 0])
    np.divide(h[1, 0] * x + h[1, 1] * y + h[1, 2], den, out=out[..., 1])
    return out


class CameraPath:
    """The constant-velocity path from the identity (t = 0) to ``matrix`` (t = 1): ``exp(t log H)``."""

    def __init__(self, matrix: F64) -> None:
        self.matrix = normalised(np.asarray(matrix, np.float64))
        self._log = logm(self.matrix)

    def at(self, t: float) -> F64:
        if t <= 0.0:
            return np.eye(3)
        if t >= 1.0:
            return self.matrix.copy()
        return expm(t * self._log)

    def inverse_at(self, t: float) -> F64:
        """Output pixel at time t -> first-keyframe pixel."""
        return np.asarray(np.linalg.inv(self.at(t)), np.float64)


def window_matrix(zoom: float, cx: float, cy: float, w: int, h: int) -> F64:
    """The output-to-source map of a window ``w/zoom x h/zoom`` centred on (cx, cy) shown at ``w x h``."""
    s = 1.0 / zoom
    return np.array([[s, 0.0, cx - (w - 1) / 2 * s], [0.0, s, cy - (h - 1) / 2 * s], [0.0, 0.0, 1.0]])


def _axis_aligned(m: F64) -> bool:
    """An isotropic scale and a shift only (what the separable zoom kernel draws)."""
    m = m / m[2, 2]
    return bool(
        abs(m[0, 1]) < 1e-9
        and abs(m[1, 0]) < 1e-9
        and abs(m[2, 0]) < 1e-12
        and abs(m[2, 1]) < 1e-12
        and abs(m[0, 0] - m[1, 1]) < 1e-9 * abs(m[0, 0])
        and m[0, 0] > 0
    )


def warp(frame: Frame, out_to_src: F64) -> Frame:
    """``frame`` sampled (bilinear, clamped to its edge) at ``out_to_src`` of each output pixel.

    Pans, tilts and zooms (axis-aligned windows) take the separable C kernel, about half the cost of
    ``warpPerspective``; anything else (rotation, perspective) takes OpenCV.
    """
    h, w = frame.shape[:2]
    m = out_to_src / out_to_src[2, 2]
    if _axis_aligned(m):
        out: Frame = np.empty_like(frame)
        _kernels.zoom(np.ascontiguousarray(frame), out, float(m[0, 2]), float(m[1, 2]), float(m[0, 0]))
        return out
    res = _cv.warpPerspective(
        frame, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(res, np.uint8)


# --- estimation -----------------------------------------------------------------------------------


def _grey(img: Frame, size: tuple[int, int]) -> U8:
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if (g.shape[1], g.shape[0]) != size:
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    return np.asarray(g, np.uint8)


def _scale_matrix(sx: float, sy: float) -> F64:
    """Analysis pixel -> full-resolution pixel (pixel centres)."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def _overlap(h: F64, w: int, hh: int) -> float:
    """Share of the first frame seen in the last, or of the last seen in the first, the smaller."""
    xs, ys = np.meshgrid(np.linspace(0, w - 1, 32), np.linspace(0, hh - 1, 32))
    pts = np.c_[xs.ravel(), ys.ravel()]
    shares = []
    for m in (h, np.asarray(np.linalg.inv(h), np.float64)):
        q = apply(m, pts)
        inside = (q[:, 0] >= 0) & (q[:, 0] <= w - 1) & (q[:, 1] >= 0) & (q[:, 1] <= hh - 1)
        shares.append(float(inside.mean()))
    return min(shares)


def plausible(h: F64, w: int, hh: int) -> bool:
    """A transform a camera can make between two frames of one shot (see the limits above)."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return False
    m = h / h[2, 2]
    a = m[:2, :2]
    det = float(np.linalg.det(a))
    if det <= 0:
        return False
    sv = np.linalg.svd(a, compute_uv=False)
    if sv[0] / sv[1] > MAX_ANISOTROPY or not (1 / MAX_ZOOM <= math.sqrt(det) <= MAX_ZOOM):
        return False
    if abs(math.degrees(math.atan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1]))) > MAX_ROTATION_DEG:
        return False
    # The projective denominator over the frame's corners: how much the scale varies across the frame.
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, hh - 1, 1], [w - 1, hh - 1, 1]], np.float64)
    den = corners @ m[2]
    return bool(den.min() > 0) and bool(den.max() / den.min() <= 1 + MAX_PERSPECTIVE)


def _compensated_error(g0: U8, g1: U8, h: F64) -> tuple[float, float]:
    """Mean absolute grey difference over the overlap: with ``h`` applied, and without."""
    lh, lw = g0.shape
    warped = _cv.warpPerspective(g1, h, (lw, lh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    mask = _cv.warpPerspective(
        np.full_like(g1, 255), h, (lw, lh), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    inside = np.asarray(cv2.erode(mask, np.ones((5, 5), np.uint8)), np.uint8) > 0
    if inside.sum() < 64:
        return math.inf, 0.0
    a = g0.astype(np.float32)
    err = float(np.abs(a - warped.astype(np.float32))[inside].mean())
    raw = float(np.abs(a - g1.astype(np.float32)).mean())
    return err, raw


def _background(g0: U8, g1: U8, h: F64) -> U8 | None:
    """The pixels of ``g1`` that ``h`` already explains (the first keyframe warped by it differs by under
    _BACKGROUND_GREY there, smoothed): 255 there, 0 elsewhere; None when they are under
    _MIN_BACKGROUND_SHARE of the shared view (no clear background to refine on)."""
    lh, lw = g0.shape
    warped = _cv.warpPerspective(g0, h, (lw, lh), flags=cv2.INTER_LINEAR)
    seen = _cv.warpPerspective(np.full_like(g0, 255), h, (lw, lh), flags=cv2.INTER_NEAREST)
    seen = np.asarray(cv2.erode(seen, np.ones((5, 5), np.uint8)), np.uint8) > 0
    diff = cv2.GaussianBlur(np.abs(g1.astype(np.float32) - warped.astype(np.float32)), (0, 0), 2.0)
    explained = (seen & (diff < _BACKGROUND_GREY)).astype(np.uint8) * 255
    explained = np.asarray(cv2.erode(explained, np.ones((5, 5), np.uint8)), np.uint8)
    if int(np.count_nonzero(explained)) < _MIN_BACKGROUND_SHARE * int(np.count_nonzero(seen)):
        return None
    return explained


def _refine(g0: U8, g1: U8, h: F64, model: str, mask: U8 | None) -> F64:
    """ECC refinement of ``h`` (first -> last, analysis pixels) on the pixels of ``g1`` in ``mask`` (all
    of them when None); ``h`` unchanged when ECC fails.

    Why a mask: where a subject moves, ECC's alignment follows it and the camera drifts (on
    ``bench/engine.py``'s ``pan_subject`` pair it drifted with the bunny, ran all its iterations and was
    thrown away by the residual check). Held to the background the features' camera explains
    (:func:`_background`) it converges in a few iterations and refines the camera itself."""
    iterations = _ECC_ITERATIONS if mask is not None else 2 * _ECC_ITERATIONS
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-5)
    motion = cv2.MOTION_HOMOGRAPHY if model == "homography" else cv2.MOTION_AFFINE
    init = (h / h[2, 2]).astype(np.float32)
    if motion == cv2.MOTION_AFFINE:
        init = np.ascontiguousarray(init[:2])
    try:
        # ECC finds W with g1(W x) ~ g0(x): W maps first-frame pixels to last-frame ones, like h. The mask
        # is in g1's pixels (ECC warps it with the image).
        _, out = _cv.findTransformECC(g0, g1, init, motion, criteria, mask, 3)
    except cv2.error:
        return h
    res = np.eye(3)
    res[: out.shape[0]] = out
    return res


def _match(g0: U8, g1: U8, features: str) -> tuple[F64, F64] | None:
    """Matched keypoint positions (first, last) passing Lowe's ratio test, or None when too few."""
    if features == "orb":
        det: Any = _cv.ORB_create(nfeatures=3000, fastThreshold=10, edgeThreshold=15, patchSize=15)
        norm = cv2.NORM_HAMMING
    else:
        det = _cv.SIFT_create(nfeatures=3000)
        norm = cv2.NORM_L2
    k0, d0 = det.detectAndCompute(g0, None)
    k1, d1 = det.detectAndCompute(g1, None)
    if d0 is None or d1 is None or len(k0) < MIN_INLIERS or len(k1) < MIN_INLIERS:
        return None
    good = [
        m[0]
        for m in cv2.BFMatcher(norm).knnMatch(d0, d1, k=2)
        if len(m) == 2 and m[0].distance < 0.8 * m[1].distance
    ]
    if len(good) < MIN_INLIERS:
        return None
    src = np.array([k0[m.queryIdx].pt for m in good], np.float64)
    dst = np.array([k1[m.trainIdx].pt for m in good], np.float64)
    return src, dst


def _fit(g0: U8, g1: U8, src: F64, dst: F64) -> tuple[F64, int, str] | None:
    """The robust fit of matched points: (matrix, inliers, model), or None when it is not believable."""
    lh, lw = g0.shape
    hom, hmask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, _RANSAC_PX, maxIters=2000, confidence=0.999)
    sim, smask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=_RANSAC_PX, maxIters=2000, confidence=0.999
    )
    candidates: list[tuple[int, str, F64]] = []
    if sim is not None and smask is not None:
        candidates.append((int(smask.sum()), "similarity", np.vstack([sim, [0.0, 0.0, 1.0]])))
    if hom is not None and hmask is not None:
        candidates.append((int(hmask.sum()), "homography", np.asarray(hom, np.float64)))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0], reverse=True)
    n_in, model, mat = candidates[0]
    if model == "homography" and len(candidates) > 1 and n_in < _HOMOGRAPHY_GAIN * candidates[1][0]:
        n_in, model, mat = candidates[1]
    if n_in < MIN_INLIERS or n_in < MIN_INLIER_SHARE * len(src) or not plausible(mat, lw, lh):
        return None

    return mat, n_in, model


def estimate(first: Frame, last: Frame) -> GlobalMotion | None:
    """The camera transform from ``first`` to ``last``, or None when there is no believable one (too
    few matches, an implausible transform, a residual the camera does not explain) or the camera is
    still. The result may still be a :attr:`GlobalMotion.dissolve` (too little overlap)."""
    h, w = first.shape[:2]
    scale = min(1.0, ANALYSIS_LONG_SIDE / max(w, h))
    lw, lh = max(16, round(w * scale)), max(16, round(h * scale))
    g0, g1 = _grey(first, (lw, lh)), _grey(last, (lw, lh))
    # ORB first (fast); SIFT when ORB finds too little to go on (soft, blurred or low-texture frames).
    for features in ("orb", "sift"):
        matched = _match(g0, g1, features)
        if matched is None:
            continue
        found = _fit(g0, g1, *matched)
        if found is not None:
            mat, n_in, model = found
            break
    else:
        return None
    travel = float(np.abs(apply(mat, _corners(lw, lh)) - _corners(lw, lh)).max())
    if travel < MIN_CAMERA_TRAVEL * max(lw, lh):
        return None
    overlap = _overlap(mat, lw, lh)
    if overlap >= MIN_OVERLAP:
        # ECC on the background first (see _refine); on the whole shared view when that does not lower
        # the compensated pair's difference (or there is no clear background).
        err, raw = _compensated_error(g0, g1, mat)
        background = _background(g0, g1, mat)
        for mask in ([background] if background is not None else []) + [None]:
            refined = _refine(g0, g1, mat, model, mask)
            if plausible(refined, lw, lh):
                refined_err, refined_raw = _compensated_error(g0, g1, refined)
                if refined_err <= err:
                    mat, err, raw = refined, refined_err, refined_raw
                    break
        if not err <= MAX_RESIDUAL_SHARE * raw:
            return None
        overlap = _overlap(mat, lw, lh)
    mat = _snap_axis_aligned(mat, max(lw, lh))
    s = _scale_matrix(w / lw, h / lh)
    full = s @ mat @ np.linalg.inv(s)
    return GlobalMotion(matrix=full / full[2, 2], overlap=overlap, inliers=n_in, model=model)


def _snap_axis_aligned(m: F64, size: int) -> F64:
    """``m`` as an exact pan/zoom when it differs from one by under _SNAP_PX across the frame: ECC's
    affine refinement and the feature fit leave a trace of shear or roll on pure pans, and the exact
    form takes the separable ``camera`` kernel (half the cost of ``camera_flow``, positions in 1/256
    px where camera_flow has 1/64)."""
    m = m / m[2, 2]
    s = 0.5 * (m[0, 0] + m[1, 1])
    off = abs(m[0, 1]) + abs(m[1, 0]) + abs(m[0, 0] - s) + abs(m[1, 1] - s)
    if off * size < _SNAP_PX and abs(m[2, 0]) * size < 1e-4 and abs(m[2, 1]) * size < 1e-4:
        return np.array([[s, 0.0, m[0, 2]], [0.0, s, m[1, 2]], [0.0, 0.0, 1.0]])
    return m


def _corners(w: int, h: int) -> F64:
    return np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)


def _remap_replicate(src: F32, pos: F32) -> F32:
    return np.asarray(
        _cv.remap(src, pos, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), np.float32
    )


def _remap_zero(src: F32, pos: F32) -> F32:
    return np.asarray(
        _cv.remap(src, pos, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0),
        np.float32,
    )


def _flow_trust(fab: F32, fba: F32, ga: U8, gb: U8, grid: F32) -> F32:
    """Per-pixel trust in the residual flow ``fab`` (from view a to view b), in [0, 1].

    Trusted where the flow the other way agrees (forward/backward consistency), or where warping
    ``gb`` by it explains ``ga`` clearly better than no motion does. The second reason matters for a
    subject that moves far inside a moving frame: DIS often follows it one way and not the other (the
    subject's trail is occluded in one direction only), and the consistency check alone then throws
    the motion away (0.3 dB on bench/camera.py's Big Buck Bunny subject case)."""
    pos = grid + fab
    back = _remap_replicate(fba, pos)
    err2 = norm2(fab + back)
    tol2 = 0.01 * (norm2(fab) + norm2(back)) + 0.5
    consistent = np.exp(-err2 / (2.0 * tol2)).astype(np.float32)
    a, b = ga.astype(np.float32), gb.astype(np.float32)
    moved = cv2.GaussianBlur(np.abs(a - _remap_replicate(b, pos)), (0, 0), _EXPLAINED_SIGMA)
    still = cv2.GaussianBlur(np.abs(a - b), (0, 0), _EXPLAINED_SIGMA)
    explained = np.clip((still - moved) / _EXPLAINED_GREY, 0.0, 1.0)
    return np.asarray(np.maximum(consistent, explained), np.float32)


# --- rendering ------------------------------------------------------------------------------------


class CameraInterpolator:
    """In-betweens of a keyframe pair related by a camera move: each keyframe is warped along the
    camera's path to time t and the two are blended ``(1 - t, t)`` where both see the point; where
    only one does (content entering or leaving the frame), that one alone is used, with a soft edge.

    Local motion inside the moving frame (a subject walking while the camera pans) is the dense flow of
    the camera-compensated pair, added on top of the camera's sampling positions. Per frame it is one
    pass of a C kernel: ``camera`` for pans, tilts and zooms without local motion (separable windows),
    ``camera_flow`` for everything else (the path's homography composed with the flow per pixel).
    :meth:`frame` has the same contract as :meth:`framecast.engines.flow.Interpolator.frame`.
    """

    def __init__(self, first: Frame, last: Frame, motion: GlobalMotion) -> None:
        self.h_full = motion.matrix
        self.path = CameraPath(motion.matrix)
        h, w = first.shape[:2]
        self.size = (w, h)
        scale = min(1.0, ANALYSIS_LONG_SIDE / max(w, h))
        self.low = (max(16, round(w * scale)), max(16, round(h * scale)))
        lw, lh = self.low
        self.s = _scale_matrix(w / lw, h / lh)
        self.residual = self._residual_flow(first, last)
        self.flow = self._full_flow()
        # The keyframes as camera_flow reads them (2x2 neighbourhoods, 8 bytes wide).
        self.src0, self.src1 = pad_for_kernel(first), pad_for_kernel(last)

    def _residual_flow(self, first: Frame, last: Frame) -> tuple[F32, F32] | None:
        """DIS flow between the first keyframe and the last warped into the first's view (analysis
        scale, both directions), weighted by its forward/backward consistency; None when it is
        negligible (a pure camera move)."""
        lw, lh = self.low
        g0 = _grey(first, self.low)
        g1 = _grey(last, self.low)
        s_inv = np.linalg.inv(self.s)
        h_low = s_inv @ self.h_full @ self.s
        g1c = np.asarray(
            _cv.warpPerspective(
                g1,
                h_low,
                (lw, lh),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            ),
            np.uint8,
        )
        mask = _cv.warpPerspective(
            np.full_like(g1, 255), h_low, (lw, lh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )
        inside = np.asarray(mask, np.float32) / 255.0
        # Flow beyond the shared view is meaningless (the warped keyframe is edge pixels there).
        inside = np.asarray(cv2.erode(inside, np.ones((9, 9), np.uint8)), np.float32)
        if float(inside.mean()) < 0.05:
            return None
        dis = _cv.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        f01 = np.asarray(dis.calc(g0, g1c, None), np.float32)
        f10 = np.asarray(dis.calc(g1c, g0, None), np.float32)
        mag = np.hypot(f01[..., 0], f01[..., 1])[inside > 0.5]
        if mag.size == 0 or float(np.percentile(mag, 95)) < _MIN_RESIDUAL:
            return None
        gx, gy = np.meshgrid(np.arange(lw, dtype=np.float32), np.arange(lh, dtype=np.float32))
        grid = np.dstack([gx, gy])
        # f10 starts in the last keyframe's view (``inside``) and ends in the first, which sees all of
        # this frame. f01 is also trusted where it starts outside that view and ends inside it: a
        # subject leaving the strip only the first keyframe sees for the shared view keeps its motion.
        # (Trusting f01 only by where it ends, which drops the vectors that leave the shared view, cost
        # the Big Buck Bunny subject case of bench/camera.py 0.32 dB.)
        ends_inside = _remap_zero(inside, grid + f01)
        t01 = _flow_trust(f01, f10, g0, g1c, grid) * np.maximum(inside, ends_inside)
        t10 = _flow_trust(f10, f01, g1c, g0, grid) * inside
        t01 = np.asarray(cv2.GaussianBlur(t01, (0, 0), 2.0), np.float32)
        t10 = np.asarray(cv2.GaussianBlur(t10, (0, 0), 2.0), np.float32)
        u, v = f01 * t01[..., None], f10 * t10[..., None]
        # Outside the last keyframe's view f10 does not exist, and the in-between's sample positions
        # (linear motion, flow.py) would read it as "no motion": f01 alone then moves a point by
        # (1 - t) of its way. There the linear-motion estimate of f10, -f01, stands in for it.
        beyond = 1.0 - np.asarray(cv2.GaussianBlur(inside, (0, 0), 2.0), np.float32)
        return u, np.asarray(v - u * beyond[..., None], np.float32)

    def _full_flow(self) -> F32 | None:
        """The residual flows at full resolution in full-resolution pixels, (h, w, 4): f01 then f10."""
        if self.residual is None:
            return None
        f01, f10 = self.residual
        gain = np.array([self.s[0, 0], self.s[1, 1]] * 2, np.float32)
        both = np.ascontiguousarray(np.dstack([f01, f10]) * gain)
        if self.low != self.size:
            both = cv2.resize(both, self.size, interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(both, np.float32)

    def frames(self, ts: Sequence[float], first: Frame, last: Frame) -> list[Frame]:
        """:meth:`frame` at each of ``ts`` (the camera kernels draw one frame per call)."""
        return [self.frame(t, first, last) for t in ts]

    def frame(self, t: float, first: Frame, last: Frame) -> Frame:
        """The in-between at ``t`` in (0, 1); a copy of the keyframe at ``t <= 0`` or ``t >= 1``."""
        if t <= 0.0 or t >= 1.0:
            return (first if t <= 0.0 else last).copy()
        ht_inv = self.path.inverse_at(t)
        # How far inside each keyframe's view the point lies, in that keyframe's pixels; the feather is
        # in output pixels, so it is scaled to each keyframe's pixels by the path's zoom.
        zoom0 = math.sqrt(abs(np.linalg.det(ht_inv[:2, :2])))
        zoom1 = math.sqrt(abs(np.linalg.det(self.h_full[:2, :2]))) * zoom0
        m0, m1 = ht_inv / ht_inv[2, 2], self.h_full @ ht_inv
        m1 = m1 / m1[2, 2]
        out: Frame = np.empty_like(first)
        if self.flow is None and _axis_aligned(m0) and _axis_aligned(m1):
            # Pans, tilts and zooms: both windows, the soft edges and the blend in one separable pass.
            _kernels.camera(
                out,
                np.ascontiguousarray(first),
                np.ascontiguousarray(last),
                (float(m0[0, 2]), float(m0[1, 2]), float(m0[0, 0])),
                (float(m1[0, 2]), float(m1[1, 2]), float(m1[0, 0])),
                t,
                FEATHER * zoom0,
                FEATHER * zoom1,
            )
            return out
        h = self.h_full / self.h_full[2, 2]
        _kernels.camera_flow(
            out,
            self.src0,
            self.src1,
            self.flow,
            tuple(float(v) for v in m0.ravel()),
            tuple(float(v) for v in h.ravel()),
            t,
            FEATHER * zoom0,
            FEATHER * zoom1,
        )
        return out
