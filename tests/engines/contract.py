"""The engine contract: what every engine owes the job runner, as a mixin each engine's tests inherit.

diffusers' ``PipelineTesterMixin`` habit: a test class supplies ``make_engine()`` (built and loaded
once per class, through the same path the registry uses) and ``make_job(**overrides)`` (a small job the
engine can make), and inherits these tests. They check only what the runner and a user rely on: the
frame count and shape, the same frames for the same seed, a cancel honoured within one frame or one
step, and progress that never goes backwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

from framecast.engines.base import Engine, EngineCancelled, Frame, GenerationJob


class Recorder:
    """Collects what an engine reports, and turns ``cancelled()`` true after a chosen number of events
    (a progress report or a frame each count as one)."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.cancel_after = cancel_after
        self.events: list[tuple[str, float]] = []
        self.cancelled_at: int | None = None

    def cancelled(self) -> bool:
        if self.cancel_after is not None and len(self.events) >= self.cancel_after:
            if self.cancelled_at is None:
                self.cancelled_at = len(self.events)
            return True
        return False

    def progress(self, fraction: float, phase: str | None = None) -> None:
        self.events.append(("step", fraction))

    def frame(self) -> None:
        self.events.append(("frame", 0.0))


def run(engine: Engine, job: GenerationJob, rec: Recorder | None = None) -> list[Frame]:
    rec = rec or Recorder()
    frames: list[Frame] = []
    it: Iterator[Frame] = engine.generate(job, rec.cancelled, rec.progress)
    for f in it:
        rec.frame()
        frames.append(f)
    return frames


class EngineContract:
    """Inherit, and define ``make_engine(request)`` and ``make_job(**overrides)``."""

    engine: ClassVar[Engine]

    def make_engine(self, request: pytest.FixtureRequest) -> Engine:
        """The engine, loaded as the registry loads it (``request`` gives access to other fixtures)."""
        raise NotImplementedError

    def make_job(self, **overrides: Any) -> GenerationJob:
        raise NotImplementedError

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _engine(cls, request: pytest.FixtureRequest) -> None:
        request.cls.engine = request.cls().make_engine(request)

    def test_satisfies_the_protocol(self) -> None:
        assert isinstance(self.engine, Engine)
        assert self.make_job().kind in self.engine.capabilities().kinds

    def test_frame_count_and_shape(self) -> None:
        for n in (1, 7):
            job = self.make_job(num_frames=n)
            frames = run(self.engine, job)
            assert len(frames) == n
            for f in frames:
                assert f.dtype == np.uint8 and f.shape == (job.height, job.width, 3)

    def test_same_seed_same_frames(self) -> None:
        a = run(self.engine, self.make_job(seed=11))
        b = run(self.engine, self.make_job(seed=11))
        assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    def test_cancel_before_start_makes_nothing(self) -> None:
        rec = Recorder(cancel_after=0)
        with pytest.raises(EngineCancelled):
            run(self.engine, self.make_job(), rec)
        assert rec.events == []

    @pytest.mark.parametrize("after", [1, 2])
    def test_cancel_is_honoured_within_one_step_or_frame(self, after: int) -> None:
        rec = Recorder(cancel_after=after)
        with pytest.raises(EngineCancelled):
            run(self.engine, self.make_job(num_frames=7), rec)
        assert rec.cancelled_at is not None
        # at most one more report (the step or frame under way when the cancel came) after it
        assert len(rec.events) - rec.cancelled_at <= 1, rec.events

    def test_progress_is_monotonic_and_bounded(self) -> None:
        rec = Recorder()
        run(self.engine, self.make_job(num_frames=5), rec)
        steps = [v for kind, v in rec.events if kind == "step"]
        assert all(0.0 <= v <= 1.0 for v in steps), steps
        assert steps == sorted(steps), steps
