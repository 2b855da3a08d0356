"""Kling wire format <-> the canonical model.

The omni parser is shared with Qianfan's Kling-family ``omni-video`` type, whose
``model_parameters`` mirror Kling's omni body (reference 2.1 and 6.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from framecast.dialects._base import build_request, invalid, missing, validate, whole_seconds
from framecast.dialects.common import Links
from framecast.dialects.kling.models import Image2Video, KlingCommon, Omni, Text2Video
from framecast.domain import (
    ErrorCode,
    GenerationRequest,
    ImageRef,
    ImageRole,
    Task,
    TaskKind,
    TaskState,
    VideoRef,
    VideoRole,
    Watermark,
)
from framecast.errors import ClientError
from framecast.media.images import ImageLimits
from framecast.service import SubmitLimits

MAX_PROMPT = 2500
# Kling: jpg/jpeg/png, <=10 MB, >=300 px, aspect 1:2.5-2.5:1, bare base64 (data URIs accepted too)
IMAGE_LIMITS = ImageLimits(
    max_bytes=10 * 1024 * 1024,
    min_side=300,
    max_aspect=2.5,
    formats=frozenset({"png", "jpeg"}),
    allow_bare_base64=True,
)
# Kling documents no first/last pixel-count rule, so none is imposed
LIMITS = SubmitLimits(images=IMAGE_LIMITS, max_prompt_chars=MAX_PROMPT, pair_ratio=None)
MODE_RESOLUTION = {"std": "720p", "pro": "1080p"}
ASPECTS = ("16:9", "9:16", "1:1")
DEFAULT_MODEL = {"image2video": "kling-v1", "text2video": "kling-v1", "omni-video": "kling-video-o1"}


@dataclass(frozen=True)
class Parsed:
    request: GenerationRequest
    echo: dict[str, Any]


def image_ref(role: ImageRole, source: str) -> ImageRef:
    """Bare base64 is marked as such so the stored task never echoes megabytes of it."""
    src = source.strip()
    lowered = src[:8].lower()
    kind = "url" if lowered.startswith(("http://", "https://", "data:")) else "base64"
    return ImageRef(role=role, source=src, kind=kind)


def _common(body: KlingCommon, *, endpoint: str, model: str | None) -> dict[str, Any]:
    """The fields every Kling endpoint shares, checked and in canonical terms."""
    name = (model or body.model_name or body.model or DEFAULT_MODEL[endpoint]).strip()
    if body.negative_prompt and len(body.negative_prompt) > MAX_PROMPT:
        raise invalid(
            "negative_prompt",
            f"negative_prompt is {len(body.negative_prompt)} characters; the limit is {MAX_PROMPT}",
        )
    if body.cfg_scale is not None and not 0 <= body.cfg_scale <= 1:
        raise invalid("cfg_scale", "cfg_scale must be between 0 and 1")
    mode = body.mode or "std"
    if mode not in MODE_RESOLUTION:
        raise invalid("mode", "mode must be std or pro")
    sound = body.sound or "off"
    if sound not in ("on", "off"):
        raise invalid("sound", "sound must be on or off")
    if body.camera_control:
        raise invalid("camera_control", "camera_control is not supported by framecast's engines; remove it")
    if body.external_task_id is not None and len(body.external_task_id) > 256:
        raise invalid("external_task_id", "external_task_id is longer than 256 characters")
    return {
        "model": name,
        "prompt": body.prompt or "",
        "negative_prompt": body.negative_prompt or "",
        "duration": whole_seconds(body.duration, "duration"),
        "resolution": MODE_RESOLUTION[mode],
        "audio": sound == "on",
        "watermark": Watermark(enabled=bool(body.watermark_info and body.watermark_info.enabled)),
        "callback_url": body.callback_url or "",
    }


def _echo(body: KlingCommon, endpoint: str) -> dict[str, Any]:
    echo: dict[str, Any] = {"kling_endpoint": endpoint, "mode": body.mode or "std"}
    if body.external_task_id:
        echo["external_task_id"] = body.external_task_id
    if body.cfg_scale is not None:
        # a guidance weight for Kling's own v1 models; recorded, it steers no framecast engine
        echo["cfg_scale"] = body.cfg_scale
    return echo


def parse_image2video(raw: dict[str, Any], *, model: str | None = None) -> Parsed:
    body = validate(Image2Video, raw)
    image = (body.image or "").strip()
    tail = (body.image_tail or "").strip()
    has_masks = bool(body.static_mask or body.dynamic_masks)
    # the vendor's own rule comes first, so the message names the conflict, not the unsupported feature
    if tail and (has_masks or body.camera_control):
        raise invalid(
            "image_tail", "image_tail cannot be combined with static_mask, dynamic_masks or camera_control"
        )
    fields = _common(body, endpoint="image2video", model=model)
    if has_masks:
        param = "static_mask" if body.static_mask else "dynamic_masks"
        raise invalid(param, f"{param} (motion brush) is not supported by framecast's engines; remove it")
    if not image and not tail:
        raise missing("image", "image or image_tail is required")
    if not image:
        raise ClientError(
            ErrorCode.MISSING_FIELD,
            "image_tail without image is not supported: framecast's engines need a first frame; "
            "send the frame as image (and optionally the end frame as image_tail)",
            param="image",
        )
    images = [image_ref(ImageRole.FIRST, image)]
    if tail:
        images.append(image_ref(ImageRole.LAST, tail))
    req = build_request(kind=TaskKind.FIRST_LAST if tail else TaskKind.IMAGE, images=images, **fields)
    return Parsed(req, _echo(body, "image2video"))


def _check_prompt_and_aspect(prompt: str, aspect_ratio: str | None) -> None:
    """What text-to-video and omni-video both require: a prompt, and one of Kling's aspect ratios."""
    if not prompt.strip():
        raise missing("prompt")
    if aspect_ratio is not None and aspect_ratio not in ASPECTS:
        raise invalid("aspect_ratio", "aspect_ratio must be 16:9, 9:16 or 1:1")


