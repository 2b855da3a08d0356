"""What background music costs and how loud it ends up: `python bench/soundtrack.py`.

A 5 s video (120 frames of a moving gradient at 24 fps) is rendered silent through `render_outputs`,
then `soundtrack.apply` fits, normalises and muxes a track into it.

- Every preset track, at 320x180: the integrated loudness decoded back from the MP4 (target -16
  LUFS) and the gap between the audio and the video stream's end.
- The cost, at 720p, for one track: the time `apply` took as a ratio of the silent render's, both in
  the same round (the machine is shared, so absolute times move; the ratio is the figure). The track
  is synthesised before the rounds start (a process does it once and keeps it); median of three rounds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from framecast.audio import mix, soundtrack, synth
from framecast.audio.generate import AudioModels
from framecast.media.render import render_outputs

FPS, FRAMES = 24, 120
ROUNDS = 3
COST_TRACK = "energetic"


def frames(w: int, h: int) -> list[np.ndarray]:
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    out = []
    for i in range(FRAMES):
        img = 128 + 100 * np.sin(6 * x + 0.1 * i + np.array([0, 2, 4], np.float32)) * np.cos(4 * y)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def one_round(track: str, pictures: list[np.ndarray], tmp: Path) -> tuple[float, float, float]:
    h, w = pictures[0].shape[:2]
    began = time.perf_counter()
    result = render_outputs(iter(pictures), out_dir=tmp, width=w, height=h, fps=FPS, label="")
    render_s = time.perf_counter() - began
    sound = soundtrack.Soundtrack(record=f"bgm {track}", track=track)
    began = time.perf_counter()
    soundtrack.apply(sound, [result.video_path], frames=FRAMES, fps=FPS, seed=0, models=AudioModels())
    apply_s = time.perf_counter() - began
    samples, rate = mix.decode(result.video_path)
    with av.open(str(result.video_path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.duration and v.time_base and a.duration and a.time_base
        gap = abs(float(a.duration * a.time_base) - float(v.duration * v.time_base))
    return mix.loudness(samples, rate), gap, apply_s / render_s


def main() -> None:
    small = frames(320, 180)
    print(f"320x180, {FRAMES} frames at {FPS} fps")
    print("| track | loudness LUFS | audio/video end gap ms |")
    print("| --- | ---: | ---: |")
    for track in synth.TRACKS:
        with tempfile.TemporaryDirectory() as tmp:
            lufs, gap, _ = one_round(track, small, Path(tmp))
        print(f"| {track} | {lufs:.1f} | {1000 * gap:.1f} |")
    big = frames(1280, 720)
    synth.render(COST_TRACK)
    ratios = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            ratios.append(one_round(COST_TRACK, big, Path(tmp))[2])
    shown = ", ".join(f"{r:.3f}" for r in ratios)
    print(
        f"1280x720, {COST_TRACK}: apply / silent render = {statistics.median(ratios):.3f} (rounds: {shown})"
    )


if __name__ == "__main__":
    main()
