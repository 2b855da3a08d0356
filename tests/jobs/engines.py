"""Test-only engines, installed the way a third-party engine package is: through entry points.

:func:`install` writes a ``.dist-info`` folder with an ``entry_points.txt`` into a directory that
goes on ``sys.path`` (or ``PYTHONPATH`` for a server subprocess), so the registry finds these
engines exactly as it finds any installed plugin.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from framecast.domain import TaskKind
from framecast.engines.base import Capabilities, EngineCancelled, Frame, GenerationJob, StepProgress

ENGINES = {"sleepy": "SleepyEngine", "crasher": "CrashingEngine"}


def install(site: Path) -> Path:
    """Make ``site`` an import path that declares this module's engines; returns ``site``."""
    dist = site / "framecast_test_engines-0.0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: framecast-test-engines\nVersion: 0.0.0\n")
    lines = [f"{name} = tests.jobs.engines:{cls}" for name, cls in ENGINES.items()]
    (dist / "entry_points.txt").write_text("[framecast.engines]\n" + "\n".join(lines) + "\n")
    return site


def _frames(job: GenerationJob) -> Iterator[Frame]:
    for i in range(job.num_frames):
        yield np.full((job.height, job.width, 3), (i * 7) % 256, dtype=np.uint8)


class SleepyEngine:
    """Slow where diffusion models are slow: a long load, long steps before the first frame and between
    frames, during which it writes nothing and only polls ``cancelled()`` (as a denoising loop does)."""

    name = "sleepy"
    task_kinds = frozenset(TaskKind)

    def __init__(self, load_s: float = 0.0, first_s: float = 0.0, middle_s: float = 0.0) -> None:
        self.load_s, self.first_s, self.middle_s = load_s, first_s, middle_s

    def load(self) -> None:
        time.sleep(self.load_s)

    def capabilities(self) -> Capabilities:
        return Capabilities(kinds=self.task_kinds)

    def generate(
        self, job: GenerationJob, cancelled: Callable[[], bool], progress: StepProgress | None = None
    ) -> Iterator[Frame]:
        def step(seconds: float) -> None:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                if cancelled():
                    raise EngineCancelled()
                time.sleep(0.01)

        step(self.first_s)
        for i, frame in enumerate(_frames(job)):
            if i == job.num_frames // 2:
                step(self.middle_s)
            yield frame


class CrashingEngine:
    """Kills its own process as soon as it starts on a task: a poison input that takes its worker down."""

    name = "crasher"
    task_kinds = frozenset(TaskKind)

    def capabilities(self) -> Capabilities:
        return Capabilities(kinds=self.task_kinds)

    def generate(
        self, job: GenerationJob, cancelled: Callable[[], bool], progress: StepProgress | None = None
    ) -> Iterator[Frame]:
        # from another thread too, so no handler in the runner can turn it into a clean failure
        threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGKILL)).start()
        time.sleep(30)
        return _frames(job)
