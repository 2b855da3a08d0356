"""The engine's DIS flow against the other dense flows OpenCV has, on the dev pairs only.

    pip install --target DIR --no-deps opencv-contrib-python-headless==5.0.0.93   # pinned OpenCV + contrib
    PYTHONPATH=DIR python bench/flow_estimators.py    # every estimator, ~15 min (TV-L1 takes 10 of them)
    PYTHONPATH=DIR python bench/flow_estimators.py --only deepflow,rlof
    python bench/flow_estimators.py --only dis-mirrored,ensemble   # these two need no contrib

Most estimators besides DIS are in opencv-contrib's ``optflow`` module, which the engine's pinned
``opencv-python-headless`` leaves out; installed into a separate folder they stand in for ``cv2`` for this
script only. ``dis-mirrored`` is DIS on both images mirrored left-right (DIS visits and propagates its
patches in scan order, so this is a second estimate with partly its own errors), and ``ensemble`` the mean
of the in-betweens rendered from DIS and from ``dis-mirrored`` (of the frames, not of the flows).

Each estimator replaces DIS, with everything around it unchanged (the grey images it is given, the trust,
the confidence map, the kernel), in the engine's two flows:

- the flow of a still camera (``framecast.engines.flow``), on ``bench/quality.py``'s 42 dev pairs: the
  engine's own output, mean PSNR per pair;
- the residual flow of the camera path, on ``bench/camera.py``'s 11 ``DEV_CASES``, through
  ``camera_variants.py``'s float prototype of the ``camera_flow`` kernel.

Printed: per estimator, the mean PSNR, its difference against DIS per pair or case in the same run (mean,
min, max), and the time the engine took over the quality pairs (whole renders, so DIS's share is the rest).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality
from camera_variants import F32, dev_cases, dis, flows_variant, mean_frame, mirrored
from camera_variants import psnr as camera_psnr
from framecast.engines import flow
from framecast.engines.base import Frame

_cv: Any = cv2
Flow = Callable[[np.ndarray, np.ndarray], F32]


def _bgr(g: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR))


# name -> (what it is, the flow from a to b on the engine's grey images); contrib's defaults throughout
ESTIMATORS: dict[str, tuple[str, Flow]] = {
    "dis": ("DIS, medium preset (what the engine ships)", dis),
    "dis-mirrored": ("DIS on left-right mirrored images, mirrored back", lambda a, b: mirrored(a, b, 1)),
    "deepflow": (
        "DeepFlow (variational, without DeepMatching)",
        lambda a, b: np.asarray(_cv.optflow.createOptFlow_DeepFlow().calc(a, b, None), np.float32),
    ),
    "rlof": (
        "dense RLOF (robust local flow, interpolated)",
        lambda a, b: np.asarray(_cv.optflow.calcOpticalFlowDenseRLOF(_bgr(a), _bgr(b), None), np.float32),
    ),
    "sparse-to-dense": (
        "pyramidal Lucas-Kanade on a grid, edge-aware interpolation",
        lambda a, b: np.asarray(_cv.optflow.calcOpticalFlowSparseToDense(a, b), np.float32),
    ),
    "pca": (
        "PCAFlow",
        lambda a, b: np.asarray(_cv.optflow.createOptFlow_PCAFlow().calc(a, b, None), np.float32),
    ),
    "tv-l1": (
        "dual TV-L1",
        lambda a, b: np.asarray(_cv.optflow.DualTVL1OpticalFlow_create().calc(a, b, None), np.float32),
    ),
}

# Estimators that run without opencv-contrib
BUILT_IN = {"dis", "dis-mirrored"}
# name -> members: the mean of the members' in-betweens (not of their flows)
ENSEMBLES: dict[str, tuple[str, ...]] = {"ensemble": ("dis", "dis-mirrored")}


class _Stand:
    """What ``DISOpticalFlow_create`` returns while an estimator stands in for DIS."""

    def __init__(self, fn: Flow) -> None:
        self.fn = fn

    def calc(self, a: np.ndarray, b: np.ndarray, _: object) -> F32:
        return self.fn(a, b)


class _CvWith:
    """``cv2`` with ``DISOpticalFlow_create`` replaced, for ``framecast.engines.flow``."""

    def __init__(self, fn: Flow) -> None:
        self.fn = fn

    def __getattr__(self, name: str) -> Any:
        return getattr(cv2, name)

    def DISOpticalFlow_create(self, *_: object) -> _Stand:
        return _Stand(self.fn)


def _psnr(frames: list[Frame], truth: list[Frame]) -> float:
    return float(np.mean([quality.psnr(g, t) for g, t in zip(frames, truth, strict=True)]))


def quality_dev(names: list[str], ensembles: list[str]) -> dict[str, tuple[list[float], float]]:
    """Per estimator and ensemble: the engine's mean PSNR per dev pair, and the seconds its renders
    took (an ensemble's: its members')."""
    out: dict[str, tuple[list[float], float]] = {n: ([], 0.0) for n in names + ensembles}
    for _, k, first, last, truth in quality.pairs(dev=True):
        renders: dict[str, list[Frame]] = {}
        for name in names:
            flow._cv = _CvWith(ESTIMATORS[name][1])
            try:
                t0 = time.perf_counter()
                renders[name] = quality.engine_inbetweens(first, last, k)
                took = time.perf_counter() - t0
            finally:
                flow._cv = cv2
            scores, seconds = out[name]
            out[name] = ([*scores, _psnr(renders[name], truth)], seconds + took)
        for ens in ensembles:
            members = ENSEMBLES[ens]
            mean = [mean_frame([renders[m][j] for m in members]) for j in range(k - 1)]
            scores, _ = out[ens]
            out[ens] = ([*scores, _psnr(mean, truth)], sum(out[m][1] for m in members))
    return out


def camera_dev(names: list[str], ensembles: list[str]) -> dict[str, list[float]]:
    """Per estimator and ensemble: the camera path's mean PSNR per dev case, its residual flow from the
    estimator."""
    out: dict[str, list[float]] = {n: [] for n in names + ensembles}
    for case, frames, p in dev_cases():
        a, b, n = frames[0], frames[-1], case.frames
        renders: dict[str, list[Frame]] = {}
        for name in names:
            fn = ESTIMATORS[name][1]
            render = flows_variant(lambda q, fn=fn: (fn(q.g0, q.g1c), fn(q.g1c, q.g0)))
            renders[name] = [render(p, j / n, a, b) for j in range(1, n)]
        for ens in ensembles:
            renders[ens] = [mean_frame([renders[m][j] for m in ENSEMBLES[ens]]) for j in range(n - 1)]
        for name, frames_ in renders.items():
            out[name].append(float(np.mean([camera_psnr(f, frames[j]) for j, f in enumerate(frames_, 1)])))
        print(f"{case.name}: " + ", ".join(f"{m} {out[m][-1]:.2f}" for m in out), flush=True)
    return out


def _what(name: str) -> str:
    if name in ENSEMBLES:
        return "mean in-between of " + " and ".join(ESTIMATORS[m][0].split(",")[0] for m in ENSEMBLES[name])
    return ESTIMATORS[name][0]


def _row(name: str, scores: list[float], base: list[float], extra: str = "") -> str:
    d = np.array(scores) - np.array(base)
    spread = f"{d.min():+.2f} / {d.max():+.2f}"
    return f"| {_what(name)} | {np.mean(scores):.3f} | {d.mean():+.3f} | {spread} |{extra}"


def main() -> None:
    known = [*ESTIMATORS, *ENSEMBLES]
    chosen = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else known
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise SystemExit(f"unknown {unknown}; known: {', '.join(known)}")
    ensembles = [n for n in chosen if n in ENSEMBLES]
    wanted = {"dis", *chosen, *(m for e in ensembles for m in ENSEMBLES[e])} - set(ENSEMBLES)
    names = [n for n in ESTIMATORS if n in wanted]
    if not hasattr(cv2, "optflow") and set(names) - BUILT_IN:
        raise SystemExit(
            "needs opencv-contrib's optflow module: pip install --target DIR --no-deps "
            f"opencv-contrib-python-headless=={cv2.__version__}.*, then PYTHONPATH=DIR "
            f"(or --only {','.join(sorted(BUILT_IN - {'dis'}) + list(ENSEMBLES))})"
        )

    q = quality_dev(names, ensembles)
    print(f"\n## Still camera: bench/quality.py's dev pairs ({len(q['dis'][0])}), the engine's output\n")
    print("| estimator | mean PSNR | against DIS, mean | per pair, min / max | render time / DIS's |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in names + ensembles:
        scores, seconds = q[name]
        print(_row(name, scores, q["dis"][0], f" {seconds / q['dis'][1]:.1f}x |"), flush=True)

    c = camera_dev(names, ensembles)
    print(f"\n## Residual flow of the camera path: bench/camera.py's DEV_CASES ({len(c['dis'])})\n")
    print("| estimator | mean PSNR | against DIS, mean | per case, min / max |")
    print("| --- | ---: | ---: | ---: |")
    for name in names + ensembles:
        print(_row(name, c[name], c["dis"]))


if __name__ == "__main__":
    main()
