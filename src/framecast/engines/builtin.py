"""The built-in CPU engine: optical-flow in-betweening and camera moves, no weights.

First/last frame (``framecast.engines.flow``): dense DIS optical flow is
computed once per pair, in both directions, at a reduced scale for large
frames (DIS itself is coarse-to-fine). Every in-between backward-warps both
keyframes to its time ``t`` and blends them; a per-pixel confidence map, from
how well the two warps agree half-way, mixes in the plain cross-fade where the
flow cannot be trusted (occlusions, pairs with little in common), so the worst
case is a soft dissolve, never smeared pixels.

Image to video: a camera move (push in, pull out, pan, tilt) named in the
prompt, in English or Chinese, scaled by the movement amplitude.

Everything here is a pure function of the inputs: the same job (seed
included) always yields identical frames.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import cv2
import numpy as np

from framecast.domain import MovementAmplitude, TaskKind
from framecast.engines import camera
from framecast.engines.base import Capabilities, EngineCancelled, Frame, GenerationJob, StepProgress
from framecast.engines.camera import CameraInterpolator
from framecast.engines.flow import Interpolator


class CameraMove(StrEnum):
    NONE = "none"  # the prompt names no camera move
    STATIC = "static"  # the prompt asks for a camera that does not move ("static shot", 固定镜头)
    PUSH_IN = "push_in"
    PULL_OUT = "pull_out"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    TILT_UP = "tilt_up"
    TILT_DOWN = "tilt_down"


def _move_words(english: str, chinese: str) -> re.Pattern[str]:
    """English phrases matched as whole words (any case), Chinese ones anywhere (no word breaks)."""
    return re.compile(rf"\b(?:{english})\b|{chinese}", re.IGNORECASE)


_PAN = r"(?:pan(?:s|ning|ned)?|truck(?:s|ing)?|track(?:s|ing)?)\s+(?:to\s+the\s+)?"
_PAN_FROM = (
    r"(?:pan(?:s|ning|ned)?|truck(?:s|ing)?|track(?:s|ing)?)\s+from\s+(?:the\s+)?{}\s+to\s+(?:the\s+)?{}"
)
_TILT = r"(?:tilt(?:s|ing|ed)?|pedestal(?:s|ing)?|crane(?:s|ing)?)\s+"
_MOVE = r"move[sd]?\s+(?:to\s+the\s+)?"

# Words that name a camera move wherever they stand (摇 before 摆 or 晃 is swaying, not panning).
_CAMERA_WORDS: dict[CameraMove, re.Pattern[str]] = {
    CameraMove.STATIC: _move_words(
        r"static\s+(?:shot|camera)|fixed\s+(?:shot|camera)|locked[\s-]*off|still\s+camera"
        r"|camera\s+(?:is\s+|stays\s+|remains\s+|holds\s+)?(?:still|static|fixed|steady)",
        "固定镜头|镜头固定|固定机位|镜头不动|静止镜头|镜头静止",
    ),
    CameraMove.PUSH_IN: _move_words(
        r"push(?:es|ing|ed)?[\s-]*in|zoom(?:s|ing|ed)?[\s-]*in|dolly(?:ing)?[\s-]*in",
        "推进|推近|拉近|推镜|镜头推",
    ),
    CameraMove.PULL_OUT: _move_words(
        r"pull(?:s|ing|ed)?[\s-]*(?:out|back)|zoom(?:s|ing|ed)?[\s-]*out|dolly(?:ing)?[\s-]*(?:out|back)",
        "拉远|拉出|后拉|拉镜|镜头拉",
    ),
    CameraMove.PAN_LEFT: _move_words(_PAN + "left|" + _PAN_FROM.format("right", "left"), "左摇(?![摆晃])"),
    CameraMove.PAN_RIGHT: _move_words(_PAN + "right|" + _PAN_FROM.format("left", "right"), "右摇(?![摆晃])"),
    CameraMove.TILT_UP: _move_words(_TILT + r"up(?:ward)?s?", "上摇(?![摆晃])|仰拍"),
    CameraMove.TILT_DOWN: _move_words(_TILT + r"down(?:ward)?s?", "下摇(?![摆晃])|俯拍"),
}
# Words that say only a direction. They name a camera move in a clause that names the camera ("the
# camera moves left", 镜头向左平移), and otherwise describe something else: "the subject moves to the
# right", 主体向上移动 (the prompt framecast writes for is_rec says both kinds of thing).
_DIRECTION_WORDS: dict[CameraMove, re.Pattern[str]] = {
    CameraMove.PUSH_IN: _move_words(r"move[sd]?\s+closer|close[\s-]*in", "放大|靠近"),
    CameraMove.PULL_OUT: _move_words(r"move[sd]?\s+away", "缩小|远离"),
    CameraMove.PAN_LEFT: _move_words(_MOVE + "left", "左移|向左|往左|左转"),
    CameraMove.PAN_RIGHT: _move_words(_MOVE + "right", "右移|向右|往右|右转"),
    CameraMove.TILT_UP: _move_words(_MOVE + r"up(?:ward)?s?", "上移|向上|上升"),
    CameraMove.TILT_DOWN: _move_words(_MOVE + r"down(?:ward)?s?", "下移|向下|下降"),
}
_NAMES_THE_CAMERA = _move_words(r"camera|lens|view(?:point)?|pov", "镜头|相机|机位|运镜|视角|平移")
_CLAUSE = re.compile(r"[^.!?;,\n。！？；，、]+")

# Zoom gained over the whole clip for image-to-video; auto is a slow, calm move.
_ZOOM: dict[MovementAmplitude, float] = {
    MovementAmplitude.AUTO: 0.08,
    MovementAmplitude.SMALL: 0.05,
    MovementAmplitude.MEDIUM: 0.12,
    MovementAmplitude.LARGE: 0.22,
}
# Pans travel further than zooms for the same amplitude so they read as a pan, not a drift.
_PAN_GAIN = 2.0
# On first/last jobs the move is an excursion that returns to the keyframes, so keep it gentle.
_FIRST_LAST_GAIN = 0.35


def parse_camera_move(prompt: str) -> CameraMove:
    """The camera move a prompt asks for, by earliest mention; NONE when it names none."""
    found: list[tuple[int, CameraMove]] = []
    for move, pattern in _CAMERA_WORDS.items():
        found += [(m.start(), move) for m in pattern.finditer(prompt)]
    for clause in _CLAUSE.finditer(prompt):
        if _NAMES_THE_CAMERA.search(clause.group()):
            for move, pattern in _DIRECTION_WORDS.items():
                found += [(clause.start() + m.start(), move) for m in pattern.finditer(clause.group())]
    return min(found, key=lambda f: f[0])[1] if found else CameraMove.NONE


def _ease(t: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * t)


@dataclass(frozen=True)
class _CameraPath:
    """A virtual camera over the source frame: a zoom ``z >= 1`` and a window centre, per t."""

    move: CameraMove
    strength: float  # zoom fraction at full excursion
    returns: bool  # True: excursion sin(pi t) that ends where it began (first/last jobs)

    def at(self, t: float) -> tuple[float, float, float]:
        """(zoom, dx, dy): dx/dy are the window-centre offset as a fraction of the free margin."""
        e = math.sin(math.pi * t) if self.returns else _ease(t)
        if self.is_identity():
            return 1.0, 0.0, 0.0
        if self.move is CameraMove.PUSH_IN:
            return 1.0 + self.strength * e, 0.0, 0.0
        if self.move is CameraMove.PULL_OUT:
            # No pixels exist beyond the frame, so a pull out starts zoomed in and lands on the image.
            return 1.0 + self.strength * (1.0 - e), 0.0, 0.0
        z = 1.0 + _PAN_GAIN * self.strength * e
        direction = {
            CameraMove.PAN_LEFT: (-1.0, 0.0),
            CameraMove.PAN_RIGHT: (1.0, 0.0),
            CameraMove.TILT_UP: (0.0, -1.0),
            CameraMove.TILT_DOWN: (0.0, 1.0),
        }[self.move]
        return z, direction[0], direction[1]

    def is_identity(self) -> bool:
        return self.move in (CameraMove.NONE, CameraMove.STATIC) or self.strength <= 0

    def apply(self, frame: Frame, t: float) -> Frame:
        z, fx, fy = self.at(t)
        if z <= 1.0 + 1e-6:
            return frame
        h, w = frame.shape[:2]
        # The window (w/z x h/z) slides to the edge of the free margin, so it never leaves the image.
        cx = (w - 1) / 2 + fx * (w - w / z) / 2
        cy = (h - 1) / 2 + fy * (h - h / z) / 2
        # The same warp the first/last camera path draws its in-betweens with.
        return camera.warp(frame, camera.window_matrix(z, cx, cy, w, h))


class _Dissolve:
    """The plain cross-fade, for keyframes that share too little for a move to be shown."""

    def frame(self, t: float, first: Frame, last: Frame) -> Frame:
        return np.asarray(cv2.addWeighted(first, 1 - t, last, t, 0.0), np.uint8)

    def frames(self, ts: Sequence[float], first: Frame, last: Frame) -> list[Frame]:
        return [self.frame(t, first, last) for t in ts]


class _InBetweener(Protocol):
    def frame(self, t: float, first: Frame, last: Frame) -> Frame: ...

    def frames(self, ts: Sequence[float], first: Frame, last: Frame) -> list[Frame]:
        """``frame`` at each of ``ts`` (the same bytes), where drawing several at once is cheaper."""
        ...


def inbetweener(first: Frame, last: Frame) -> _InBetweener:
    """What draws the in-betweens of a pair: the camera path when the keyframes are related by a camera
    move (local flow on top), a dissolve when that move leaves too little overlap, else the optical flow
    alone (a still camera, or no believable global transform: unrelated images dissolve there)."""
    motion = camera.estimate(first, last)
    if motion is None:
        return Interpolator(first, last)
    if motion.dissolve:
        return _Dissolve()
    return CameraInterpolator(first, last, motion)


class BuiltinEngine:
    """Optical-flow first/last-frame interpolation and prompt-driven camera moves on the CPU."""

    name = "builtin"
    task_kinds = frozenset({TaskKind.FIRST_LAST, TaskKind.IMAGE})
    # flow and camera moves have no size or length of their own: the dialects' limits (sides up to
    # 3840 px, 16 s at up to 60 fps) are the only ones
    max_short_side = 3840
    max_frames = 60 * 16
    needs_weights = False

    def capabilities(self) -> Capabilities:
        return Capabilities(
            kinds=self.task_kinds,
            max_frames=self.max_frames,
            max_short_side=self.max_short_side,
            needs_weights=self.needs_weights,
        )

    def check_inputs(self, job: GenerationJob) -> None:
        if job.kind not in self.task_kinds:
            raise ValueError(f"the builtin engine cannot do {job.kind.value!r} jobs")
        if job.num_frames < 1:
            raise ValueError("num_frames must be at least 1")
        need = [("first", job.first)] + ([("last", job.last)] if job.kind is TaskKind.FIRST_LAST else [])
        for role, img in need:
            if img is None:
                raise ValueError(f"a {job.kind.value} job needs a {role} image")
            if img.dtype != np.uint8 or img.shape != (job.height, job.width, 3):
                raise ValueError(
                    f"{role} image must be uint8 {job.height}x{job.width}x3, got {img.dtype} {img.shape}"
                )

    def camera_path(self, job: GenerationJob, keyframes_move: bool = False) -> _CameraPath:
        """The virtual camera over each frame; ``keyframes_move``: the in-betweens already follow a camera
        move found between the keyframes."""
        move = parse_camera_move(job.prompt)
        strength = _ZOOM[job.movement_amplitude]
        if move is CameraMove.STATIC:  # asked for in words: no move, whatever the amplitude
            return _CameraPath(CameraMove.STATIC, 0.0, True)
        if job.kind is TaskKind.IMAGE:
            return _CameraPath(CameraMove.PUSH_IN if move is CameraMove.NONE else move, strength, False)
        # First/last: keyframes are exact, so any move is an excursion that returns; a neutral prompt
        # with auto amplitude is pure interpolation. A pull out cannot return without inventing
        # pixels beyond the frame edge, so it is left out. Keyframes with a camera move of their own
        # are the camera: words naming that move (the prompt writer of framecast.prompts names it
        # itself) would otherwise push the in-betweens off the keyframes' path.
        if keyframes_move:
            return _CameraPath(CameraMove.NONE, 0.0, True)
        if move is CameraMove.NONE:
            if job.movement_amplitude is MovementAmplitude.AUTO:
                return _CameraPath(CameraMove.NONE, 0.0, True)
            move = CameraMove.PUSH_IN
        if move is CameraMove.PULL_OUT:
            return _CameraPath(CameraMove.NONE, 0.0, True)
        return _CameraPath(move, strength * _FIRST_LAST_GAIN, True)

    def generate(
        self, job: GenerationJob, cancelled: Callable[[], bool], progress: StepProgress | None = None
    ) -> Iterator[Frame]:
        # every step of this engine is a frame: the runner's frame count is its progress
        self.check_inputs(job)
        return self._frames(job, cancelled)

    def _frames(self, job: GenerationJob, cancelled: Callable[[], bool]) -> Iterator[Frame]:
        assert job.first is not None
        first = np.ascontiguousarray(job.first)
        last = np.ascontiguousarray(job.last) if job.last is not None else None
        path = self.camera_path(job)
        n = job.num_frames
        interp: _InBetweener | None = None
        # In-betweens are drawn two at a time (see Interpolator.frames); the second waits here.
        ahead: dict[int, Frame] = {}

        def inbetween(i: int) -> Frame:
            assert interp is not None and last is not None
            if i not in ahead:
                both = [i, i + 1] if i + 1 < n - 1 else [i]
                ahead.update(zip(both, interp.frames([k / (n - 1) for k in both], first, last), strict=True))
            return ahead.pop(i)

        def make(i: int) -> Frame:
            t = i / (n - 1) if n > 1 else 0.0
            if job.kind is TaskKind.IMAGE or last is None or i == 0:
                base = first
            elif i == n - 1:
                base = last
            else:
                base = inbetween(i)
            out = base if path.is_identity() else path.apply(base, t)
            return out.copy() if out is first or out is last else out

        if cancelled():
            raise EngineCancelled()
        yield make(0)
        if n == 1:
            return
        if job.kind is TaskKind.FIRST_LAST and last is not None and n > 2:
            interp = inbetweener(first, last)  # with OpenCV's thread pool: the encoder is idle meanwhile
            # frame 0 above is the same either way: every first/last excursion starts at rest
            path = self.camera_path(job, keyframes_move=isinstance(interp, CameraInterpolator))
        # Per frame the work is in framecast.engines._kernels, on this thread only: libx264 needs the
        # other core.
        for i in range(1, n):
            if cancelled():
                raise EngineCancelled()
            yield make(i)
