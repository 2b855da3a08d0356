"""The built-in engine on small real frames (see tests/data/README.md) and synthetic scenes."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from framecast.domain import MovementAmplitude, TaskKind
from framecast.engines.base import Engine, EngineCancelled, Frame, GenerationJob
from framecast.engines.builtin import BuiltinEngine, CameraMove, inbetweener, parse_camera_move
from framecast.engines.flow import Interpolator
from framecast.media.render import render_outputs
from framecast.prompts.base import ExpandRequest
from framecast.prompts.motion import MotionExpander

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> Frame:
    img = cv2.imread(str(DATA / name), cv2.IMREAD_COLOR)
    assert img is not None, name
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def psnr(a: Frame, b: Frame) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def make_job(first: Frame, last: Frame | None = None, **kw: object) -> GenerationJob:
    h, w = first.shape[:2]
    kind = TaskKind.FIRST_LAST if last is not None else TaskKind.IMAGE
    defaults: dict[str, object] = {"num_frames": 9, "fps": 24, "seed": 7}
    defaults.update(kw)
    return GenerationJob(kind=kind, width=w, height=h, first=first, last=last, **defaults)  # type: ignore[arg-type]


def run(job: GenerationJob) -> list[Frame]:
    return list(BuiltinEngine().generate(job, lambda: False))


@pytest.fixture(scope="module")
def bbb() -> tuple[Frame, Frame, Frame]:
    return load("bbb_040.jpg"), load("bbb_042.jpg"), load("bbb_044.jpg")


@pytest.fixture(scope="module")
def bikes() -> tuple[Frame, Frame, Frame]:
    return load("bikes_110.jpg"), load("bikes_112.jpg"), load("bikes_114.jpg")


def textured(h: int = 144, w: int = 256, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(cv2.GaussianBlur(img, (0, 0), 1.0))


def test_satisfies_protocol_and_capabilities() -> None:
    engine = BuiltinEngine()
    assert isinstance(engine, Engine)
    assert engine.name == "builtin"
    assert engine.capabilities().kinds == frozenset({TaskKind.FIRST_LAST, TaskKind.IMAGE})


def test_first_last_frames_exact_count_and_types(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, b = bbb
    frames = run(make_job(a, b, num_frames=13))
    assert len(frames) == 13
    for f in frames:
        assert f.dtype == np.uint8 and f.shape == a.shape
    assert np.array_equal(frames[0], a)
    assert np.array_equal(frames[-1], b)


def test_keyframes_survive_encoding(tmp_path: Path, bikes: tuple[Frame, Frame, Frame]) -> None:
    import av

    # Back to the clip's own 640x272: at thumbnail size 4:2:0 chroma alone costs a few dB.
    a, _, b = (cv2.resize(x, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for x in bikes)
    job = make_job(a, b, num_frames=12)
    result = render_outputs(
        BuiltinEngine().generate(job, lambda: False),
        out_dir=tmp_path,
        width=job.width,
        height=job.height,
        fps=job.fps,
        label="{}",
    )
    with av.open(str(result.video_path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 12
    assert psnr(decoded[0], a) >= 38.0
    assert psnr(decoded[-1], b) >= 38.0


@pytest.mark.parametrize("pair", ["bbb", "bikes"])
def test_midpoint_beats_crossfade_on_real_frames(pair: str, request: pytest.FixtureRequest) -> None:
    a, truth, b = request.getfixturevalue(pair)
    mid = run(make_job(a, b, num_frames=3))[1]
    fade = cv2.addWeighted(a, 0.5, b, 0.5, 0.0)
    assert psnr(mid, truth) > psnr(fade, truth) + 1.0  # measured: +2.3 dB (bbb), +2.5 dB (bikes)


def test_midpoint_of_shifted_texture_is_the_half_shift() -> None:
    big = textured(200, 320, seed=3)
    a, b = big[20:164, 20:276], big[20:164, 36:292]  # content moves 16 px left
    truth = big[20:164, 28:284]
    mid = run(make_job(np.ascontiguousarray(a), np.ascontiguousarray(b), num_frames=3))[1]
    inner = (slice(10, -10), slice(20, -20))
    assert psnr(mid[inner], truth[inner]) > 30.0
    fade = cv2.addWeighted(a, 0.5, b, 0.5, 0.0)
    assert psnr(mid[inner], truth[inner]) > psnr(fade[inner], truth[inner]) + 5.0


def test_unrelated_pair_falls_back_to_crossfade() -> None:
    a, b = textured(seed=1), textured(seed=2)
    frames = run(make_job(a, b, num_frames=5))
    for i, f in enumerate(frames[1:-1], start=1):
        t = i / 4
        fade = cv2.addWeighted(a, 1 - t, b, t, 0.0)
        assert psnr(f, fade) > 30.0


def test_brightness_change_blends_smoothly(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, _ = bbb
    b = np.clip(a.astype(np.int16) + 60, 0, 255).astype(np.uint8)
    frames = run(make_job(a, b, num_frames=5))
    means = [float(f.mean()) for f in frames]
    assert all(x < y for x, y in itertools.pairwise(means))
    assert psnr(frames[2], cv2.addWeighted(a, 0.5, b, 0.5, 0.0)) > 35.0


@pytest.mark.parametrize("pair", ["bbb", "bikes"])
def test_inbetweens_are_finite_and_in_range(pair: str, request: pytest.FixtureRequest) -> None:
    a, _, b = request.getfixturevalue(pair)
    frames = run(make_job(a, b, num_frames=7))
    for f in frames:
        assert f.dtype == np.uint8  # uint8 cannot hold NaN; the float intermediates must not either
        assert np.isfinite(f.astype(np.float32)).all()
    # Every in-between lies between the keyframes in overall brightness (no blow-ups from bad weights).
    lo, hi = sorted((float(a.mean()), float(b.mean())))
    assert all(lo - 3.0 <= float(f.mean()) <= hi + 3.0 for f in frames)


def test_deterministic_per_seed(bikes: tuple[Frame, Frame, Frame]) -> None:
    a, _, b = bikes
    one = run(make_job(a, b, num_frames=6, seed=11))
    two = run(make_job(a, b, num_frames=6, seed=11))
    assert all(np.array_equal(x, y) for x, y in zip(one, two, strict=True))
    i2v = make_job(a, num_frames=6, seed=5, prompt="pan left")
    assert all(np.array_equal(x, y) for x, y in zip(run(i2v), run(i2v), strict=True))


def test_no_nans_or_garbage_on_flat_frames() -> None:
    a = np.zeros((90, 160, 3), np.uint8)
    b = np.full((90, 160, 3), 255, np.uint8)
    frames = run(make_job(a, b, num_frames=5))
    for i, f in enumerate(frames):
        assert np.isfinite(f).all()
        assert abs(float(f.mean()) - 255 * i / 4) <= 1.0
        assert int(f.max()) - int(f.min()) <= 1  # a flat dissolve, no structure invented


@pytest.mark.parametrize("n", [3, 4, 9, 12])
def test_the_video_holds_each_in_between_in_its_place(n: int, bbb: tuple[Frame, Frame, Frame]) -> None:
    """The engine draws in-betweens two at a time: frame i of the video is still the in-between at
    i / (n - 1), for odd and even counts of them."""
    a, _, b = bbb
    frames = run(make_job(a, b, num_frames=n))
    interp = inbetweener(a, b)
    assert isinstance(interp, Interpolator)
    for i in range(1, n - 1):
        assert np.array_equal(frames[i], interp.frame(i / (n - 1), a, b)), i


def test_cancellation_raises_between_frames(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, b = bbb
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    it = BuiltinEngine().generate(make_job(a, b, num_frames=10), cancelled)
    got = []
    with pytest.raises(EngineCancelled):
        for f in it:
            got.append(f)
    assert len(got) == 3


def test_rejects_bad_inputs(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, _ = bbb
    engine = BuiltinEngine()
    base = {"width": 256, "height": 144, "num_frames": 4, "fps": 24, "seed": 1}
    with pytest.raises(ValueError, match="last image"):
        engine.generate(GenerationJob(kind=TaskKind.FIRST_LAST, first=a, **base), lambda: False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="uint8 144x256x3"):
        engine.generate(GenerationJob(kind=TaskKind.IMAGE, first=a[:100], **base), lambda: False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot do"):
        engine.generate(GenerationJob(kind=TaskKind.TEXT, **base), lambda: False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prompt", "move"),
    [
        ("The camera slowly zooms in on the rabbit", CameraMove.PUSH_IN),
        ("push in", CameraMove.PUSH_IN),
        ("镜头缓慢推进", CameraMove.PUSH_IN),
        ("zoom out to reveal the valley", CameraMove.PULL_OUT),
        ("镜头拉远", CameraMove.PULL_OUT),
        ("camera pans left across the street", CameraMove.PAN_LEFT),
        ("镜头左移", CameraMove.PAN_LEFT),
        ("pan to the right", CameraMove.PAN_RIGHT),
        ("镜头右摇", CameraMove.PAN_RIGHT),
        ("tilt up to the sky", CameraMove.TILT_UP),
        ("镜头上摇", CameraMove.TILT_UP),
        ("tilts down", CameraMove.TILT_DOWN),
        ("镜头下摇", CameraMove.TILT_DOWN),
        ("a rabbit in a meadow", CameraMove.NONE),
        ("pan left, then zoom in", CameraMove.PAN_LEFT),
        # a direction names a camera move where its clause names the camera, and nowhere else
        ("The camera moves left", CameraMove.PAN_LEFT),
        ("Slowly, the camera moves closer", CameraMove.PUSH_IN),
        ("镜头向右平移", CameraMove.PAN_RIGHT),
        ("The subject on the left moves to the right.", CameraMove.NONE),
        ("The subject moves to the right, the camera follows", CameraMove.NONE),
        ("画面中央的主体向上移动。", CameraMove.NONE),
        ("move closer", CameraMove.NONE),
        ("树枝向左摇摆", CameraMove.NONE),  # a branch sways left: 摇摆 is not a pan
        ("Camera movement: pan right. The subject on the left moves to the left.", CameraMove.PAN_RIGHT),
        ("Camera movement: static shot. The subject in the centre moves to the right.", CameraMove.STATIC),
        ("固定镜头。画面中央的主体向上移动。", CameraMove.STATIC),
        ("the camera holds steady as the car moves to the right", CameraMove.STATIC),
        ("The camera slowly pans from left to right", CameraMove.PAN_RIGHT),
        ("pans from the right to the left", CameraMove.PAN_LEFT),
        ("镜头从左向右移动", CameraMove.PAN_RIGHT),
    ],
)
def test_parse_camera_move(prompt: str, move: CameraMove) -> None:
    assert parse_camera_move(prompt) is move


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_prompt_written_for_a_still_pair_adds_no_camera_move(
    language: str, bbb: tuple[Frame, Frame, Frame]
) -> None:
    """The is_rec prompt of a still camera with a moving subject says so ("static shot", 固定镜头, and
    the subject's direction, 向上 among them): the in-betweens stay pure interpolation, whatever the
    amplitude."""
    a, _, b = bbb
    words = MotionExpander().expand(ExpandRequest("", language, a, b))
    assert parse_camera_move(words) is CameraMove.STATIC, words
    plain = run(make_job(a, b, num_frames=5))
    for amplitude in (MovementAmplitude.AUTO, MovementAmplitude.LARGE):
        worded = run(make_job(a, b, num_frames=5, prompt=words, movement_amplitude=amplitude))
        assert all(np.array_equal(x, y) for x, y in zip(plain, worded, strict=True)), (words, amplitude)


def test_image_with_a_static_shot_holds_the_picture(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, _ = bbb
    frames = run(make_job(a, num_frames=5, prompt="固定镜头", movement_amplitude=MovementAmplitude.LARGE))
    assert all(np.array_equal(f, a) for f in frames)


def shift_between(a: Frame, b: Frame) -> tuple[float, float]:
    """Median motion of the central region from a to b (positive x: content moved right)."""
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(ga, gb, None)
    h, w = ga.shape
    centre = flow[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 2)
    dx, dy = np.median(centre, axis=0)
    return float(dx), float(dy)


def scale_between(a: Frame, b: Frame) -> float:
    """Zoom of b relative to a, from the log-polar phase correlation (> 1: content grew)."""
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = ga.shape
    centre = (w / 2, h / 2)
    radius = min(h, w) / 2
    flags = cv2.INTER_LINEAR | cv2.WARP_POLAR_LOG
    pa = cv2.warpPolar(ga, (256, 256), centre, radius, flags)
    pb = cv2.warpPolar(gb, (256, 256), centre, radius, flags)
    (dr, _), _ = cv2.phaseCorrelate(pa, pb)
    return float(np.exp(dr * np.log(radius) / 256))


def test_image_default_is_slow_push_in(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, _ = bbb
    frames = run(make_job(a, num_frames=9))
    assert np.array_equal(frames[0], a)
    assert scale_between(frames[0], frames[-1]) > 1.04


@pytest.mark.parametrize(
    ("prompt", "expect"),
    [("pan left", (1, 0)), ("pan right", (-1, 0)), ("tilt up", (0, 1)), ("tilt down", (0, -1))],
)
def test_pans_and_tilts_move_content_the_right_way(
    prompt: str, expect: tuple[int, int], bikes: tuple[Frame, Frame, Frame]
) -> None:
    a, _, _ = bikes
    frames = run(make_job(a, num_frames=9, prompt=prompt, movement_amplitude=MovementAmplitude.LARGE))
    dx, dy = shift_between(frames[3], frames[5])
    # Camera pans left -> the scene slides right in the frame; tilt up -> the scene slides down.
    if expect[0]:
        assert dx * expect[0] > 1.0 and abs(dy) < abs(dx)
    else:
        assert dy * expect[1] > 0.5 and abs(dx) < abs(dy)


def test_push_in_and_pull_out_scale_and_amplitude(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, _ = bbb
    small = run(make_job(a, num_frames=5, prompt="push in", movement_amplitude=MovementAmplitude.SMALL))
    large = run(make_job(a, num_frames=5, prompt="zoom in", movement_amplitude=MovementAmplitude.LARGE))
    out = run(make_job(a, num_frames=5, prompt="拉远", movement_amplitude=MovementAmplitude.LARGE))
    s_small, s_large = scale_between(small[0], small[-1]), scale_between(large[0], large[-1])
    assert 1.02 < s_small < s_large
    assert scale_between(out[0], out[-1]) < 0.9
    assert np.array_equal(out[-1], a)  # a pull out lands on the input image


def test_first_last_neutral_prompt_is_pure_interpolation(bbb: tuple[Frame, Frame, Frame]) -> None:
    a, _, b = bbb
    plain = run(make_job(a, b, num_frames=5))
    moved = run(make_job(a, b, num_frames=5, prompt="slow push in"))
    assert np.array_equal(moved[0], a) and np.array_equal(moved[-1], b)
    assert not np.array_equal(plain[2], moved[2])
    assert scale_between(plain[2], moved[2]) > 1.01


@pytest.mark.parametrize("move", [CameraMove.PUSH_IN, CameraMove.PAN_LEFT, CameraMove.TILT_DOWN])
def test_camera_window_matches_an_affine_warp(move: CameraMove, bikes: tuple[Frame, Frame, Frame]) -> None:
    from framecast.engines.builtin import _CameraPath

    a, _, _ = bikes
    h, w = a.shape[:2]
    path = _CameraPath(move, 0.22, returns=False)
    for t in (0.3, 0.7, 1.0):
        z, fx, fy = path.at(t)
        assert z > 1.01
        cx, cy = (w - 1) / 2 + fx * (w - w / z) / 2, (h - 1) / 2 + fy * (h - h / z) / 2
        m = np.array([[1 / z, 0.0, cx - (w - 1) / 2 / z], [0.0, 1 / z, cy - (h - 1) / 2 / z]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        ref = cv2.warpAffine(a, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE).astype(int)
        diff = np.abs(path.apply(a, t).astype(int) - ref)
        # Weights in 1/256 px here, 1/32 in OpenCV: the two sample the same window.
        assert int(diff.max()) <= 2 and float(diff.mean()) < 0.3, (t, int(diff.max()), float(diff.mean()))


def test_zoom_kernel_checks_its_buffers() -> None:
    from framecast.engines import _kernels

    img = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(ValueError, match="dst"):
        _kernels.zoom(img, np.empty((9, 12, 3), np.uint8), 0.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="window"):
        _kernels.zoom(img, np.empty_like(img), float("nan"), 0.0, 0.5)
    out = np.empty_like(img)
    _kernels.zoom(img + 7, out, -1e9, 1e9, 3.0)  # far outside: clamped to the edge pixels
    assert np.all(out == 7)
