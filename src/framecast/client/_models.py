"""What the client hands back: :class:`Task`, :class:`Creation` and :class:`TaskEvent`.

States use framecast's canonical words whatever the wire says (:class:`TaskState` is the
server's own, from :mod:`framecast.domain`); Vidu's are mapped here (``created``/``queueing``
-> queued, ``processing`` -> running, ``success`` -> succeeded, ``failed`` -> failed, or
cancelled when ``err_code`` is ``UserCancelled``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from framecast.domain import TaskState

__all__ = ["Creation", "Task", "TaskEvent", "TaskState", "Variant"]

Variant = Literal["video", "cover", "watermarked"]


_FROM_VIDU = {
    "created": TaskState.QUEUED,
    "queueing": TaskState.QUEUED,
    "processing": TaskState.RUNNING,
    "success": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
}

# canonical -> the Vidu list filter word; cancelled tasks are "failed" to Vidu and are picked out after
VIDU_FILTER = {
    TaskState.QUEUED: "queueing",
    TaskState.RUNNING: "processing",
    TaskState.SUCCEEDED: "success",
    TaskState.FAILED: "failed",
    TaskState.CANCELLED: "failed",
}


def state_from_vidu(state: str, err_code: str = "") -> TaskState:
    canonical = _FROM_VIDU.get(state)
    if canonical is None:
        # a newer server may add words; an unknown one is treated as still in progress, never as done
        return TaskState.RUNNING
    if canonical is TaskState.FAILED and err_code == "UserCancelled":
        return TaskState.CANCELLED
    return canonical


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _native_state(body: Mapping[str, Any]) -> tuple[TaskState, str, str]:
    """State, error code (the vendor reason when there is one) and message of framecast's own JSON."""
    error = body.get("error") or {}
    try:
        state = TaskState(str(body.get("state", "")))
    except ValueError:
        state = TaskState.RUNNING  # a word from a newer server: still in progress, never done
    return state, str(error.get("reason") or error.get("code") or ""), str(error.get("message") or "")


@dataclass(frozen=True)
class Creation:
    """One result video. URLs are signed and expire (24 h by default)."""

    id: str
    url: str
    cover_url: str
    watermarked_url: str = ""
    width: int = 0
    height: int = 0
    fps: int = 0
    duration: float = 0.0

    def url_for(self, variant: Variant) -> str:
        return {"video": self.url, "cover": self.cover_url, "watermarked": self.watermarked_url}[variant]

    @classmethod
    def from_native(cls, item: Mapping[str, Any]) -> Creation:
        """From an item of ``creations`` in framecast's ``/v1/tasks/{id}``."""
        return cls._from(item, item)

    @classmethod
    def from_vidu(cls, item: Mapping[str, Any]) -> Creation:
        # Vidu nests the video's figures: video.{fps, duration} and video.resolution.{width, height}
        video = item.get("video") or {}
        return cls._from(item, {**video, **(video.get("resolution") or {})})

    @classmethod
    def _from(cls, item: Mapping[str, Any], figures: Mapping[str, Any]) -> Creation:
        return cls(
            id=str(item.get("id", "")),
            url=str(item.get("url", "")),
            cover_url=str(item.get("cover_url", "")),
            watermarked_url=str(item.get("watermarked_url") or ""),
            width=_int(figures.get("width")),
            height=_int(figures.get("height")),
            fps=_int(figures.get("fps")),
            duration=_float(figures.get("duration")),
        )


@dataclass(frozen=True)
class Task:
    id: str
    state: TaskState
    progress: int = 0
    err_code: str = ""
    creations: tuple[Creation, ...] = ()
    model: str = ""
    created_at: str = ""
    # what an operator looks at (filled by ``inspect()``, framecast's own route; the vendor routes lack it)
    phase: str = ""
    attempt: int = 0
    lost_attempts: int = 0  # attempts whose worker died; the task fails at the server's maximum
    worker: str = ""
    err_message: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.state.terminal

    @classmethod
    def from_vidu(cls, body: Mapping[str, Any]) -> Task:
        """From a Vidu create answer, query answer or list item."""
        err_code = str(body.get("err_code") or "")
        state = state_from_vidu(str(body.get("state", "")), err_code)
        # list items carry no progress; a finished one is complete, not at 0%
        default = 100 if state is TaskState.SUCCEEDED else 0
        progress = _int(body["progress"]) if "progress" in body else default
        creations = [Creation.from_vidu(c) for c in body.get("creations") or ()]
        return cls._from(body, state, progress, err_code, creations)

    @classmethod
    def from_native(cls, body: Mapping[str, Any]) -> Task:
        """From framecast's ``/v1/tasks/{id}``: the vendor-neutral view, with the operator's fields."""
        event = TaskEvent.from_native(body)
        creations = [Creation.from_native(c) for c in body.get("creations") or ()]
        return cls._from(
            body,
            event.state,
            event.progress,
            event.error_code,
            creations,
            err_message=event.error_message,
            phase=str(body.get("phase") or ""),
            attempt=_int(body.get("attempt")),
            lost_attempts=_int(body.get("lost_attempts")),
            worker=str(body.get("worker") or ""),
        )

    @classmethod
    def _from(
        cls,
        body: Mapping[str, Any],
        state: TaskState,
        progress: int,
        err_code: str,
        creations: list[Creation],
        **operator: Any,
    ) -> Task:
        """The fields every answer carries; ``operator``: what only framecast's own route adds."""
        return cls(
            id=str(body.get("id") or body.get("task_id") or ""),
            state=state,
            progress=progress,
            err_code=err_code,
            creations=tuple(creations),
            model=str(body.get("model") or ""),
            created_at=str(body.get("created_at") or ""),
            raw=dict(body),
            **operator,
        )


@dataclass(frozen=True)
class TaskEvent:
    """A change of state or progress, as ``wait(on_progress=...)`` reports it."""

    id: str
    state: TaskState
    progress: int
    error_code: str = ""
    error_message: str = ""

    @classmethod
    def from_native(cls, body: Mapping[str, Any]) -> TaskEvent:
        """From framecast's ``/v1/tasks`` JSON (also each SSE ``state`` event)."""
        state, code, message = _native_state(body)
        return cls(
            id=str(body.get("id", "")),
            state=state,
            progress=_int(body.get("progress")),
            error_code=code,
            error_message=message,
        )

    @classmethod
    def from_task(cls, task: Task) -> TaskEvent:
        return cls(id=task.id, state=task.state, progress=task.progress, error_code=task.err_code)
