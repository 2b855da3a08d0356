"""Input videos: what submit reads from the headers, what the worker samples, and what is refused."""

from __future__ import annotations

import re

import pytest
from tests.conftest import data_uri, grey_ramp, image_bytes, mp4_bytes

from framecast.domain import ErrorCode
from framecast.errors import ClientError
from framecast.media.fetch import FetchPolicy
from framecast.media.videos import VideoLimits, check_video, load_video_source, sample_frames


def level(frame: object) -> int:
    import numpy as np

    return int(np.median(np.asarray(frame)))


def test_headers_give_size_and_length() -> None:
    video = check_video(mp4_bytes(grey_ramp(12), fps=10), limits=VideoLimits())
    assert (video.mime, video.width, video.height) == ("video/mp4", 160, 128)
    assert video.seconds == pytest.approx(1.2, abs=0.05) and video.fps == pytest.approx(10)


def test_frames_are_the_ones_on_screen_at_each_instant_fitted_to_the_size() -> None:
    data = mp4_bytes(grey_ramp(12), fps=10)
    # 5 fps from a 10 fps clip: every other frame, each centre-cropped and scaled to 64x32
    frames = sample_frames(data, count=6, fps=5, width=64, height=32)
    assert [f.shape for f in frames] == [(32, 64, 3)] * 6
    assert [level(f) for f in frames] == pytest.approx([10, 50, 90, 130, 170, 210], abs=3)
    # 20 fps: each clip frame twice; past the clip's end its last frame is held
    frames = sample_frames(data, count=26, fps=20, width=64, height=32)
    levels = [level(f) for f in frames]
    assert levels[:4] == pytest.approx([10, 10, 30, 30], abs=3)
    assert levels[-3:] == pytest.approx([230, 230, 230], abs=3)


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (image_bytes(), ErrorCode.IMAGE_FORMAT, "not an MP4/MOV or WebM video (it reads as png_pipe)"),
        (b"", ErrorCode.IMAGE_FORMAT, "not a readable video"),
        (mp4_bytes(grey_ramp(3, 96, 64), fps=10), ErrorCode.IMAGE_SIZE, "96x64 px is outside 128..3840"),
        (mp4_bytes(grey_ramp(12), fps=2), ErrorCode.IMAGE_SIZE, "6.00 s long; at most 5 s"),
    ],
)
def test_bad_videos_are_refused_naming_the_problem(data: bytes, code: ErrorCode, words: str) -> None:
    with pytest.raises(ClientError) as err:
        check_video(data, limits=VideoLimits(max_seconds=5))
    assert err.value.code is code and words in err.value.message
    assert err.value.message.startswith("video 1: ") and err.value.param == "video_list"


def test_sources_data_uri_and_urls_only() -> None:
    data = mp4_bytes(grey_ramp(4), fps=10)
    policy = FetchPolicy()
    assert load_video_source(data_uri(data, "video/mp4"), limits=VideoLimits(), policy=policy).width == 160
    for bad, words in [
        (data_uri(data, "image/png"), "unsupported data URI"),
        ("data:video/mp4;base64,@@@", "not valid base64"),
        ("file:///etc/passwd", "expected an http(s) URL"),
        ("ftp://example.com/v.mp4", "expected an http(s) URL"),
    ]:
        with pytest.raises(ClientError, match=re.escape(words)):
            load_video_source(bad, limits=VideoLimits(), policy=policy, index=2)
    with pytest.raises(ClientError, match="larger than the 0 MB limit"):
        load_video_source(data_uri(data, "video/mp4"), limits=VideoLimits(max_bytes=100), policy=policy)
    # a private address is vetted by the one fetcher, as images are
    with pytest.raises(ClientError, match="video 1: "):
        load_video_source("http://127.0.0.1:9/v.mp4", limits=VideoLimits(), policy=policy)
