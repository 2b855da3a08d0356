"""Speed and memory of the builtin engine + encoder against a bare libx264 encode and FFmpeg minterpolate.

    python bench/engine.py            # 720p 5 s 24 fps, plus 1080p 10 s peak memory
    python bench/engine.py --quick --rounds 3   # only the first/last pairs, 3 rounds each
    python bench/engine.py --against OLD --pairs pan --rounds 5   # this tree and checkout OLD, alternating

Each measurement runs in its own subprocess so ``ru_maxrss`` is that measurement's peak (native memory
included). The machine is shared, so the bare encode and the render are measured back to back in each
of five rounds and the ratio is taken within a round; the median round is the headline figure, with
all rounds printed (the lowest ratio would favour rounds where the bare encode was disturbed). Two
keyframe pairs: Big Buck Bunny frames 20 and 60 (large motion, the engine's fast path) and frames 20 and
22 (small motion, where it samples the keyframes through their 2x upsampling; see
``framecast.engines.flow``), and a 25% camera pan (two windows over one frame: the camera path of
``framecast.engines.camera``), and the same pan with the subject moving inside the frame (the camera
path with local flow on top). Then the camera moves: image to video, and first/last with a move on top.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clips import read_frames
from framecast.domain import TaskKind
from framecast.engines import camera
from framecast.engines.base import Frame, GenerationJob
from framecast.engines.builtin import BuiltinEngine, inbetweener
from framecast.media.encode import H264Writer
from framecast.media.render import render_outputs

PAIRS = {"large": (20, 60), "small": (20, 22), "pan": (100, 100), "pan_subject": (96, 104)}
# The "pan" pair is a camera move: two 720p windows, 25% of the width apart, over frame 100 shown at
# 1.5x (bench/camera.py has the quality side of such moves). "pan_subject" is the same move over frames
# 96 and 104, where the bunny moves inside the frame: the camera path with local flow on top.
PAN_WINDOWS = ((800.0, 540.0), (1120.0, 540.0))
# Rounds per pair; the median round is the headline.
ROUNDS = 5
# Camera moves, measured the same way in fewer rounds: (keyframe pair, kind, prompt).
MOVES = {
    "image + push in": ("large", TaskKind.IMAGE, "push in"),
    "large + push in": ("large", TaskKind.FIRST_LAST, "push in"),
}
MOVE_ROUNDS = 3


def keyframes(width: int, height: int, pair: str = "large") -> tuple[Frame, Frame]:
    if pair.startswith("pan"):
        src = read_frames("bigbuckbunny.mp4", set(PAIRS[pair]))
        big = [cv2.resize(f, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC) for f in src]
        wins = [camera.window_matrix(1.0, cx, cy, 1280, 720) for cx, cy in PAN_WINDOWS]
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        a, b = (
            np.ascontiguousarray(cv2.warpPerspective(big[min(k, len(big) - 1)], m, (1280, 720), flags=flags))
            for k, m in enumerate(wins)
        )
    else:
        a, b = read_frames("bigbuckbunny.mp4", set(PAIRS[pair]))
    if (a.shape[1], a.shape[0]) != (width, height):
        a = cv2.resize(a, (width, height), interpolation=cv2.INTER_CUBIC)
        b = cv2.resize(b, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def job(width: int, height: int, n: int, pair: str = "large") -> GenerationJob:
    """A first/last job on one of PAIRS, or one of MOVES."""
    pair, kind, prompt = MOVES.get(pair, (pair, TaskKind.FIRST_LAST, ""))
    a, b = keyframes(width, height, pair)
    return GenerationJob(
        kind=kind,
        width=width,
        height=height,
        num_frames=n,
        fps=24,
        seed=1,
        prompt=prompt,
        first=a,
        last=b if kind is TaskKind.FIRST_LAST else None,
    )


def minterpolate(a: Frame, b: Frame, n: int) -> list[Frame]:
    """FFmpeg's motion-compensated interpolation, n frames from a to b inclusive."""
    h, w = a.shape[:2]
    graph = av.filter.Graph()
    src = graph.add_buffer(width=w, height=h, format="rgb24", time_base=Fraction(1, 1))
    mi = graph.add("minterpolate", f"fps={n - 1}:mi_mode=mci:scd=none")
    sink = graph.add("buffersink")
    src.link_to(mi)
    mi.link_to(sink)
    graph.configure()
    out: list[Frame] = []

    def drain() -> None:
        while True:
            try:
                f = sink.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            t = float(f.pts * f.time_base)
            if 1.0 - 1e-6 <= t <= 2.0 + 1e-6:
                out.append(f.to_ndarray(format="rgb24"))

    # minterpolate needs neighbours on both sides; the pair sits between t=1 s and t=2 s.
    for pts, img in enumerate([a, a, b, b]):
        vf = av.VideoFrame.from_ndarray(img, format="rgb24")
        vf.pts = pts
        vf.time_base = Fraction(1, 1)
        src.push(vf)
        drain()
    src.push(None)
    drain()
    return out[:n]


