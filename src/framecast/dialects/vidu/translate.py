"""Vidu wire format <-> the canonical model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from framecast import domain
from framecast.dialects._base import build_request, missing, validate
from framecast.dialects.common import Links
from framecast.dialects.vidu.errors import reason_for
from framecast.dialects.vidu.models import ViduCreate
from framecast.domain import (
    ErrorCode,
    GenerationRequest,
    ImageRef,
    ImageRole,
    PromptExpansion,
    Task,
    TaskKind,
    TaskState,
)
from framecast.errors import ClientError
from framecast.service import SubmitLimits

# Vidu's limits are framecast's defaults: prompt <= 5000 characters, first/last pixel ratio 0.8-1.25
LIMITS = SubmitLimits()
# Vidu's FieldLacking wording (reference 1.4)
LACKING = "field is missing or empty: {param}"
WM_WORDS = {1: "top_left", 2: "top_right", 3: "bottom_right", 4: "bottom_left"}
# q3 models make picture and sound together unless audio is false (reference 1.2)
SOUND_BY_DEFAULT = "viduq3"
AUDIO_TYPES = ("all", "speech_only", "sound_effect_only")


@dataclass(frozen=True)
class Endpoint:
    path: str
    kind: TaskKind
    vidu_type: str
    min_images: int
    max_images: int


ENDPOINTS = {
    "start-end2video": Endpoint("start-end2video", TaskKind.FIRST_LAST, "headtailimg2video", 2, 2),
    "img2video": Endpoint("img2video", TaskKind.IMAGE, "img2video", 1, 1),
    "text2video": Endpoint("text2video", TaskKind.TEXT, "text2video", 0, 0),
    "reference2video": Endpoint(
        "reference2video", TaskKind.REFERENCE, "character2video", 1, domain.MAX_REFERENCE_IMAGES
    ),
}
TYPE_BY_KIND = {e.kind: e.vidu_type for e in ENDPOINTS.values()}


def parse(endpoint: Endpoint, raw: dict[str, Any]) -> tuple[GenerationRequest, dict[str, Any]]:
    body = validate(ViduCreate, raw)
    if not body.model:
        raise missing("model", LACKING)
    images = list(body.images or [])
    if endpoint.kind is TaskKind.REFERENCE and not images and body.subjects:
        images = [img for subject in body.subjects for img in subject.images]
    if endpoint.kind is TaskKind.TEXT:
        if images:
            raise ClientError(
                ErrorCode.UNWANTED_FIELD, "text2video takes no images; use img2video", param="images"
            )
        if not (body.prompt or "").strip():
            raise missing("prompt", LACKING)
    elif not images:
        raise missing("images", LACKING)
    if not endpoint.min_images <= len(images) <= endpoint.max_images:
        want = (
            str(endpoint.min_images)
            if endpoint.min_images == endpoint.max_images
            else f"{endpoint.min_images}-{endpoint.max_images}"
        )
        raise ClientError(
            ErrorCode.ITEM_COUNT, f"{endpoint.path} takes {want} image(s); got {len(images)}", param="images"
        )
    for i, img in enumerate(images, start=1):
        if not isinstance(img, str) or not img.strip():
            raise ClientError(
                ErrorCode.MISSING_FIELD, f"field is missing or empty: images[{i - 1}]", param="images"
            )
    if endpoint.kind is TaskKind.REFERENCE and not (body.prompt or "").strip():
        raise missing("prompt", LACKING)
    negative = body.negative_prompt or ""
    if len(negative) > LIMITS.max_prompt_chars:
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            f"negative_prompt is {len(negative)} characters; the limit is {LIMITS.max_prompt_chars}",
            param="negative_prompt",
        )
    if body.audio_type is not None and body.audio_type not in AUDIO_TYPES:
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            f"audio_type must be one of: {', '.join(AUDIO_TYPES)}",
            param="audio_type",
        )
    sound_by_default = body.audio is None and body.model.lower().startswith(SOUND_BY_DEFAULT)
    roles = {
        TaskKind.FIRST_LAST: [ImageRole.FIRST, ImageRole.LAST],
        TaskKind.IMAGE: [ImageRole.FIRST],
    }.get(endpoint.kind, [ImageRole.REFERENCE] * len(images))
    # payload size, wm_position, movement_amplitude, seed and meta_data are checked by the model
    req = build_request(
        names={"n": "number_of_videos"},
        kind=endpoint.kind,
        model=body.model,
        # with is_rec the service writes the prompt (prompts/); the client's words only set its language
        prompt=body.prompt or "",
        prompt_expansion=PromptExpansion.RECOMMEND if body.is_rec else PromptExpansion.NONE,
        negative_prompt=negative,
        images=[ImageRef(role=r, source=src.strip()) for r, src in zip(roles, images, strict=True)],
        duration=body.duration,
        resolution=body.resolution,
        aspect_ratio=body.aspect_ratio,
        seed=body.seed or None,
        movement_amplitude=body.movement_amplitude or "auto",
        n=1 if body.number_of_videos is None else body.number_of_videos,
        audio=bool(body.audio),
        audio_by_default=sound_by_default,
        bgm=body.bgm,
        watermark={
            "enabled": body.watermark,
            "position": 3 if body.wm_position is None else body.wm_position,
            "image_url": body.wm_url or "",
        },
        meta_data=body.meta_data or "",
        payload=body.payload or "",
        callback_url=body.callback_url or "",
        off_peak=body.off_peak,
        client_request_id=body.client_request_id or "",
        priority=body.cus_priority or 0,
    )
    echo = {
        "style": body.style or "general",
        "is_rec": body.is_rec,
        # echoed as the vendor answers: q3 without the field reads true (the task record says it is silent)
        "audio": True if sound_by_default else body.audio,
        "audio_type": body.audio_type,
        "voice_id": body.voice_id,
        "vidu_type": endpoint.vidu_type,
    }
    return req, echo


def rfc3339(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def state_of(task: Task, *, fresh: bool = False) -> str:
    return {
        TaskState.QUEUED: "created" if fresh else "queueing",
        TaskState.RUNNING: "processing",
        TaskState.SUCCEEDED: "success",
        TaskState.FAILED: "failed",
        TaskState.CANCELLED: "failed",
    }[task.state]


def err_code_of(task: Task) -> str:
    if task.state is TaskState.CANCELLED:
        return (task.error.reason if task.error else "") or "UserCancelled"
    if task.state is TaskState.FAILED and task.error is not None:
        return reason_for(task.error.code, task.error.reason)
    return ""


def cannot_cancel(task: Task) -> str:
    """Why a finished task refuses a cancel, in the words its query answer uses.

    Vidu has no cancelled state: a cancelled task reads ``failed`` with err_code
    ``UserCancelled``, so the message says both rather than a bare "failed".
    """
    state = state_of(task)
    if task.state is TaskState.CANCELLED:
        code = err_code_of(task)
        return f"task state is {state} (err_code {code}): it was already cancelled, can not cancel"
    if task.state is TaskState.FAILED:
        return f"task state is {state} (err_code {err_code_of(task)}), can not cancel"
    return f"task state is {state}, can not cancel"


def prompt_of(task: Task) -> str:
    """The prompt the video was made from: the one the service wrote (is_rec) once the task ran."""
    return task.prompt_used if task.prompt_used is not None else task.request.prompt


def _vidu_type(task: Task) -> str:
    """The Vidu task type it was created as (its route's), else the one its kind maps to."""
    r = task.request
    return str(task.echo.get("vidu_type") or TYPE_BY_KIND.get(r.kind, r.kind.value))


def _asked(task: Task) -> dict[str, Any]:
    """What the task was asked to make, as the create answer and a list item both show it."""
    r = task.request
    return {
        "prompt": prompt_of(task),
        "images": [i.source for i in r.images],
        "duration": int(r.duration or 0),
        "seed": task.seed,
    }


def render_create(task: Task) -> dict[str, Any]:
    r = task.request
    return {
        "task_id": task.id,
        "type": _vidu_type(task),
        "state": state_of(task, fresh=True),
        "model": r.model,
        "style": task.echo.get("style", "general"),
        **_asked(task),
        "aspect_ratio": r.aspect_ratio or "",
        "resolution": r.resolution or "",
        "movement_amplitude": r.movement_amplitude.value,
        "bgm": r.bgm,
        "audio": bool(task.echo.get("audio", r.audio)),
        "payload": r.payload,
        "off_peak": r.off_peak,
        "credits": task.credits,
        "watermark": r.watermark.enabled,
        "is_rec": bool(task.echo.get("is_rec", False)),
        "wm_position": WM_WORDS.get(r.watermark.position, "bottom_right"),
        "wm_url": r.watermark.image_url,
        "meta_data": r.meta_data,
        "created_at": rfc3339(task.created_at),
        # required by the start-end2video response schema, echoed as sent (0 / "" when not)
        "cus_priority": r.priority,
        "client_request_id": r.client_request_id,
    }


def render_creations(task: Task, links: Links) -> list[dict[str, Any]]:
    if task.state is not TaskState.SUCCEEDED:
        return []
    out = []
    for c in task.creations:
        item: dict[str, Any] = {
            "id": c.id,
            "url": links.video(c),
            "cover_url": links.cover(c),
            "video": {
                "duration": c.duration,
                "fps": c.fps,
                "resolution": {"width": c.width, "height": c.height},
            },
        }
        # always present (Qianfan's Vidu family lists it); "" when the task asked for no watermark
        item["watermarked_url"] = links.watermarked(c)
        out.append(item)
    return out


def render_query(task: Task, links: Links) -> dict[str, Any]:
    return {
        "id": task.id,
        "state": state_of(task),
        "err_code": err_code_of(task),
        "credits": task.credits,
        "payload": task.request.payload,
        "bgm": task.request.bgm,
        "off_peak": task.request.off_peak,
        "progress": task.progress,
        "creations": render_creations(task, links),
    }


def render_list_item(task: Task, links: Links) -> dict[str, Any]:
    r = task.request
    return {
        "id": task.id,
        "key_id": task.key_id,
        "type": _vidu_type(task),
        "model": r.model,
        "state": state_of(task),
        "err_code": err_code_of(task),
        **_asked(task),
        "resolution": r.resolution or "",
        "aspect_ratio": r.aspect_ratio or "",
        "credits": task.credits,
        "payload": r.payload,
        "created_at": rfc3339(task.created_at),
        "creations": render_creations(task, links),
    }


# Vidu state words -> canonical states, for the list filter
STATE_FILTER = {
    "created": [TaskState.QUEUED],
    "queueing": [TaskState.QUEUED],
    "processing": [TaskState.RUNNING],
    "success": [TaskState.SUCCEEDED],
    "failed": [TaskState.FAILED, TaskState.CANCELLED],
}
