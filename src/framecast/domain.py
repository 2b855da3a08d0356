"""The one model every dialect, engine and store speaks.

Dialects parse their wire format into a :class:`GenerationRequest` and render a
:class:`Task` back; engines only ever see a :class:`GenerationJob` built from it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TaskState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)


class TaskKind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FIRST_LAST = "first_last"
    REFERENCE = "reference"
    VIDEO = "video"


class ImageRole(enum.StrEnum):
    FIRST = "first"
    LAST = "last"
    REFERENCE = "reference"


class VideoRole(enum.StrEnum):
    BASE = "base"
    FEATURE = "feature"


class MovementAmplitude(enum.StrEnum):
    AUTO = "auto"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class ErrorCode(enum.StrEnum):
    """Canonical error codes; each dialect renders them in its own vocabulary."""

    INVALID_FIELD = "invalid_field"
    MISSING_FIELD = "missing_field"
    UNWANTED_FIELD = "unwanted_field"
    ITEM_COUNT = "item_count"
    IMAGE_DOWNLOAD = "image_download"
    IMAGE_FORMAT = "image_format"
    IMAGE_SIZE = "image_size"
    BODY_TOO_LARGE = "body_too_large"
    PROMPT_POLICY = "prompt_policy"
    OUTPUT_POLICY = "output_policy"
    CREDIT_INSUFFICIENT = "credit_insufficient"
    MODEL_UNAVAILABLE = "model_unavailable"
    CONCURRENCY_LIMIT = "concurrency_limit"
    RATE_LIMIT = "rate_limit"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_STATE = "invalid_state"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    CANCELLED = "cancelled"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL = "internal"


class ImageRef(BaseModel):
    """An input image as the client named it: an http(s) URL, a data URI, bare base64 or a stored upload."""

    model_config = ConfigDict(frozen=True)

    role: ImageRole
    source: str
    # "url" (http/https or data: URI), "base64" (bare, as Kling sends), "blob" (a key in our storage)
    kind: str = "url"


class VideoRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: VideoRole
    source: str
    keep_original_sound: bool = False


class StoredImage(BaseModel):
    """An input image after the service fetched, checked and stored it."""

    role: ImageRole
    key: str
    mime: str
    width: int
    height: int
    size: int
    origin: str = Field(default="", description="the URL the client gave, echoed back; data URIs are elided")


class Watermark(BaseModel):
    enabled: bool = False
    position: int = 3  # 1 top-left, 2 top-right, 3 bottom-right, 4 bottom-left (Vidu order)
    image_url: str = ""


class GenerationRequest(BaseModel):
    """What a client asked for, in canonical terms. Dialect-only fields never reach the engine."""

    kind: TaskKind
    model: str
    prompt: str = ""
    negative_prompt: str = ""
    images: list[ImageRef] = Field(default_factory=list)
    videos: list[VideoRef] = Field(default_factory=list)
    duration: float | None = None  # seconds; None -> model default
    fps: int | None = None
    frames: int | None = None  # explicit frame count overrides duration x fps
    resolution: str | None = None  # "360p" .. "1080p"; None -> model default
    size: tuple[int, int] | None = None  # explicit WxH (OpenAI "1280x720"); wins over resolution
    aspect_ratio: str | None = None
    seed: int | None = None  # None or 0 -> random; the used seed is recorded on the task
    movement_amplitude: MovementAmplitude = MovementAmplitude.AUTO
    n: int = 1
    audio: bool = False
    bgm: bool = False
    watermark: Watermark = Field(default_factory=Watermark)
    meta_data: str = ""  # AIGC implicit-label JSON string, passed through to the MP4
    payload: str = ""
    callback_url: str = ""
    off_peak: bool = False
    priority: int = 0
    client_request_id: str = ""


class TaskError(BaseModel):
    code: ErrorCode
    message: str
    # the dialect-facing reason, when the failure has a more specific vendor name (e.g. UserCancelled)
    reason: str = ""


class Creation(BaseModel):
    id: str
    index: int
    video_key: str
    cover_key: str
    watermarked_key: str | None = None
    width: int
    height: int
    fps: int
    frames: int
    duration: float
    seed: int


class Task(BaseModel):
    id: str
    tenant: str
    key_id: str
    dialect: str
    request: GenerationRequest
    inputs: list[StoredImage] = Field(default_factory=list)
    watermark_key: str | None = None  # the wm_url image, fetched and stored at submit
    # dialect-only fields echoed back verbatim in that dialect's responses (style, is_rec, ...)
    echo: dict[str, Any] = Field(default_factory=dict)
    state: TaskState
    progress: int = 0
    # what a running attempt is doing: "loading model", "generating", "saving"; "" otherwise
    phase: str = ""
    attempt: int = 0  # claims so far, hand-backs at shutdown included
    lost_attempts: int = 0  # attempts whose worker died; at FRAMECAST_MAX_ATTEMPTS the task fails
    worker: str | None = None  # the worker holding the task, or the last one that did
    claimed_at: datetime | None = None
    seed: int
    credits: int = 0
    error: TaskError | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    creations: list[Creation] = Field(default_factory=list)
