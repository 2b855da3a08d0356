"""In-between quality on real footage: builtin engine vs linear cross-fade vs FFmpeg minterpolate.

    python bench/quality.py

Frames i and i+k of a real clip are the first/last keyframes; every generated in-between is compared
with the true frame (PSNR, SSIM) for k in 2, 4, 8, 16. Pairs never straddle a cut, and repeated
frames (25 fps clips made from 24 fps sources) are dropped first so time steps are uniform.

    python bench/quality.py --dev   # the disjoint pairs the engine's parameters were tuned on
    python bench/quality.py --dev --per-pair   # also each pair's PSNR, and which in-betweener drew it

The reported pairs are evenly spaced starts; ``--dev`` takes the starts half-way between them, so
tuning never saw the reported pairs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clips import read_frames
from engine import minterpolate
from framecast.domain import TaskKind
from framecast.engines.base import Frame, GenerationJob
from framecast.engines.builtin import BuiltinEngine, inbetweener

KS = (2, 4, 8, 16)
CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")
CUT_THRESHOLD = 30.0  # mean absolute difference (0-255) between neighbours that marks a cut
DUP_THRESHOLD = 0.3
PAIRS_PER_K = 6
RESULTS = Path(__file__).resolve().parent / "results"


def psnr(a: Frame, b: Frame) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def ssim(a: Frame, b: Frame) -> float:
    """Mean SSIM on luma, Gaussian window sigma 1.5 (Wang et al. 2004 constants)."""
    x = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    y = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def shots(frames: list[Frame]) -> list[list[Frame]]:
    """Split at cuts and drop repeated frames."""
    out: list[list[Frame]] = [[frames[0]]]
    for f in frames[1:]:
        d = float(np.mean(np.abs(f.astype(np.int16) - out[-1][-1].astype(np.int16))))
        if d > CUT_THRESHOLD:
            out.append([f])
        elif d > DUP_THRESHOLD:
            out[-1].append(f)
    return [s for s in out if len(s) > 2]


def engine_inbetweens(a: Frame, b: Frame, k: int) -> list[Frame]:
    h, w = a.shape[:2]
    job = GenerationJob(
        kind=TaskKind.FIRST_LAST, width=w, height=h, num_frames=k + 1, fps=24, seed=1, first=a, last=b
    )
    return list(BuiltinEngine().generate(job, lambda: False))[1:-1]


def crossfade(a: Frame, b: Frame, k: int) -> list[Frame]:
    return [cv2.addWeighted(a, 1 - j / k, b, j / k, 0.0) for j in range(1, k)]


class KeyPair(NamedTuple):
    label: str  # clip, shot (after cuts and repeated frames are dropped) and the first keyframe's index
    k: int
    first: Frame
    last: Frame
    truth: list[Frame]  # the true in-betweens


def pairs(dev: bool) -> Iterator[KeyPair]:
    """Every reported pair, or every dev pair."""
    for clip in CLIPS:
        frames = read_frames(clip)
        if frames[0].shape[1] > 640:  # 720p minterpolate is ~0.5 s a frame; half size keeps this bench short
            frames = [
                cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA)
                for f in frames
            ]
        split = shots(frames)
        for k in KS:
            starts = [(si, i) for si, s in enumerate(split) for i in range(0, len(s) - k, k)]
            step = max(1, len(starts) // PAIRS_PER_K)
            chosen = starts[::step][:PAIRS_PER_K]
            if dev:
                chosen = [s for s in starts[step // 2 :: step][:PAIRS_PER_K] if s not in chosen]
            for si, i in chosen:
                shot = split[si]
                label = f"{clip.removesuffix('.mp4')} shot {si} frame {i}"
                yield KeyPair(label, k, shot[i], shot[i + k], shot[i + 1 : i + k])
        del frames, split


def main() -> None:
    dev = "--dev" in sys.argv[1:]
    per_pair = "--per-pair" in sys.argv[1:]
    methods = {
        "builtin": engine_inbetweens,
        "cross-fade": crossfade,
        "minterpolate": lambda a, b, k: minterpolate(a, b, k + 1)[1:-1],
    }
    # per k, per method: list of (psnr, ssim) means per pair
    table: dict[int, dict[str, list[tuple[float, float]]]] = {k: {m: [] for m in methods} for k in KS}
    # Which in-betweener the engine chose per pair: the camera path, the flow alone, or a dissolve.
    paths: dict[str, int] = {}
    rows: list[str] = []
    for label, k, first, last, truth in pairs(dev):
        kind = type(inbetweener(first, last)).__name__
        paths[kind] = paths.get(kind, 0) + 1
        for name, fn in methods.items():
            gen = fn(first, last, k)
            table[k][name].append(
                (
                    float(np.mean([psnr(g, t) for g, t in zip(gen, truth, strict=True)])),
                    float(np.mean([ssim(g, t) for g, t in zip(gen, truth, strict=True)])),
                )
            )
        got = {m: table[k][m][-1][0] for m in methods}
        rows.append(
            f"| {label} | {k} | {kind} | {got['builtin']:.2f} | {got['cross-fade']:.2f} | "
            f"{got['minterpolate']:.2f} | {got['builtin'] - got['minterpolate']:+.2f} |"
        )

    print(
        "| k | pairs | builtin PSNR | cross-fade PSNR | minterpolate PSNR | builtin SSIM | cross-fade SSIM "
        "| minterpolate SSIM |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in KS:
        row = table[k]
        p = {m: np.mean([x[0] for x in v]) for m, v in row.items()}
        s = {m: np.mean([x[1] for x in v]) for m, v in row.items()}
        print(
            f"| {k} | {len(row['builtin'])} | {p['builtin']:.2f} | {p['cross-fade']:.2f} | "
            f"{p['minterpolate']:.2f} | {s['builtin']:.4f} | {s['cross-fade']:.4f} | "
            f"{s['minterpolate']:.4f} |"
        )
    allp = {m: [x[0] for k in KS for x in table[k][m]] for m in methods}
    diffs = np.array(allp["builtin"]) - np.array(allp["cross-fade"])
    print(
        f"\nmean PSNR over all {len(diffs)} pairs: "
        + ", ".join(f"{m} {np.mean(v):.2f} dB" for m, v in allp.items())
    )
    print("in-betweener per pair: " + ", ".join(f"{kind} {n}" for kind, n in sorted(paths.items())))
    print(
        f"worst pair vs cross-fade: {diffs.min():+.2f} dB; pairs where builtin beats cross-fade by >= 2 dB: "
        f"{int((diffs >= 2).sum())}/{len(diffs)}"
    )
    # "Clear, trackable motion": an independent motion-compensated method (minterpolate) beats the
    # cross-fade by at least 1 dB, so there is motion and it can be followed.
    motion = np.array(allp["minterpolate"]) - np.array(allp["cross-fade"])

    def wins(subset: np.ndarray) -> str:
        """How many pairs in ``subset`` builtin wins by >= 2 dB over the cross-fade, as "wins/pairs"."""
        return f"{int((diffs[subset] >= 2).sum())}/{int(subset.sum())}"

    track, clear = motion >= 1.0, motion >= 2.0
    if track.any():
        print(
            f"trackable pairs (minterpolate >= cross-fade + 1 dB): {int(track.sum())}; builtin - cross-fade "
            f"on them: mean {diffs[track].mean():+.2f} dB, min {diffs[track].min():+.2f} dB, "
            f">= 2 dB on {wins(track)}"
        )
    if clear.any():
        print(
            f"stricter (minterpolate >= cross-fade + 2 dB): {int(clear.sum())} pairs; "
            f"builtin >= cross-fade + 2 dB on {wins(clear)}"
        )
    if per_pair:
        print(
            "\n| pair | k | in-betweener | builtin PSNR | cross-fade PSNR | minterpolate PSNR "
            "| builtin - minterpolate |"
        )
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
        print("\n".join(rows))
    if dev:
        return

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        ax.plot(KS, [np.mean([x[0] for x in table[k][m]]) for k in KS], marker="o", label=m)
    ax.set_xscale("log", base=2)
    ax.set_xticks(KS, [str(k) for k in KS])
    ax.set_xlabel("keyframe distance k (frames)")
    ax.set_ylabel("mean PSNR of in-betweens (dB)")
    ax.legend()
    ax.grid(alpha=0.3)
    RESULTS.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(RESULTS / "quality_psnr.png", dpi=100)


if __name__ == "__main__":
    main()
