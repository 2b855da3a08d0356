"""A clip's motion as a colour video: what a motion reference (Kling's ``refer_type: feature``) becomes
for a model that follows a control video (Wan VACE's "flow" condition).

Per consecutive pair, DIS optical flow (the in-betweener's, :mod:`framecast.engines.flow`) drawn the way
optical-flow pictures usually are and VACE's flow annotator draws them: hue is the direction, saturation
the speed (relative to the fastest pixel of that frame), and no motion is white. The content of the
clip (its colours, its objects) does not pass through, only how things move.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import cv2
import numpy as np

from framecast.engines.base import Frame
from framecast.engines.flow import normalised_grey

_cv: Any = cv2  # OpenCV's stubs miss DIS and reject None for the initial flow


def motion_video(frames: list[Frame]) -> list[Frame]:
    """One flow picture per frame (the first repeats the second's: it has no predecessor)."""
    if len(frames) < 2:
        return [np.full_like(f, 255) for f in frames]
    h, w = frames[0].shape[:2]
    dis = _cv.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    greys = [normalised_grey(f, (w, h)) for f in frames]
    pictures = [_draw(np.asarray(dis.calc(a, b, None), np.float32)) for a, b in pairwise(greys)]
    return [pictures[0], *pictures]


def _draw(flow: np.ndarray[Any, np.dtype[np.float32]]) -> Frame:
    magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)
    top = float(magnitude.max())
    hsv = np.empty((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV's hue runs 0-180
    hsv[..., 1] = np.clip(magnitude / top * 255, 0, 255).astype(np.uint8) if top > 1e-3 else 0
    hsv[..., 2] = 255
    return np.ascontiguousarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), dtype=np.uint8)
