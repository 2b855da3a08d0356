"""Visible watermark: a logo or the default "AI generated" mark, alpha-blended into one corner."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from framecast.frames import Frame

DEFAULT_TEXT = "AI generated"
# Share of the frame width the mark spans, and the corner margin as a share of the short side.
WIDTH_SHARE = 0.13
MARGIN_SHARE = 0.03
# Never let a tall logo cover more than this share of the frame height.
MAX_HEIGHT_SHARE = 0.25


@dataclass(frozen=True)
class WatermarkSpec:
    position: int  # 1 top-left, 2 top-right, 3 bottom-right, 4 bottom-left (Vidu order)
    image: Frame | None = None  # RGBA or RGB uint8 logo; None -> default "AI generated" text mark


@lru_cache(maxsize=4)
def _text_mark(text: str) -> npt.NDArray[np.uint8]:
    """White text with a dark outline on transparency, rendered large once and scaled down per video."""
    font = ImageFont.load_default(size=96)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font, stroke_width=6)
    img = Image.new("RGBA", (int(right - left) + 8, int(bottom - top) + 8), (0, 0, 0, 0))
    ImageDraw.Draw(img).text(
        (4 - left, 4 - top),
        text,
        font=font,
        fill=(255, 255, 255, 230),
        stroke_width=6,
        stroke_fill=(0, 0, 0, 150),
    )
    return np.asarray(img, dtype=np.uint8)


class Watermarker:
    """Precomputes the scaled mark and its place once; :meth:`apply` blends only that small region."""

    def __init__(self, spec: WatermarkSpec, *, width: int, height: int) -> None:
        if spec.position not in (1, 2, 3, 4):
            raise ValueError(f"watermark position must be 1-4, got {spec.position}")
        logo = _text_mark(DEFAULT_TEXT) if spec.image is None else _as_rgba(spec.image)
        lh, lw = logo.shape[:2]
        scale = min(WIDTH_SHARE * width / lw, MAX_HEIGHT_SHARE * height / lh)
        mw, mh = max(1, round(lw * scale)), max(1, round(lh * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(logo, (mw, mh), interpolation=interp)
        # Premultiplied form makes the per-frame blend one multiply and one add.
        alpha = small[..., 3:4].astype(np.float32) / 255.0
        self._colour = small[..., :3].astype(np.float32) * alpha
        self._keep = 1.0 - alpha
        margin = round(MARGIN_SHARE * min(width, height))
        x = margin if spec.position in (1, 4) else width - margin - mw
        y = margin if spec.position in (1, 2) else height - margin - mh
        self.box = (max(0, x), max(0, y), min(width, x + mw), min(height, y + mh))

    def apply(self, frame: Frame) -> Frame:
        out = frame.copy()
        x0, y0, x1, y1 = self.box
        roi = out[y0:y1, x0:x1].astype(np.float32)
        keep = self._keep[: y1 - y0, : x1 - x0]
        colour = self._colour[: y1 - y0, : x1 - x0]
        out[y0:y1, x0:x1] = np.clip(roi * keep + colour + 0.5, 0, 255).astype(np.uint8)
        return out


def _as_rgba(image: Frame) -> npt.NDArray[np.uint8]:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"watermark image must be uint8 RGB or RGBA, got {image.dtype} {image.shape}")
    if image.shape[2] == 4:
        return image
    return np.dstack([image, np.full(image.shape[:2], 255, dtype=np.uint8)])
