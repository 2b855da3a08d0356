"""H.264 MP4 writing through PyAV's libx264: the settings framecast uses everywhere.

Frames are converted to yuv420p with the BT.709 matrix (limited range) and the
stream is tagged so, which is what players assume for HD. The ``moov`` atom is
moved to the front (faststart) so a browser can start playing before the
download ends, and the container carries the AIGC label (see ``labels.py``).
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import av
import numpy as np
from av.container import OutputContainer
from av.video.frame import PictureType
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from framecast.frames import Frame
from framecast.media.labels import COMMENT_KEY, LABEL_KEY

# crf 17 keeps the first and last frames (the client's keyframes) at or above ~40 dB PSNR on real
# 720p footage; crf 19 left P frames right at 38 dB. "veryfast" is the knee where slower presets cost
# much more time for a few percent of size.
CRF = 17
PRESET = "veryfast"


class H264Writer:
    """One MP4 file being written. Use as a context manager, or call :meth:`close` / :meth:`abort`."""

    def __init__(self, path: Path, *, width: int, height: int, fps: int, label: str = "") -> None:
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even dimensions, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = path
        self.width, self.height = width, height
        self.frames = 0
        # One converter for the whole file: ``VideoFrame.reformat`` makes a new one (and a new swscale
        # context) per call, which was half of the conversion's time (``bench/encode_costs.py``).
        self._reformatter = VideoReformatter()
        options = {"movflags": "+faststart+use_metadata_tags"}
        self._container: OutputContainer | None = av.open(str(path), mode="w", format="mp4", options=options)
        try:
            if label:
                self._container.metadata[COMMENT_KEY] = label
                self._container.metadata[LABEL_KEY] = label
            stream = self._container.add_stream("libx264", rate=Fraction(fps))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            # With x264's rate-control lookahead (and the macroblock tree built on it) identical frames
            # encoded to different bytes from run to run, even single-threaded; without it the same
            # seed gives the same file. Measured: no speed cost, and keyframe PSNR stays above 38 dB.
            stream.options = {"crf": str(CRF), "preset": PRESET, "x264-params": "rc-lookahead=0"}
            cc = stream.codec_context
            cc.thread_count = 0  # x264 picks one thread per core plus lookahead
            cc.colorspace = Colorspace.ITU709
            cc.color_range = ColorRange.MPEG
            cc.color_primaries = 1  # BT.709
            cc.color_trc = 1  # BT.709
            self._stream = stream
        except BaseException:
            self._container.close()
            path.unlink(missing_ok=True)
            raise

    def write(self, frame: Frame, *, keyframe: bool = False) -> None:
        """Encode one RGB frame; ``keyframe`` forces an I frame (full quality, no prediction drift)."""
        if self._container is None:
            raise RuntimeError(f"{self.path.name} is already closed")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            expected = (self.height, self.width, 3)
            raise ValueError(f"frame {self.frames} is {frame.shape} {frame.dtype}, expected {expected} uint8")
        vf = self._reformatter.reformat(
            rgb_frame(frame),
            format="yuv420p",
            src_colorspace=Colorspace.ITU709,
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
        )
        vf.pts = self.frames
        if keyframe:
            vf.pict_type = PictureType.I
        self._container.mux(self._stream.encode(vf))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._container is None:
            return
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()
            self._container = None

    def abort(self) -> None:
        """Drop the half-written file."""
        if self._container is not None:
            # The file is being thrown away; errors from closing it do not matter.
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def rgb_frame(frame: Frame) -> av.VideoFrame:
    """``frame`` (h, w, 3 uint8) copied into a new rgb24 ``VideoFrame``.

    The same bytes as ``VideoFrame.from_ndarray``, which copies row by row holding the GIL: in a render
    beside the API (embedded workers) that copy was the largest share of the time the render threads
    held the GIL, and every such millisecond delays the event loop. A NumPy copy of this size releases it.
    """
    h, w = frame.shape[:2]
    vf = av.VideoFrame(w, h, "rgb24")
    plane = vf.planes[0]
    # the plane's own buffer (PyAV's stubs do not declare it one), rows padded to its line size
    rows = np.frombuffer(cast(Any, plane), np.uint8).reshape(h, plane.line_size)
    rows[:, : w * 3] = frame.reshape(h, w * 3)
    return vf
