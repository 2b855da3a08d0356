"""What handing a frame to libx264 costs, and how long a render beside the API keeps the event loop waiting.

    python bench/encode_costs.py                # ~1.5 min
    python bench/encode_costs.py --seconds 30   # a longer lateness window per round

Two measurements, each of the code before (``VideoFrame.from_ndarray``, then ``VideoFrame.reformat``,
written out below) against ``H264Writer`` as shipped (``encode.rgb_frame``, then one ``VideoReformatter``
per file, which keeps its swscale context):

- conversion: RGB 720p frame to the yuv420p frame the encoder takes (BT.709, limited range), per frame,
  median of rounds over 24 real frames, and whether the two give the same bytes;
- event-loop lateness: two threads at nice +10 render 720p first/last videos (the Big Buck Bunny large
  pair of ``bench/engine.py``, as embedded workers do) while the main thread sleeps 2 ms at a time and
  records how late each wake-up is. A wake-up needs the GIL, so what the render threads do holding it
  shows up here; GET p99 while rendering (``bench/load.py --rows rendering``) is the same effect seen
  through HTTP. The two variants alternate for ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import job, keyframes
from framecast.engines.builtin import BuiltinEngine
from framecast.media import encode
from framecast.media.render import render_outputs

_YUV = {
    "format": "yuv420p",
    "src_colorspace": Colorspace.ITU709,
    "dst_colorspace": Colorspace.ITU709,
    "dst_color_range": ColorRange.MPEG,
}


def convert_before(frame: np.ndarray) -> av.VideoFrame:
    """The conversion as ``H264Writer.write`` did it before: a copy holding the GIL, a new converter."""
    return av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(**_YUV)


def write_before(self: encode.H264Writer, frame: np.ndarray, *, keyframe: bool = False) -> None:
    """``H264Writer.write`` before, for the lateness rounds (patched in, then restored)."""
    vf = convert_before(frame)
    vf.pts = self.frames
    if keyframe:
        vf.pict_type = av.video.frame.PictureType.I
    container: Any = self._container
    container.mux(self._stream.encode(vf))
    self.frames += 1


def conversion(rounds: int = 5) -> None:
    a, b = keyframes(1280, 720, "large")
    frames = [
        np.ascontiguousarray(
            ((a.astype(np.uint16) * (24 - i) + b.astype(np.uint16) * i) // 24).astype(np.uint8)
        )
        for i in range(24)
    ]
    shipped = av.video.reformatter.VideoReformatter()

    def convert_shipped(frame: np.ndarray) -> av.VideoFrame:
        return shipped.reformat(encode.rgb_frame(frame), **_YUV)

    def digest(convert: Callable[[np.ndarray], av.VideoFrame]) -> str:
        h = hashlib.sha256()
        for f in frames:
            for plane in convert(f).planes:
                h.update(bytes(plane))
        return h.hexdigest()

    same = digest(convert_before) == digest(convert_shipped)
    cases = {
        "VideoFrame.from_ndarray (the copy, before)": lambda f: av.VideoFrame.from_ndarray(f, format="rgb24"),
        "encode.rgb_frame (the copy, shipped)": encode.rgb_frame,
        "from_ndarray + VideoFrame.reformat (before)": convert_before,
        "rgb_frame + the file's VideoReformatter (shipped)": convert_shipped,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            start = time.perf_counter()
            for f in frames:
                fn(f)
            times[name].append((time.perf_counter() - start) / len(frames) * 1e3)
    print(
        f"| 720p RGB frame to the encoder's yuv420p, median of {rounds} rounds x {len(frames)} | per frame |"
    )
    print("| --- | ---: |")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.2f} ms |")
    print(f"\nsame yuv420p bytes, before and shipped: {same}")


def lateness(seconds: float) -> list[float]:
    """Wake-up lateness (ms) of 2 ms sleeps while two nice +10 threads render, after a 3 s start."""
    stop = threading.Event()
    jobs = [job(1280, 720, 120, "large") for _ in range(2)]

    def render(j: Any) -> None:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # as FRAMECAST_WORKER_NICE does
        with tempfile.TemporaryDirectory() as tmp:
            while not stop.is_set():
                frames = BuiltinEngine().generate(j, lambda: False)
                render_outputs(frames, out_dir=Path(tmp), width=1280, height=720, fps=24, label="{}")

    threads = [threading.Thread(target=render, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    try:
        time.sleep(3.0)  # both renders past their first analysis
        late: list[float] = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            time.sleep(0.002)
            late.append((time.perf_counter() - start - 0.002) * 1e3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    return late


def lateness_rounds(rounds: int, seconds: float) -> None:
    shipped_write = encode.H264Writer.write
    pooled: dict[str, list[float]] = {"before": [], "shipped": []}
    print(
        f"\n| event-loop wake-up lateness while two nice +10 threads render 720p, {seconds:g} s | round | ",
        end="",
    )
    print("p50 ms | p99 ms | p99.9 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in range(rounds):
        for name in pooled:
            encode.H264Writer.write = write_before if name == "before" else shipped_write  # type: ignore[method-assign]
            try:
                late = sorted(lateness(seconds))
            finally:
                encode.H264Writer.write = shipped_write  # type: ignore[method-assign]
            pooled[name] += late
            print(f"| {name} | {r + 1} | {_pcts(late)} |", flush=True)
    for name, late in pooled.items():
        print(f"| {name}, all rounds | - | {_pcts(sorted(late))} |")


def _pcts(late: list[float]) -> str:
    def at(q: float) -> float:
        return late[min(len(late) - 1, int(q * len(late)))]

    return f"{at(0.5):.2f} | {at(0.99):.2f} | {at(0.999):.2f} | {late[-1]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="alternating lateness rounds of each variant")
    ap.add_argument("--seconds", type=float, default=12.0, help="measured seconds per lateness round")
    args = ap.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}\n")
    conversion()
    lateness_rounds(args.rounds, args.seconds)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