def parse_text2video(raw: dict[str, Any], *, model: str | None = None) -> Parsed:
    body = validate(Text2Video, raw)
    fields = _common(body, endpoint="text2video", model=model)
    _check_prompt_and_aspect(fields["prompt"], body.aspect_ratio)
    req = build_request(kind=TaskKind.TEXT, aspect_ratio=body.aspect_ratio or "16:9", **fields)
    return Parsed(req, _echo(body, "text2video"))


def _omni_images(body: Omni) -> list[ImageRef]:
    refs: list[ImageRef] = []
    for i, item in enumerate(body.image_list or []):
        url = (item.image_url or "").strip()
        if not url:
            raise ClientError(
                ErrorCode.MISSING_FIELD, f"image_list[{i}].image_url is required", param="image_list"
            )
        role = {"first_frame": ImageRole.FIRST, "end_frame": ImageRole.LAST, None: ImageRole.REFERENCE}.get(
            item.type or None
        )
        if role is None:
            raise invalid("image_list", f"image_list[{i}].type must be first_frame or end_frame")
        refs.append(image_ref(role, url))
    roles = [r.role for r in refs]
    if roles.count(ImageRole.FIRST) > 1 or roles.count(ImageRole.LAST) > 1:
        raise ClientError(
            ErrorCode.ITEM_COUNT,
            "image_list takes at most one first_frame and one end_frame",
            param="image_list",
        )
    if ImageRole.LAST in roles and ImageRole.FIRST not in roles:
        raise ClientError(
            ErrorCode.MISSING_FIELD, "an end_frame needs a first_frame in image_list", param="image_list"
        )
    return refs


