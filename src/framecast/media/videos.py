"""Client-supplied input videos (Kling/Qianfan ``video_list``): fetched and checked at submit, decoded into
frames by the worker.

At submit the container is opened with PyAV and only its headers are read: a video stream, a known
container, the size and the length within :class:`VideoLimits`. Nothing is decoded there, so a bad
video costs the API process a header read. The worker decodes only the frames the task needs
(:func:`sample_frames`), each fitted to the output size as it comes, so memory is bounded by the task's
own frame count, not by the input's length.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

import av
import numpy as np

from framecast.domain import ErrorCode
from framecast.errors import ClientError
from framecast.frames import Frame
from framecast.media.fetch import FetchPolicy, fetch
from framecast.media.images import fit_to

# container format names PyAV reports -> the MIME type the video is stored under
_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "video/mp4", "matroska,webm": "video/webm"}
_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<payload>.*)$", re.S | re.I)
_DATA_MIMES = frozenset({"video/mp4", "video/quicktime", "video/webm"})


@dataclass(frozen=True)
class VideoLimits:
    """What submit accepts. Kling documents mp4/mov up to 200 MB, 3-10 s, 720-2160 px; framecast caps
    the bytes lower because the whole file is held in memory at submit."""

    max_bytes: int = 100 * 1024 * 1024
    max_seconds: float = 60.0
    min_side: int = 128
    max_side: int = 3840


class CheckedVideo(NamedTuple):
    """A fetched video whose headers passed :func:`check_video`; not a frame decoded yet."""

    data: bytes
    mime: str
    width: int
    height: int
    seconds: float
    fps: float

    def header(self) -> dict[str, Any]:
        """What is kept with the task about the video (``domain.StoredVideo``'s fields read from it)."""
        return {"mime": self.mime, "width": self.width, "height": self.height, "seconds": self.seconds}


def _err(code: ErrorCode, index: int, message: str) -> ClientError:
    return ClientError(code, f"video {index}: {message}", param="video_list")


def _decode_data_uri(source: str, index: int, limits: VideoLimits) -> bytes:
    usage = "use data:video/<mp4|quicktime|webm>;base64,<data> or an http(s) URL"
    m = _DATA_URI.match(source)
    params = [p.strip().lower() for p in (m.group("params").split(";") if m else [])]
    if m is None or "base64" not in params or m.group("mime").strip().lower() not in _DATA_MIMES:
        raise _err(ErrorCode.IMAGE_FORMAT, index, f"malformed or unsupported data URI; {usage}")
    payload = "".join(m.group("payload").split())
    if len(payload) * 3 // 4 > limits.max_bytes + 3:
        raise _err(ErrorCode.IMAGE_SIZE, index, f"video is larger than the {limits.max_bytes >> 20} MB limit")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _err(ErrorCode.IMAGE_FORMAT, index, "the video data is not valid base64") from None


def load_video_source(
    source: str, *, limits: VideoLimits, policy: FetchPolicy, index: int = 1
) -> CheckedVideo:
    """Fetch or decode one client-supplied video and check its headers (``index`` is 1-based)."""
    source = source.strip()
    if source[:5].lower() == "data:":
        data = _decode_data_uri(source, index, limits)
    elif source[:8].lower().startswith(("http://", "https://")):
        capped = dataclasses.replace(policy, max_bytes=min(policy.max_bytes, limits.max_bytes))
        try:
            data = fetch(source, capped).data
        except ClientError as exc:
            raise _err(exc.code, index, exc.message) from None
    else:
        raise _err(ErrorCode.IMAGE_FORMAT, index, "expected an http(s) URL or a data:video/...;base64 URI")
    return check_video(data, limits=limits, index=index)


def check_video(data: bytes, *, limits: VideoLimits, index: int = 1) -> CheckedVideo:
    """Read the container's headers: a video stream, mp4/mov or webm/mkv, size and length in bounds."""
    if len(data) > limits.max_bytes:
        raise _err(ErrorCode.IMAGE_SIZE, index, f"video is larger than the {limits.max_bytes >> 20} MB limit")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            mime = _CONTAINERS.get(container.format.name)
            if mime is None:
                raise _err(
                    ErrorCode.IMAGE_FORMAT,
                    index,
                    f"the file is not an MP4/MOV or WebM video (it reads as {container.format.name})",
                )
            if not container.streams.video:
                raise _err(ErrorCode.IMAGE_FORMAT, index, "the file has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate or 0
            seconds = _seconds(container, stream)
    except av.FFmpegError:
        raise _err(ErrorCode.IMAGE_FORMAT, index, "the data is not a readable video") from None
    if min(width, height) < limits.min_side or max(width, height) > limits.max_side:
        raise _err(
            ErrorCode.IMAGE_SIZE,
            index,
            f"{width}x{height} px is outside {limits.min_side}..{limits.max_side} px per side",
        )
    if not 0 < seconds <= limits.max_seconds:
        raise _err(
            ErrorCode.IMAGE_SIZE,
            index,
            f"the video is {seconds:.2f} s long; at most {limits.max_seconds:g} s are accepted"
            if seconds > 0
            else "the video's length cannot be read from its headers",
        )
    return CheckedVideo(data=data, mime=mime, width=width, height=height, seconds=seconds, fps=float(rate))


def _seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def sample_frames(data: bytes, *, count: int, fps: int, width: int, height: int) -> list[Frame]:
    """``count`` frames of the video at ``fps`` from its start (the frame showing at each instant),
    centre-cropped and resized to ``width`` x ``height``. Decoding stops once the last one is found."""
    wanted = [Fraction(i, fps) for i in range(count)]
    out: list[Frame] = []
    shown: Frame | None = None  # the latest decoded frame, as decoded
    fitted: Frame | None = None  # the same, fitted once when first used

    def take() -> None:
        nonlocal fitted
        assert shown is not None
        if fitted is None:
            fitted = fit_to(shown, width, height)
        out.append(fitted)

    try:
        for at, rgb in _decoded(data):
            while len(out) < count and shown is not None and at > wanted[len(out)]:
                take()  # the previous frame was on screen at that instant
            if len(out) == count:
                break
            shown, fitted = rgb, None
    except av.FFmpegError as exc:
        # the headers were fine at submit; the stream itself is broken past them
        raise _err(ErrorCode.IMAGE_FORMAT, 1, f"the video could not be decoded ({exc})") from None
    if shown is None:
        raise _err(ErrorCode.IMAGE_FORMAT, 1, "the video holds no decodable frame")
    while shown is not None and len(out) < count:  # instants at or past the last frame's start
        take()
    return out


def _decoded(data: bytes) -> Iterator[tuple[Fraction, Frame]]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = stream.start_time or 0
        for frame in container.decode(stream):
            pts = (frame.pts or 0) - start
            yield (
                Fraction(pts) * Fraction(stream.time_base or Fraction(1)),
                np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8),
            )
