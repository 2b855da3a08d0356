"""Camera moves between keyframes: synthetic pans, tilts and zooms of a small real frame (tests/data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from framecast.domain import TaskKind
from framecast.engines import camera
from framecast.engines.base import Frame, GenerationJob
from framecast.engines.builtin import BuiltinEngine

DATA = Path(__file__).resolve().parents[1] / "data"
OUT_W, OUT_H = 160, 90


def scene() -> Frame:
    """The bikes frame at twice its stored size, so 160x90 windows have room to move."""
    img = cv2.imread(str(DATA / "bikes_110.jpg"), cv2.IMREAD_COLOR)
    assert img is not None
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))


def window(src: Frame, cx: float, cy: float, width: float) -> Frame:
    m = camera.window_matrix(OUT_W / width, cx, cy, OUT_W, OUT_H)
    out = cv2.warpPerspective(src, m, (OUT_W, OUT_H), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    return np.ascontiguousarray(out)


def middle(first: Frame, last: Frame) -> Frame:
    job = GenerationJob(
        kind=TaskKind.FIRST_LAST,
        width=first.shape[1],
        height=first.shape[0],
        num_frames=3,
        fps=24,
        seed=1,
        first=first,
        last=last,
    )
    return list(BuiltinEngine().generate(job, lambda: False))[1]


def mean_abs(a: Frame, b: Frame) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


# (start window, end window, true middle window): centre x, centre y, width in scene pixels. The
# middle of a zoom is the geometric mean of the widths: the camera's scale changes geometrically.
MOVES = {
    "pan right 30%": ((260, 136, 200), (320, 136, 200), (290, 136, 200)),
    "pan left 45%": ((380, 136, 200), (290, 136, 200), (335, 136, 200)),
    "tilt down": ((320, 100, 200), (320, 160, 200), (320, 130, 200)),
    "diagonal": ((280, 110, 220), (330, 150, 220), (305, 130, 220)),
    "push in 1.5x": ((320, 136, 240), (320, 136, 160), (320, 136, (240 * 160) ** 0.5)),
    "pull out 1.4x": ((300, 140, 170), (300, 140, 238), (300, 140, (170 * 238) ** 0.5)),
}


@pytest.mark.parametrize("move", list(MOVES))
def test_camera_move_middle_frame_is_the_true_window(move: str) -> None:
    src = scene()
    start, end, mid = MOVES[move]
    first, last, truth = window(src, *start), window(src, *end), window(src, *mid)
    out = middle(first, last)
    fade = cv2.addWeighted(first, 0.5, last, 0.5, 0.0)
    # Within a few grey levels of the true view, where the cross-fade is tens of levels off.
    assert mean_abs(out, truth) < 3.0, move
    assert mean_abs(fade, truth) > 4 * mean_abs(out, truth)


def test_entering_content_comes_from_the_keyframe_that_shows_it() -> None:
    src = scene()
    first, last = window(src, 260, 136, 200), window(src, 340, 136, 200)
    truth = window(src, 300, 136, 200)
    out = middle(first, last)
    # The right quarter of the middle view is only in the last keyframe: it must be that content, not
    # black, not a stretched edge.
    right = (slice(None), slice(OUT_W - 20, None))
    assert mean_abs(out[right], truth[right]) < 3.0
    assert out[right].min() > 0 or truth[right].min() == 0


def test_unrelated_images_still_dissolve() -> None:
    rng = np.random.default_rng(5)
    a = window(scene(), 300, 136, 200)
    noise = rng.integers(0, 256, (OUT_H // 6, OUT_W // 6, 3), dtype=np.uint8)
    b = np.ascontiguousarray(cv2.resize(noise, (OUT_W, OUT_H), interpolation=cv2.INTER_CUBIC))
    assert camera.estimate(a, b) is None
    out = middle(a, b)
    fade = cv2.addWeighted(a, 0.5, b, 0.5, 0.0)
    assert mean_abs(out, fade) < 1.0


def test_pan_beyond_the_overlap_limit_dissolves() -> None:
    src = scene()
    # 85% of the width: only 15% of either view is in the other, under the documented 25% line.
    first, last = window(src, 220, 136, 200), window(src, 390, 136, 200)
    out = middle(first, last)
    fade = cv2.addWeighted(first, 0.5, last, 0.5, 0.0)
    assert mean_abs(out, fade) < 1.0


@pytest.mark.parametrize(
    "matrix",
    [
        np.eye(3),
        np.array([[1.0, 0.0, 1e-9], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        np.array([[3.0, 0.0, -10.0], [0.0, 3.0, 5.0], [0.0, 0.0, 1.0]]),
        np.array([[1 / 3, 0.0, 100.0], [0.0, 1 / 3, 50.0], [0.0, 0.0, 1.0]]),
        np.array([[0.7071, -0.7071, 40.0], [0.7071, 0.7071, -20.0], [0.0, 0.0, 1.0]]),
        np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0015, 0.001, 1.0]]),
        np.array([[1.0, 0.0, -159.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    ],
    ids=["identity", "tiny", "zoom 3x", "zoom 1/3x", "rotate 45", "perspective", "pan to the edge"],
)
def test_transforms_at_the_validity_limits_give_finite_frames(matrix: np.ndarray) -> None:
    src = scene()
    first, last = window(src, 300, 136, 200), window(src, 320, 136, 200)
    path = camera.CameraPath(matrix)
    for t in (0.0, 0.25, 0.5, 1.0):
        assert np.all(np.isfinite(path.at(t)))
    assert np.allclose(path.at(1.0) / path.at(1.0)[2, 2], matrix / matrix[2, 2], atol=1e-6)
    motion = camera.GlobalMotion(matrix=matrix, overlap=1.0, inliers=100, model="homography")
    interp = camera.CameraInterpolator(first, last, motion)
    for t in (0.1, 0.5, 0.9):
        out = interp.frame(t, first, last)
        assert out.dtype == np.uint8 and out.shape == first.shape


def test_zoom_path_is_geometric() -> None:
    zoom = np.array([[2.0, 0.0, -50.0], [0.0, 2.0, -30.0], [0.0, 0.0, 1.0]])
    half = camera.CameraPath(zoom).at(0.5)
    half = half / half[2, 2]
    assert half[0, 0] == pytest.approx(2**0.5, rel=1e-6)
    # Half the path twice is the whole path.
    assert np.allclose(half @ half, zoom, atol=1e-6)


def _ramp(p: np.ndarray, n: int, feather: float) -> np.ndarray:
    d = np.minimum(p, (n - 1) - p)
    return np.clip(d / feather + 1.0 / feather, 0.0, 1.0)


def _window_reference(
    img: Frame, x0: float, y0: float, step: float, feather: float
) -> tuple[np.ndarray, np.ndarray]:
    """Float64 bilinear sampling of an axis-aligned window (clamped to the frame) and its edge weight."""
    h, w = img.shape[:2]
    px, py = x0 + np.arange(w) * step, y0 + np.arange(h) * step
    cx, cy = np.clip(px, 0, w - 1), np.clip(py, 0, h - 1)
    xi, yi = np.floor(cx).astype(int), np.floor(cy).astype(int)
    fx, fy = (cx - xi)[None, :, None], (cy - yi)[:, None, None]
    xj, yj = np.minimum(xi + 1, w - 1), np.minimum(yi + 1, h - 1)
    s = img.astype(np.float64)
    top = s[yi][:, xi] * (1 - fx) + s[yi][:, xj] * fx
    bot = s[yj][:, xi] * (1 - fx) + s[yj][:, xj] * fx
    edge = _ramp(py, h, feather)[:, None] * _ramp(px, w, feather)[None, :]
    return top * (1 - fy) + bot * fy, edge


@pytest.mark.parametrize(
    ("window0", "window1"),
    [
        ((0.0, 0.0, 1.0), (-37.3, 0.0, 1.0)),  # pan: the last keyframe's view ends inside the frame
        ((12.25, -8.5, 1.0), (-20.75, 16.0, 1.0)),  # diagonal
        ((15.0, 9.0, 0.8), (-22.0, -13.0, 1.25)),  # zoom in and out around the middle
    ],
    ids=["pan", "diagonal", "zoom"],
)
def test_camera_kernel_matches_float_reference(
    window0: tuple[float, float, float], window1: tuple[float, float, float]
) -> None:
    from framecast.engines import _kernels

    first = window(scene(), 300, 136, 200)
    last = window(scene(), 320, 140, 200)
    for t in (0.2, 0.5, 0.8):
        out = np.empty_like(first)
        _kernels.camera(out, first, last, window0, window1, t, 6.0, 7.5)
        a, e0 = _window_reference(first, *window0, 6.0)
        b, e1 = _window_reference(last, *window1, 7.5)
        w0, w1 = (1 - t) * (e0 + 1e-3), t * (e1 + 1e-3)
        ref = (a * w0[..., None] + b * w1[..., None]) / (w0 + w1)[..., None]
        diff = np.abs(out.astype(np.float64) - ref)
        # Positions and shares in 1/256, one rounding at the end: within a grey level or so.
        assert float(diff.max()) <= 1.5 and float(diff.mean()) < 0.3, (t, float(diff.max()))


def test_camera_kernel_checks_its_buffers() -> None:
    from framecast.engines import _kernels

    img = np.zeros((10, 12, 3), np.uint8)
    ok = (0.0, 0.0, 1.0)
    for args in [
        (np.empty((9, 12, 3), np.uint8), img, img, ok, ok, 0.5, 6.0, 6.0),
        (np.empty_like(img), img, img[:, :, :1].copy(), ok, ok, 0.5, 6.0, 6.0),
        (np.empty_like(img), img, img, (float("inf"), 0.0, 1.0), ok, 0.5, 6.0, 6.0),
        (np.empty_like(img), img, img, ok, ok, 1.5, 6.0, 6.0),
        (np.empty_like(img), img, img, ok, ok, 0.5, 0.0, 6.0),
    ]:
        with pytest.raises(ValueError):
            _kernels.camera(*args)
    out = np.empty_like(img)
    _kernels.camera(out, img + 3, img + 9, (-1e9, 1e9, 3.0), (1e9, -1e9, 0.5), 0.5, 6.0, 6.0)
    assert np.all((out >= 3) & (out <= 9))  # far outside both views: clamped edges, blended


@pytest.mark.parametrize(
    "matrix",
    [
        np.array([[1.0, 0.0, -37.25], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        np.array([[1.25, 0.0, -20.0], [0.0, 1.25, -11.0], [0.0, 0.0, 1.0]]),
    ],
    ids=["pan", "push in"],
)
def test_camera_kernel_path_draws_what_the_general_path_draws(
    matrix: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = scene()
    first, last = window(src, 300, 136, 200), window(src, 320, 136, 200)
    motion = camera.GlobalMotion(matrix=matrix, overlap=0.8, inliers=100, model="similarity")
    interp = camera.CameraInterpolator(first, last, motion)
    interp.residual = None
    fast = [interp.frame(t, first, last) for t in (0.25, 0.5, 0.75)]
    # The same frames through positions and weights on the grid, OpenCV's warps and blendLinear.
    monkeypatch.setattr(camera, "_axis_aligned", lambda m: False)
    general = [interp.frame(t, first, last) for t in (0.25, 0.5, 0.75)]
    for a, b in zip(fast, general, strict=True):
        diff = np.abs(a.astype(int) - b.astype(int))
        # The same arithmetic but for the edge weights, exact here and interpolated from the grid there.
        assert int(diff.max()) <= 1 and float(diff.mean()) < 0.1, (int(diff.max()), float(diff.mean()))
