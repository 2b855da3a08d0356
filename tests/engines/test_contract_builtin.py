"""The built-in engine against the engine contract (tests/engines/contract.py)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from framecast.domain import TaskKind
from framecast.engines.base import Engine, GenerationJob
from framecast.engines.registry import EngineRegistry
from tests.engines.contract import EngineContract


def _textured(seed: int, shift: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(np.roll(img, shift, axis=1))


class TestBuiltinFirstLast(EngineContract):
    def make_engine(self, request: pytest.FixtureRequest) -> Engine:
        return EngineRegistry().get("builtin")

    def make_job(self, **overrides: Any) -> GenerationJob:
        values: dict[str, Any] = dict(
            kind=TaskKind.FIRST_LAST,
            width=64,
            height=48,
            num_frames=5,
            fps=24,
            seed=1,
            first=_textured(0),
            last=_textured(0, shift=6),
        )
        values.update(overrides)
        return GenerationJob(**values)


class TestBuiltinImage(TestBuiltinFirstLast):
    def make_job(self, **overrides: Any) -> GenerationJob:
        return super().make_job(**{"kind": TaskKind.IMAGE, "last": None, "prompt": "zoom in", **overrides})
