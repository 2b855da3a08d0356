"""render_outputs: H.264 MP4 + label + cover + watermark, streamed and cleaned up on failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from framecast.engines.base import Frame
from framecast.media.labels import default_label, read_label
from framecast.media.render import RenderResult, WatermarkSpec, render_outputs

W, H, FPS = 320, 180, 24


def scene(i: int) -> Frame:
    """A smooth moving gradient with a few shapes: cheap to encode, easy to compare."""
    x = np.linspace(0, 1, W, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, H, dtype=np.float32)[:, None]
    r = 128 + 100 * np.sin(6 * x + 0.2 * i) * np.cos(4 * y)
    g = 128 + 100 * np.cos(5 * y + 0.1 * i) + 0 * x
    b = 128 + 80 * np.sin(3 * (x + y)) + 0 * x * y
    img = np.clip(np.dstack([r + 0 * y, g + 0 * x, b]), 0, 255).astype(np.uint8)
    cv2.circle(img, (60 + 4 * i, 90), 25, (220, 60, 60), -1)
    return np.ascontiguousarray(cv2.GaussianBlur(img, (0, 0), 1.5))


def frames(n: int) -> Iterator[Frame]:
    for i in range(n):
        yield scene(i)


def decode(path: Path) -> list[Frame]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def psnr(a: Frame, b: Frame) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def render(tmp_path: Path, n: int = 12, **kw: object) -> RenderResult:
    label = default_label(task_id="task-1")
    return render_outputs(frames(n), out_dir=tmp_path, width=W, height=H, fps=FPS, label=label, **kw)  # type: ignore[arg-type]


def test_mp4_is_h264_yuv420p_with_label_and_cover(tmp_path: Path) -> None:
    res = render(tmp_path)
    assert (res.frames, res.width, res.height, res.fps) == (12, W, H, FPS)
    assert res.duration == pytest.approx(0.5)
    assert res.watermarked_path is None
    with av.open(str(res.video_path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (W, H)
        assert c.metadata["aigc_label"] == c.metadata["comment"]
    label = read_label(res.video_path)
    assert label is not None
    assert json.loads(label)["Label"] == "1"
    assert json.loads(label)["ProduceID"] == "task-1"
    with Image.open(res.cover_path) as cover:
        assert cover.format == "JPEG"
        assert cover.size == (W, H)
        assert psnr(np.asarray(cover.convert("RGB")), scene(0)) > 30
    data = res.video_path.read_bytes()
    # faststart: the index (moov) precedes the media data (mdat)
    assert data.index(b"moov") < data.index(b"mdat")


def test_first_and_last_frames_keep_quality(tmp_path: Path) -> None:
    res = render(tmp_path, n=30)
    decoded = decode(res.video_path)
    assert len(decoded) == 30
    assert psnr(decoded[0], scene(0)) >= 38
    assert psnr(decoded[-1], scene(29)) >= 38


def test_default_label_shape() -> None:
    label = json.loads(default_label(task_id="abc", producer="acme"))
    assert list(label) == [
        "Label",
        "ContentProducer",
        "ProduceID",
        "ReservedCode1",
        "ContentPropagator",
        "PropagateID",
        "ReservedCode2",
    ]
    assert label["Label"] == "1" and label["ContentProducer"] == "acme" and label["ProduceID"] == "abc"


def test_read_label_none_without_one(tmp_path: Path) -> None:
    res = render_outputs(frames(2), out_dir=tmp_path, width=W, height=H, fps=FPS, label="")
    assert read_label(res.video_path) is None


@pytest.mark.parametrize("position", [1, 2, 3, 4])
def test_watermark_changes_only_its_corner(tmp_path: Path, position: int) -> None:
    res = render(tmp_path, n=6, watermark=WatermarkSpec(position=position, image=None))
    assert res.watermarked_path is not None and res.watermarked_path.exists()
    plain, marked = decode(res.video_path), decode(res.watermarked_path)
    assert len(plain) == len(marked) == 6
    src = scene(3)
    marked_err = np.abs(marked[3].astype(np.int16) - src.astype(np.int16)).max(axis=2)
    plain_err = np.abs(plain[3].astype(np.int16) - src.astype(np.int16)).max(axis=2)
    top = position in (1, 2)
    left = position in (1, 4)
    rows = slice(0, H // 2) if top else slice(H // 2, H)
    cols = slice(0, W // 2) if left else slice(W // 2, W)
    corner = np.zeros_like(marked_err, dtype=bool)
    corner[rows, cols] = True
    assert (marked_err[corner] > 40).sum() > 50  # the mark is visible in its corner
    # and nowhere else: outside the corner the marked video is as close to the source as the plain one
    assert (marked_err[~corner] > 40).sum() <= (plain_err[~corner] > 40).sum() + 5
    assert marked_err[~corner].mean() < plain_err[~corner].mean() + 1.0


def test_watermark_logo_rgba(tmp_path: Path) -> None:
    logo = np.zeros((40, 80, 4), np.uint8)
    logo[..., 1] = 255
    logo[10:30, 10:70, 3] = 255  # opaque green bar, transparent border
    res = render(tmp_path, n=3, watermark=WatermarkSpec(position=3, image=logo))
    assert res.watermarked_path is not None
    marked = decode(res.watermarked_path)[0]
    region = marked[H // 2 :, W // 2 :]
    green = (region[..., 1] > 200) & (region[..., 0] < 120)
    assert green.sum() > 50


def test_on_frame_reports_and_can_abort(tmp_path: Path) -> None:
    seen: list[int] = []

    def on_frame(i: int) -> None:
        seen.append(i)
        if i == 4:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        render(tmp_path, n=50, on_frame=on_frame, watermark=WatermarkSpec(position=1, image=None))
    assert seen == [0, 1, 2, 3, 4]
    assert list(tmp_path.iterdir()) == []


def test_failing_frame_source_cleans_up(tmp_path: Path) -> None:
    def broken() -> Iterator[Frame]:
        yield scene(0)
        yield scene(1)
        raise OSError("engine died")

    with pytest.raises(OSError, match="engine died"):
        render_outputs(broken(), out_dir=tmp_path, width=W, height=H, fps=FPS, label="x")
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_shape_is_rejected(tmp_path: Path) -> None:
    bad = iter([scene(0), np.zeros((H, W + 2, 3), np.uint8)])
    with pytest.raises(ValueError, match="expected uint8"):
        render_outputs(bad, out_dir=tmp_path, width=W, height=H, fps=FPS, label="x")
    assert list(tmp_path.iterdir()) == []


def test_on_frame_called_for_every_frame(tmp_path: Path) -> None:
    seen: list[int] = []
    res = render(tmp_path, n=7, on_frame=seen.append)
    assert seen == list(range(7))
    assert len(decode(res.video_path)) == 7


def test_same_frames_give_identical_bytes(tmp_path: Path) -> None:
    # rc-lookahead=0 in the encoder settings: without it x264 produced different bytes from run to run.
    one = render_outputs(frames(24), out_dir=tmp_path / "one", width=W, height=H, fps=FPS, label="x")
    two = render_outputs(frames(24), out_dir=tmp_path / "two", width=W, height=H, fps=FPS, label="x")
    assert one.video_path.read_bytes() == two.video_path.read_bytes()