def _omni_videos(body: Omni) -> list[VideoRef]:
    videos: list[VideoRef] = []
    for i, item in enumerate(body.video_list or []):
        if not (item.video_url or "").strip():
            raise ClientError(
                ErrorCode.MISSING_FIELD, f"video_list[{i}].video_url is required", param="video_list"
            )
        if item.refer_type not in (None, "feature", "base"):
            raise invalid("video_list", f"video_list[{i}].refer_type must be feature or base")
        if item.keep_original_sound not in (None, "yes", "no"):
            raise invalid("video_list", f"video_list[{i}].keep_original_sound must be yes or no")
        videos.append(
            VideoRef(
                role=VideoRole(item.refer_type or "base"),
                source=(item.video_url or "").strip(),
                keep_original_sound=item.keep_original_sound == "yes",
            )
        )
    if len(videos) > 1:
        raise ClientError(ErrorCode.ITEM_COUNT, "video_list takes at most one video", param="video_list")
    return videos


def parse_omni(raw: dict[str, Any], *, model: str | None = None) -> Parsed:
    body = validate(Omni, raw)
    fields = _common(body, endpoint="omni-video", model=model)
    _check_prompt_and_aspect(fields["prompt"], body.aspect_ratio)
    images = _omni_images(body)
    videos = _omni_videos(body)
    elements = body.element_list or []
    cap = 4 if videos else 7
    if len(images) + len(elements) > cap:
        raise ClientError(
            ErrorCode.ITEM_COUNT,
            f"image_list plus element_list hold {len(images) + len(elements)} items; the limit is {cap}"
            + (" when video_list is set" if videos else ""),
            param="image_list",
        )
    if elements:
        raise invalid(
            "element_list",
            "element_list (subject library elements) is not supported by framecast; "
            "send the subject's pictures in image_list instead",
        )
    roles = {r.role for r in images}
    if videos:
        kind = TaskKind.VIDEO
    elif ImageRole.REFERENCE in roles:
        kind = TaskKind.REFERENCE
    elif ImageRole.LAST in roles:
        kind = TaskKind.FIRST_LAST
    elif ImageRole.FIRST in roles:
        kind = TaskKind.IMAGE
    else:
        kind = TaskKind.TEXT
    req = build_request(kind=kind, images=images, videos=videos, aspect_ratio=body.aspect_ratio, **fields)
    return Parsed(req, _echo(body, "omni-video"))


PARSERS = {"image2video": parse_image2video, "text2video": parse_text2video, "omni-video": parse_omni}


# --- render ------------------------------------------------------------------------------------------


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


STATUS = {
    TaskState.QUEUED: "submitted",
    TaskState.RUNNING: "processing",
    TaskState.SUCCEEDED: "succeed",
    TaskState.FAILED: "failed",
    TaskState.CANCELLED: "failed",  # Kling has no cancelled state; the message says why
}


def task_info(task: Task) -> dict[str, Any]:
    ext = task.echo.get("external_task_id")
    return {"external_task_id": ext} if ext else {}


def seconds(value: float) -> str:
    """Kling and Qianfan send durations as strings like "5.354"."""
    return format(round(value, 3), "g")


def render_videos(task: Task, links: Links) -> list[dict[str, Any]]:
    if task.state is not TaskState.SUCCEEDED:
        return []
    out = []
    for c in task.creations:
        item: dict[str, Any] = {"id": c.id, "url": links.video(c), "duration": seconds(c.duration)}
        if c.watermarked_key:
            item["watermark_url"] = links.watermarked(c)
        out.append(item)
    return out


def render_created(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "task_status": STATUS[task.state],
        "task_info": task_info(task),
        "created_at": ms(task.created_at),
        "updated_at": ms(task.updated_at),
    }


def render_task(task: Task, links: Links) -> dict[str, Any]:
    msg = task.error.message if task.error and task.state in (TaskState.FAILED, TaskState.CANCELLED) else ""
    return {
        "task_id": task.id,
        "task_status": STATUS[task.state],
        "task_status_msg": msg,
        "task_info": task_info(task),
        "task_result": {"videos": render_videos(task, links)},
        "created_at": ms(task.created_at),
        "updated_at": ms(task.updated_at),
    }


def envelope(data: Any, request_id: str) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data}
