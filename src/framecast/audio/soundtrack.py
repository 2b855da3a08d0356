"""The sound of one task: which preset track (if any) and putting it into each rendered video.

:func:`plan` decides once per task, from the request and the prompt the engine was given, and says
why in words kept on the task (``Task.soundtrack``). :func:`apply` then adds that sound to each MP4 a
render produced (the plain and the watermarked one), replacing the silent file in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from framecast.audio import mix, moods, synth
from framecast.domain import GenerationRequest


@dataclass(frozen=True)
class Soundtrack:
    track: str  # a key of synth.TRACKS
    record: str  # for Task.soundtrack


def plan(req: GenerationRequest, *, prompt: str, seed: int) -> Soundtrack | None:
    """The preset track for a task that asked for background music, chosen from ``prompt``'s mood."""
    if not req.bgm:
        return None
    choice = moods.choose(prompt, seed)
    return Soundtrack(track=choice.mood, record=f"bgm {choice.mood} ({choice.reason})")


def apply(sound: Soundtrack, videos: list[Path], *, frames: int, fps: int) -> None:
    """Mux ``sound`` into each of ``videos`` (same length), replacing each file."""
    seconds = frames / fps
    loop = synth.render(sound.track)
    samples = mix.normalise(mix.fit(loop, synth.SAMPLE_RATE, seconds), synth.SAMPLE_RATE, reference=loop)
    for video in videos:
        tmp = video.with_name(video.stem + ".sound" + video.suffix)
        try:
            mix.mux(video, samples, synth.SAMPLE_RATE, tmp)
            os.replace(tmp, video)
        finally:
            tmp.unlink(missing_ok=True)
