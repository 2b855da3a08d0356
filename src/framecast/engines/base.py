"""The engine protocol: what the job runner asks of every video generator.

An engine knows frames and nothing about HTTP, the database or encoding. It
streams RGB frames (``uint8``, shape ``(H, W, 3)``) so the runner can encode
while the engine keeps producing, and memory stays flat for long videos.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from framecast.domain import MovementAmplitude, TaskKind, VideoRole
from framecast.frames import Frame

__all__ = [
    "Capabilities",
    "Engine",
    "EngineCancelled",
    "Frame",  # re-exported: it lives in framecast.frames, which media reads without importing engines
    "GenerationJob",
    "LoadsWeights",
    "StepProgress",
]


@dataclass(frozen=True)
class Capabilities:
    kinds: frozenset[TaskKind]
    audio: bool = False  # whether it makes a soundtrack (generated audio or background music)
    max_frames: int = 24 * 20
    max_short_side: int = 1080
    needs_weights: bool = False


@dataclass
class GenerationJob:
    """One video to render. Images are decoded RGB arrays, already fitted to ``width`` x ``height``."""

    kind: TaskKind
    width: int
    height: int
    num_frames: int
    fps: int
    seed: int
    prompt: str = ""
    negative_prompt: str = ""
    first: Frame | None = None
    last: Frame | None = None
    references: list[Frame] = field(default_factory=list)
    # a video job's input (Kling/Qianfan video_list): frames sampled at ``fps`` from its start, fitted
    # to the output size, ``num_frames`` of them; ``video_role`` says how to use it (edit it, or follow it)
    video: list[Frame] = field(default_factory=list)
    video_role: VideoRole | None = None
    movement_amplitude: MovementAmplitude = MovementAmplitude.AUTO
    options: dict[str, object] = field(default_factory=dict)  # engine-specific settings from the catalog


class StepProgress(Protocol):
    """How an engine reports work that comes before its frames (denoising steps, decoding).

    ``fraction`` is how far the engine is through that work (0-1); ``phase`` names what it is doing
    now ("denoising", "decoding"), or None to keep the current one. The runner turns it into the
    task's progress and phase, and writes it at most a few times a second, so calling it on every
    step is cheap.
    """

    def __call__(self, fraction: float, phase: str | None = None) -> None: ...


class EngineCancelled(Exception):
    """Raised inside an engine when ``cancelled()`` turned true; the runner turns it into a cancelled task."""


@runtime_checkable
class Engine(Protocol):
    name: str

    def capabilities(self) -> Capabilities: ...

    def generate(
        self, job: GenerationJob, cancelled: Callable[[], bool], progress: StepProgress | None = None
    ) -> Iterator[Frame]:
        """Yield exactly ``job.num_frames`` frames of ``job.height`` x ``job.width`` x 3 uint8.

        The runner counts frames for progress and checks ``cancelled`` between
        frames too; an engine with long steps between frames (diffusion) checks
        it itself and raises :class:`EngineCancelled`, and reports those steps
        through ``progress``. ``cancelled()`` is kept current by the attempt's
        heartbeat, so polling it costs nothing.
        """
        ...


class LoadsWeights(Protocol):
    """An engine whose first use loads something heavy (weights, a compiled graph).

    Constructing an engine must be cheap; the registry calls ``load()`` once per process, under the
    claimed task's lease, and the task shows the phase "loading model" meanwhile.
    """

    def load(self) -> None: ...
