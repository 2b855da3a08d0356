"""The one model every dialect, engine and store speaks.

Dialects parse their wire format into a :class:`GenerationRequest` and render a
:class:`Task` back; engines only ever see a :class:`GenerationJob` built from it.

The rules that hold for a request whatever dialect it came in are validators
here (seed range, watermark position, number of videos, fps, payload size,
``meta_data`` JSON, movement amplitude, pixel size). They raise ``ClientError``
(``INVALID_FIELD`` with ``param``), which pydantic passes through unchanged, so
a dialect that builds a request with a bad value answers with the canonical
error; ``dialects._base.build_request`` renames the field to the dialect's
spelling. Rules that need the model catalog (duration, resolution) are in
``service.normalise``.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from framecast.errors import ClientError


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


_AMPLITUDES = frozenset(m.value for m in MovementAmplitude)  # built once: every task read validates it


class PromptExpansion(enum.StrEnum):
    """Whether the service writes the prompt (see framecast.prompts)."""

    NONE = ""
    RECOMMEND = "recommend"  # written from the keyframes; the client's prompt is ignored (Vidu is_rec)
    EXPAND = "expand"  # the client's prompt, enriched with what the keyframes show (Baicai)


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


# the canonical limits every dialect shares; a vendor's tighter limit stays in its dialect
MAX_SEED = 2**63 - 1
MAX_VIDEOS = 4  # n
MAX_FPS = 60
MAX_PAYLOAD = 1_048_576  # characters of the opaque payload echoed back
MAX_REFERENCE_IMAGES = 7  # reference-to-video (Vidu reference2video)
MIN_SIDE, MAX_SIDE = 128, 3840  # an explicit WxH: even sides within these bounds
WATERMARK_POSITIONS = (1, 2, 3, 4)


def _invalid(param: str, message: str) -> ClientError:
    from framecast.errors import ClientError  # errors imports ErrorCode from here

    return ClientError(ErrorCode.INVALID_FIELD, message, param=param)


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


class StoredVideo(BaseModel):
    """An input video after the service fetched, checked (headers only) and stored it."""

    role: VideoRole
    key: str
    mime: str
    width: int
    height: int
    seconds: float
    size: int
    origin: str = Field(default="", description="the URL the client gave, echoed back; data URIs are elided")


class Watermark(BaseModel):
    enabled: bool = False
    position: int = 3  # 1 top-left, 2 top-right, 3 bottom-right, 4 bottom-left (Vidu order)
    image_url: str = ""

    @field_validator("position")
    @classmethod
    def _position(cls, value: int) -> int:
        if value not in WATERMARK_POSITIONS:
            raise _invalid("wm_position", "wm_position must be 1, 2, 3 or 4")
        return value


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
    # the model makes sound unless told not to (Vidu q3) and the client did not say: without an audio
    # model the video is silent and the task record says so, instead of the request being refused
    audio_by_default: bool = False
    bgm: bool = False
    prompt_expansion: PromptExpansion = PromptExpansion.NONE
    watermark: Watermark = Field(default_factory=Watermark)
    meta_data: str = ""  # AIGC implicit-label JSON string, passed through to the MP4
    payload: str = ""
    callback_url: str = ""
    off_peak: bool = False
    priority: int = 0
    client_request_id: str = ""

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_SEED:
            raise _invalid("seed", "seed must be a non-negative integer")
        return value

    @field_validator("n")
    @classmethod
    def _n(cls, value: int) -> int:
        if not 1 <= value <= MAX_VIDEOS:
            raise _invalid("n", f"n must be between 1 and {MAX_VIDEOS}")
        return value

    @field_validator("fps")
    @classmethod
    def _fps(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_FPS:
            raise _invalid("fps", f"fps must be between 1 and {MAX_FPS}")
        return value

    @field_validator("payload")
    @classmethod
    def _payload(cls, value: str) -> str:
        if len(value) > MAX_PAYLOAD:
            raise _invalid("payload", f"payload is {len(value)} characters; the limit is {MAX_PAYLOAD}")
        return value

    @field_validator("meta_data")
    @classmethod
    def _meta_data(cls, value: str) -> str:
        if value:
            try:
                json.loads(value)
            except json.JSONDecodeError:
                raise _invalid("meta_data", "meta_data must be a JSON string") from None
        return value

    @field_validator("movement_amplitude", mode="before")
    @classmethod
    def _amplitude(cls, value: object) -> object:
        """Any case of auto, small, medium or large."""
        if isinstance(value, str) and not isinstance(value, MovementAmplitude):
            value = value.lower()
            if value not in _AMPLITUDES:
                raise _invalid(
                    "movement_amplitude", "movement_amplitude must be auto, small, medium or large"
                )
        return value

    @field_validator("size")
    @classmethod
    def _size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None:
            w, h = value
            if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE) or w % 2 or h % 2:
                raise _invalid(
                    "size",
                    f"size {w}x{h} is not supported: each side must be an even number of pixels "
                    f"between {MIN_SIDE} and {MAX_SIDE}",
                )
        return value


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
    input_videos: list[StoredVideo] = Field(default_factory=list)
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
    # the prompt the engine was given when the service wrote or expanded it; None when it was the client's
    prompt_used: str | None = None
    # what the video's sound is and why: "bgm calm (mood words: lake)", "silent: ..."; "" = no sound asked
    soundtrack: str = ""
    error: TaskError | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    creations: list[Creation] = Field(default_factory=list)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its tenant, and the raw token (callbacks are signed with it)."""

    key_id: str
    tenant: str
    token: str