def cpu_s() -> float:
    """CPU seconds of this process so far, every thread (libx264's included), user and system."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def measure(mode: str, width: int, height: int, n: int, pair: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if mode == "bare":
            frames = list(BuiltinEngine().generate(job(width, height, n, pair), lambda: False))
            t0, c0 = time.perf_counter(), cpu_s()
            with H264Writer(out / "bare.mp4", width=width, height=height, fps=24) as w:
                for f in frames:
                    w.write(f)
        elif mode == "render":
            j = job(width, height, n, pair)
            t0, c0 = time.perf_counter(), cpu_s()
            render_outputs(
                BuiltinEngine().generate(j, lambda: False),
                out_dir=out,
                width=width,
                height=height,
                fps=24,
                label="{}",
            )
        elif mode == "analysis":  # the per-pair analysis alone, median of 5 after one to warm up
            a, b = keyframes(width, height, pair)
            inbetweener(a, b)
            runs = []
            for _ in range(5):
                t0, c0 = time.perf_counter(), cpu_s()
                inbetweener(a, b)
                runs.append((time.perf_counter() - t0, cpu_s() - c0))
            wall, cpu = sorted(runs)[2]
            return {"wall_s": wall, "cpu_s": cpu, "peak_mb": 0.0}
        elif mode == "minterpolate":
            a, b = keyframes(width, height, pair)
            t0, c0 = time.perf_counter(), cpu_s()
            frames = minterpolate(a, b, n)
            with H264Writer(out / "mi.mp4", width=width, height=height, fps=24) as w:
                for f in frames:
                    w.write(f)
        else:
            raise SystemExit(f"unknown mode {mode}")
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb}


def run(
    mode: str, width: int, height: int, n: int, pair: str = "large", tree: Path | None = None
) -> dict[str, float]:
    """One measurement in a subprocess: of this checkout, or of the checkout at ``tree`` (its src/ and
    its bench/engine.py, the kernel built in place there)."""
    script, env = __file__, None
    if tree is not None:
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}
        # "analysis" is newer than some trees compared against: this script times their src/ then
        if mode != "analysis":
            script = str(tree / "bench" / "engine.py")
    cmd = [sys.executable, script, "--one", mode, str(width), str(height), str(n), pair]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def compare(against: Path, pairs: list[str], n_rounds: int, n: int) -> None:
    """This checkout and the one at ``against`` alternating within each round, each a bare encode then
    a render; the ratio is taken within the pair of runs. The CPU columns count every thread of each run (the
    encoder's too): CPU time moves less than wall time when other work shares the cores. The analysis
    columns time the per-pair analysis alone (``inbetweener``, median of 5) in a third subprocess."""
    print(f"## This checkout against {against.name}, alternating, 720p {n} frames\n")
    print(
        "| pair | round | code | load avg | bare encode s | builtin + render_outputs s | ratio | "
        "bare CPU s | render CPU s | CPU ratio | peak MB | analysis s | analysis CPU s |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios: dict[tuple[str, str], list[float]] = {}
    cpu_ratios: dict[tuple[str, str], list[float]] = {}
    analyses: dict[tuple[str, str], list[float]] = {}
    for pair in pairs:
        for r in range(n_rounds):
            for code, tree in (("this", None), ("against", against)):
                avg = load()
                bare, rend = run("bare", 1280, 720, n, pair, tree), run("render", 1280, 720, n, pair, tree)
                analysis = run("analysis", 1280, 720, n, pair, tree)
                ratio, cpu_ratio = rend["wall_s"] / bare["wall_s"], rend["cpu_s"] / bare["cpu_s"]
                ratios.setdefault((pair, code), []).append(ratio)
                cpu_ratios.setdefault((pair, code), []).append(cpu_ratio)
                analyses.setdefault((pair, code), []).append(analysis["wall_s"])
                print(
                    f"| {pair} | {r + 1} | {code} | {avg} | {bare['wall_s']:.2f} | {rend['wall_s']:.2f} | "
                    f"{ratio:.2f}x | {bare['cpu_s']:.2f} | {rend['cpu_s']:.2f} | {cpu_ratio:.2f}x | "
                    f"{rend['peak_mb']:.0f} | {analysis['wall_s']:.3f} | {analysis['cpu_s']:.3f} |",
                    flush=True,
                )
    print()
    for (pair, code), rs in ratios.items():
        cs, an = cpu_ratios[(pair, code)], analyses[(pair, code)]
        print(
            f"- {pair}, {code}: median {statistics.median(rs):.2f}x ({', '.join(f'{x:.2f}' for x in rs)}); "
            f"CPU median {statistics.median(cs):.2f}x ({', '.join(f'{x:.2f}' for x in cs)}); "
            f"analysis median {statistics.median(an):.3f} s"
        )


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        mode, w, h, n, pair = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
        print(json.dumps(measure(mode, w, h, n, pair)))
        return
    rounds_arg = sys.argv[sys.argv.index("--rounds") + 1] if "--rounds" in sys.argv else str(ROUNDS)
    quick = "--quick" in sys.argv  # only the first/last pairs: no camera-move jobs, minterpolate, 1080p
    n_rounds = int(rounds_arg)
    n = 5 * 24
    if "--against" in sys.argv:
        pairs = sys.argv[sys.argv.index("--pairs") + 1].split(",") if "--pairs" in sys.argv else list(PAIRS)
        compare(Path(sys.argv[sys.argv.index("--against") + 1]).resolve(), pairs, n_rounds, n)
        return
    print("Per-pair analysis (all that is done once per pair, camera stage included), 720p, median of 3:\n")
    for pair in PAIRS:
        a, b = keyframes(1280, 720, pair)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            kind = type(inbetweener(a, b)).__name__
            times.append(time.perf_counter() - t0)
        print(f"- {pair}: {sorted(times)[1]:.3f} s ({kind})")
    print()
    print("## 720p, 5 s at 24 fps (120 frames), first/last frame\n")
    print(f"{n_rounds} rounds per pair; in each, the bare encode of the engine's frames, then the render.\n")
    print("| pair | round | load avg | bare encode s | builtin + render_outputs s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rounds: dict[str, list[tuple[float, dict[str, float], dict[str, float]]]] = {p: [] for p in PAIRS}
    for pair in PAIRS:
        for r in range(n_rounds):
            avg = load()
            bare, rend = run("bare", 1280, 720, n, pair), run("render", 1280, 720, n, pair)
            ratio = rend["wall_s"] / bare["wall_s"]
            walls = f"{bare['wall_s']:.2f} | {rend['wall_s']:.2f}"
            print(f"| {pair} | {r + 1} | {avg} | {walls} | {ratio:.2f}x |")
            rounds[pair].append((ratio, bare, rend))
    best = {pair: sorted(rs, key=lambda r: r[0])[len(rs) // 2] for pair, rs in rounds.items()}
    print("\nMedian ratio per pair: " + ", ".join(f"{p} {r[0]:.2f}x" for p, r in best.items()))
    if quick:
        return
    print(f"\nCamera moves, 720p 5 s, {MOVE_ROUNDS} rounds each:\n")
    print("| job | round | bare encode s | builtin + render_outputs s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for move in MOVES:
        for r in range(MOVE_ROUNDS):
            bare, rend = run("bare", 1280, 720, n, move), run("render", 1280, 720, n, move)
            ratio = rend["wall_s"] / bare["wall_s"]
            print(f"| {move} | {r + 1} | {bare['wall_s']:.2f} | {rend['wall_s']:.2f} | {ratio:.2f}x |")
    mi = run("minterpolate", 1280, 720, n)
    big = run("render", 1920, 1080, 10 * 24)
    print("\nMedian round per pair (bare run's peak RSS includes its 120 pre-rendered frames):\n")
    print("| pair | run | wall s | peak RSS MB | vs bare encode |")
    print("| --- | --- | ---: | ---: | ---: |")
    for pair, (ratio, bare, rend) in best.items():
        print(f"| {pair} | bare libx264 encode | {bare['wall_s']:.2f} | {bare['peak_mb']:.0f} | 1.00x |")
        wall, peak = rend["wall_s"], rend["peak_mb"]
        print(f"| {pair} | builtin + render_outputs | {wall:.2f} | {peak:.0f} | {ratio:.2f}x |")
    _, bare, rend = best["large"]
    print(
        f"| large | FFmpeg minterpolate (mci) + encode | {mi['wall_s']:.2f} | {mi['peak_mb']:.0f} | "
        f"{mi['wall_s'] / bare['wall_s']:.2f}x |"
    )
    print(f"\nbuiltin is {mi['wall_s'] / rend['wall_s']:.1f}x faster than minterpolate (large pair)")
    print(
        f"\n1080p, 10 s at 24 fps (240 frames) through render_outputs: {big['wall_s']:.2f} s, "
        f"peak RSS {big['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
