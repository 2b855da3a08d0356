"""The built-in expander: a short shot description measured from the keyframes, no model needed.

The camera's move is the global transform between the keyframes that the built-in engine renders
(``engines.camera.estimate``): its scale about the centre says zoom in or out, the centre's travel
says pan (sideways) or tilt (up/down). Motion that the camera does not explain is the subject's: the
DIS optical flow between the camera-aligned first frame and the last one, where it is large, gives
the region that moves and its direction. Mean luma gives the brightness change.

The transform maps first-frame pixels to last-frame pixels, so the camera moves the other way:
content sliding left means the camera pans right, content growing means it zooms in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from framecast.engines import camera
from framecast.engines.flow import normalised_grey
from framecast.frames import Frame
from framecast.prompts.base import ExpandRequest

_cv: Any = cv2
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

ZOOM_MIN = 0.04  # |scale - 1| above which the camera zooms
PAN_MIN = 0.03  # centre travel, share of the frame's width (height for a tilt), above which it moves
SUBJECT_MIN_PX = 3.0  # residual flow (analysis pixels, 640 long side) counted as subject motion
SUBJECT_MIN_SHARE = 0.05  # of the part both frames show, moving, before a subject is named
BRIGHTNESS_MIN = 10.0  # mean luma change (0-255) named as brighter or darker


@dataclass(frozen=True)
class Motion:
    zoom: str | None = None  # "in" | "out"
    pan: str | None = None  # "left" | "right"
    tilt: str | None = None  # "up" | "down"
    subject_region: str | None = None  # "left" | "centre" | "right"
    subject_direction: str | None = None  # "left" | "right" | "up" | "down"
    brightness: str | None = None  # "brighter" | "darker"


def measure(first: Frame, last: Frame) -> Motion:
    """What changes from ``first`` to ``last`` (same size, RGB)."""
    h, w = first.shape[:2]
    zoom = pan = tilt = None
    matrix = np.eye(3)
    global_motion = camera.estimate(first, last)
    if global_motion is not None and not global_motion.dissolve:
        matrix = global_motion.matrix
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
        if abs(scale - 1) > ZOOM_MIN:
            zoom = "in" if scale > 1 else "out"
        centre = np.array([[(w - 1) / 2, (h - 1) / 2]])
        dx, dy = (camera.apply(matrix, centre) - centre)[0]
        if abs(dx) > PAN_MIN * w:
            pan = "right" if dx < 0 else "left"
        if abs(dy) > PAN_MIN * h:
            tilt = "down" if dy < 0 else "up"
    aligned, grey_last, inside = _aligned(first, last, matrix)
    region, direction = _subject(aligned, grey_last, inside)
    # on the part both frames show: new content entering the frame is not a change of light
    luma0, luma1 = float(aligned[inside].mean()), float(grey_last[inside].mean())
    brightness = None
    if abs(luma1 - luma0) > BRIGHTNESS_MIN:
        brightness = "brighter" if luma1 > luma0 else "darker"
    return Motion(zoom, pan, tilt, region, direction, brightness)


def _aligned(first: Frame, last: Frame, matrix: F64) -> tuple[F32, F32, npt.NDArray[np.bool_]]:
    """Grey keyframes at analysis size, the first warped as the camera shows it at the end, and the
    mask of pixels the first frame covers there (what the camera brought in from outside is left out)."""
    h, w = first.shape[:2]
    scale = min(1.0, camera.ANALYSIS_LONG_SIDE / max(w, h))
    lw, lh = max(16, round(w * scale)), max(16, round(h * scale))
    s = np.array([[lw / w, 0, 0], [0, lh / h, 0], [0, 0, 1]])
    low = s @ matrix @ np.linalg.inv(s)
    g0 = cv2.resize(cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), (lw, lh), interpolation=cv2.INTER_AREA)
    g1 = cv2.resize(cv2.cvtColor(last, cv2.COLOR_RGB2GRAY), (lw, lh), interpolation=cv2.INTER_AREA)
    aligned = cv2.warpPerspective(g0, low, (lw, lh), flags=cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.ones_like(g0), low, (lw, lh), flags=cv2.INTER_NEAREST)
    # outside the covered part the last frame stands in, so the flow sees no edge there to follow
    aligned[cover == 0] = g1[cover == 0]
    # a margin off the edge of the covered part: sampling there mixes in the border
    inside = cv2.erode(cover, np.ones((9, 9), np.uint8)).astype(bool)
    return aligned.astype(np.float32), g1.astype(np.float32), inside


def _subject(aligned: F32, last: F32, inside: npt.NDArray[np.bool_]) -> tuple[str | None, str | None]:
    """Where motion the camera does not explain is, and which way it goes."""
    size = (aligned.shape[1], aligned.shape[0])
    dis = _cv.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    # equalised grey, so a change of light does not read as motion
    g0 = normalised_grey(
        np.asarray(cv2.cvtColor(aligned.astype(np.uint8), cv2.COLOR_GRAY2RGB), np.uint8), size
    )
    g1 = normalised_grey(np.asarray(cv2.cvtColor(last.astype(np.uint8), cv2.COLOR_GRAY2RGB), np.uint8), size)
    flow = np.asarray(dis.calc(g0, g1, None), np.float32)
    moving = (np.hypot(flow[..., 0], flow[..., 1]) > SUBJECT_MIN_PX) & inside
    if moving.sum() < SUBJECT_MIN_SHARE * inside.sum():
        return None, None
    xs = np.nonzero(moving)[1]
    cx = float(xs.mean()) / size[0]
    region = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
    fx, fy = float(np.median(flow[..., 0][moving])), float(np.median(flow[..., 1][moving]))
    if max(abs(fx), abs(fy)) < SUBJECT_MIN_PX:
        return region, None
    if abs(fx) >= abs(fy):
        return region, "right" if fx > 0 else "left"
    return region, "down" if fy > 0 else "up"


# Each phrase with its translations side by side, so neither language can lack one: (English, Chinese)
_PHRASES: dict[str, dict[str, tuple[str, str]]] = {
    "zoom": {"in": ("zoom in", "镜头推近"), "out": ("zoom out", "镜头拉远")},
    "pan": {"left": ("pan left", "镜头向左平移"), "right": ("pan right", "镜头向右平移")},
    "tilt": {"up": ("tilt up", "镜头向上摇"), "down": ("tilt down", "镜头向下摇")},
    "region": {
        "left": ("on the left", "画面左侧"),
        "right": ("on the right", "画面右侧"),
        "centre": ("in the centre", "画面中央"),
    },
    "dir": {
        "left": ("to the left", "向左"),
        "right": ("to the right", "向右"),
        "up": ("upwards", "向上"),
        "down": ("downwards", "向下"),
    },
    "light": {
        "brighter": ("The light grows brighter.", "光线逐渐变亮。"),
        "darker": ("The light grows darker.", "光线逐渐变暗。"),
    },
}
_WORDS = {
    language: {axis: {key: pair[i] for key, pair in phrases.items()} for axis, phrases in _PHRASES.items()}
    for i, language in enumerate(("en", "zh"))
}


def describe(motion: Motion, language: str) -> str:
    """A concise shot description of ``motion`` in English ("en") or Chinese ("zh")."""
    words = _WORDS["zh" if language == "zh" else "en"]
    moves = [
        words[axis][value]
        for axis, value in (("pan", motion.pan), ("tilt", motion.tilt), ("zoom", motion.zoom))
        if value is not None
    ]
    parts = []
    if language == "zh":
        parts.append(("，".join(moves) if moves else "固定镜头") + "。")
        if motion.subject_region:
            go = words["dir"][motion.subject_direction] + "移动" if motion.subject_direction else "在动"
            parts.append(f"{words['region'][motion.subject_region]}的主体{go}。")
        elif not moves:
            parts.append("画面保持平稳。")
    else:
        parts.append("Camera movement: " + (", ".join(moves) if moves else "static shot") + ".")
        if motion.subject_region:
            go = f"moves {words['dir'][motion.subject_direction]}" if motion.subject_direction else "moves"
            parts.append(f"The subject {words['region'][motion.subject_region]} {go}.")
        elif not moves:
            parts.append("The scene holds still.")
    if motion.brightness:
        parts.append(words["light"][motion.brightness])
    return " ".join(parts) if language != "zh" else "".join(parts)


# One keyframe (image to video): no motion to measure, so the recommendation is the gentle push-in
# the built-in engine renders well for any picture.
SINGLE_IMAGE = Motion(zoom="in")


class MotionExpander:
    """Writes what the keyframes show; keeps the client's prompt in front when there is one."""

    name = "motion"

    def expand(self, req: ExpandRequest) -> str:
        return join(req.prompt, self.describe(req), req.language)

    def describe(self, req: ExpandRequest) -> str:
        if req.first is not None and req.last is not None:
            motion = measure(req.first, req.last)
        elif req.first is not None:
            motion = SINGLE_IMAGE
        else:
            motion = Motion()
        return describe(motion, req.language)


def join(prompt: str, addition: str, language: str) -> str:
    """The client's prompt followed by ``addition``, punctuated for the language."""
    prompt = prompt.strip()
    if not prompt:
        return addition
    if prompt[-1] not in ".!?。！？":
        prompt += "。" if language == "zh" else "."
    return prompt + ("" if language == "zh" else " ") + addition
