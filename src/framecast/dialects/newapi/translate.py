"""new-api / UniAll wire format <-> the canonical model.

The query body answers three kinds of client at once (reference 3.4 and 3.6):

- new-api's code: ``{code:"success", message, data:{... status:"SUCCESS", progress:"100%", result_url}}``;
- new-api's docs: flat ``task_id``, ``status`` (queued|in_progress|completed|failed), ``url``,
  ``format``, ``metadata``, ``error``;
- UniAll: flat ``id``, ``object``, ``status``, ``progress`` (int), ``video_url``, ``thumbnail_url``.

The two flat shapes agree on ``status`` and differ from the envelope only in
keys the envelope does not use, so they sit at the top level next to ``code``
/ ``message`` / ``data``. ``data`` carries the code's keys; the flat keys that
don't collide there are repeated in it, and the lower-case status word, which
would collide with ``data.status``, is in ``data.video_status``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from framecast import domain
from framecast.dialects._base import build_request, invalid, parse_wxh, validate, whole_seconds
from framecast.dialects.common import Links
from framecast.dialects.newapi.errors import status_and_code
from framecast.dialects.newapi.models import GenerationCreate, Overrides
from framecast.dialects.openai_videos import translate as openai_videos
from framecast.dialects.vidu import translate as vidu_translate
from framecast.domain import ErrorCode, GenerationRequest, ImageRef, ImageRole, Task, TaskKind, TaskState
from framecast.errors import ClientError
from framecast.service import SubmitLimits

DEFAULT_MODEL = "viduq1"  # what new-api's Vidu adaptor sends when the client names none
OFFPEAK_SUFFIX = "-offpeak"
MAX_REFERENCE_URLS = 4  # UniAll mix mode
# the gateways relay to Vidu, whose limits are framecast's defaults
LIMITS = SubmitLimits()
OBJECT = "video.generation.job"  # UniAll's word; new-api itself says "video"
_RESOLUTION = re.compile(r"^\d{3,4}p$", re.I)
# the canonical rules name these fields as they sit in the body: in metadata (Overrides)
METADATA_NAMES = {
    name: f"metadata.{name}" for name in ("movement_amplitude", "wm_position", "payload", "meta_data")
}

# new-api action names (constant/task.go) and the Vidu path names new-api's adaptor also takes
ACTIONS: dict[str, TaskKind] = {
    "textGenerate": TaskKind.TEXT,
    "text2video": TaskKind.TEXT,
    "generate": TaskKind.IMAGE,
    "img2video": TaskKind.IMAGE,
    "firstTailGenerate": TaskKind.FIRST_LAST,
    "start-end2video": TaskKind.FIRST_LAST,
    "referenceGenerate": TaskKind.REFERENCE,
    "reference2video": TaskKind.REFERENCE,
}
ACTION_OF = {
    TaskKind.TEXT: "textGenerate",
    TaskKind.IMAGE: "generate",
    TaskKind.FIRST_LAST: "firstTailGenerate",
    TaskKind.REFERENCE: "referenceGenerate",
    TaskKind.VIDEO: "generate",
}

CODE_STATUS = {
    TaskState.QUEUED: "QUEUED",
    TaskState.RUNNING: "IN_PROGRESS",
    TaskState.SUCCEEDED: "SUCCESS",
    TaskState.FAILED: "FAILURE",
    TaskState.CANCELLED: "FAILURE",
}
# new-api's documented flat status words are OpenAI Videos' (reference 3.4), and a task is
# found by either dialect's id (task_<id>, video_<id> or bare)
FLAT_STATUS = openai_videos.STATUS
internal_id = openai_videos.internal_id


def public_id(task_id: str) -> str:
    return f"task_{task_id}"


def _metadata(raw: dict[str, Any] | str | None) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise invalid("metadata", "metadata must be a JSON object or a JSON string of one") from exc
        if not isinstance(value, dict):
            raise invalid("metadata", "metadata must be a JSON object or a JSON string of one")
        return value
    return raw


def split_model(name: str) -> tuple[str, bool]:
    """UniAll spells off-peak as a model suffix: ``viduq3p-1080p-offpeak`` -> (``viduq3p-1080p``, True)."""
    if name.lower().endswith(OFFPEAK_SUFFIX) and len(name) > len(OFFPEAK_SUFFIX):
        return name[: -len(OFFPEAK_SUFFIX)], True
    return name, False


def _images(values: list[Any], param: str) -> list[str]:
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise ClientError(ErrorCode.MISSING_FIELD, f"{param}[{i}] is empty", param=param)
        out.append(value.strip())
    return out


def _pick_kind(
    firsts: list[str], last: str | None, refs: list[str], action: str | None
) -> tuple[TaskKind, list[ImageRef]]:
    """The reference's "how the Vidu adaptor picks an upstream path", plus UniAll's image/last_image."""
    if refs:
        if firsts or last:
            raise ClientError(
                ErrorCode.UNWANTED_FIELD,
                "reference_image_urls cannot be combined with image, images or last_image",
                param="reference_image_urls",
            )
        if len(refs) > MAX_REFERENCE_URLS:
            raise ClientError(
                ErrorCode.ITEM_COUNT,
                f"reference_image_urls takes at most {MAX_REFERENCE_URLS} images; got {len(refs)}",
                param="reference_image_urls",
            )
        kind = TaskKind.REFERENCE
        sources = refs
    elif last is not None:
        if not firsts:
            raise ClientError(
                ErrorCode.MISSING_FIELD,
                "last_image needs image as the first frame; last_image alone is not supported",
                param="image",
            )
        if len(firsts) != 1:
            raise ClientError(
                ErrorCode.ITEM_COUNT,
                f"last_image takes exactly one first frame in image; got {len(firsts)} images",
                param="images",
            )
        kind = TaskKind.FIRST_LAST
        sources = [firsts[0], last]
    else:
        sources = firsts
        if len(sources) > domain.MAX_REFERENCE_IMAGES:
            raise ClientError(
                ErrorCode.ITEM_COUNT,
                f"at most {domain.MAX_REFERENCE_IMAGES} images are accepted; got {len(sources)}",
                param="images",
            )
        kind = {0: TaskKind.TEXT, 1: TaskKind.IMAGE, 2: TaskKind.FIRST_LAST}.get(
            len(sources), TaskKind.REFERENCE
        )
    if action:
        wanted = ACTIONS.get(action)
        if wanted is None:
            raise invalid(
                "metadata", f"metadata.action {action!r} is not supported; use {', '.join(ACTIONS)}"
            )
        if wanted is TaskKind.REFERENCE and kind in (TaskKind.IMAGE, TaskKind.FIRST_LAST) and last is None:
            kind = TaskKind.REFERENCE  # one or two images used as references, as the action says
        elif wanted is not kind:
            raise ClientError(
                ErrorCode.ITEM_COUNT,
                f"metadata.action {action!r} does not fit the {len(sources)} image(s) given",
                param="images",
            )
    roles = {
        TaskKind.IMAGE: [ImageRole.FIRST],
        TaskKind.FIRST_LAST: [ImageRole.FIRST, ImageRole.LAST],
    }.get(kind, [ImageRole.REFERENCE] * len(sources))
    return kind, [ImageRef(role=r, source=s) for r, s in zip(roles, sources, strict=True)]


def _size(raw: str) -> tuple[str | None, tuple[int, int] | None]:
    """new-api's ``size`` is either a resolution ("720p", as its Vidu adaptor sends) or WxH.

    The WxH bounds are the canonical model's (``GenerationRequest.size``).
    """
    text = raw.strip()
    if _RESOLUTION.match(text):
        return text.lower(), None
    size = parse_wxh(text)
    if size is None:
        raise invalid("size", f"size {raw!r} is not valid; use a resolution like 720p or WIDTHxHEIGHT")
    return None, size


def parse(raw: dict[str, Any], *, idempotency_key: str = "") -> tuple[GenerationRequest, dict[str, Any]]:
    body = validate(GenerationCreate, raw)
    meta = _metadata(body.metadata)
    over = validate(Overrides, meta, prefix="metadata.")
    extra = body.extra_body
    client_model = (body.model or DEFAULT_MODEL).strip()
    model, off_peak = split_model(client_model)

    firsts = _images([body.image] if body.image is not None else [], "image")
    firsts += _images([body.input_reference] if body.input_reference else [], "input_reference")
    firsts += _images(list(body.images or []), "images")
    last_raw = over.image_tail if over.image_tail is not None else body.last_image
    last = _images([last_raw], "last_image")[0] if last_raw is not None else None
    refs = _images(list(body.reference_image_urls or []), "reference_image_urls")
    kind, images = _pick_kind(firsts, last, refs, over.action)

    prompt = body.prompt or ""
    if kind in (TaskKind.TEXT, TaskKind.REFERENCE) and not prompt.strip():
        raise ClientError(
            ErrorCode.MISSING_FIELD, "prompt is required for this kind of video", param="prompt"
        )

    # precedence, as new-api merges: top-level fields < extra_body < metadata
    duration = whole_seconds(body.duration, "duration")
    if duration is None:
        duration = whole_seconds(body.seconds, "seconds")
    if over.duration is not None:
        duration = whole_seconds(over.duration, "metadata.duration")
    resolution, size = (None, None)
    if body.size:
        resolution, size = _size(body.size)
    resolution = over.resolution or body.resolution or resolution
    seed = body.seed
    audio, bgm = False, False
    if extra is not None:
        seed = extra.seed if extra.seed is not None else seed
        audio = bool(extra.audio) if extra.audio is not None else audio
        bgm = bool(extra.bgm) if extra.bgm is not None else bgm
    seed = over.seed if over.seed is not None else seed
    audio = over.audio if over.audio is not None else audio
    bgm = over.bgm if over.bgm is not None else bgm
    # seed, n, fps, size, movement amplitude, watermark position, payload and meta_data are
    # checked by the model, in the words of the field the client sent
    req = build_request(
        names=METADATA_NAMES,
        kind=kind,
        model=model,
        prompt=prompt,
        negative_prompt=over.negative_prompt or "",
        images=images,
        duration=duration,
        fps=over.fps or body.fps,
        resolution=resolution,
        size=size,
        aspect_ratio=over.aspect_ratio or body.aspect_ratio,
        seed=seed or None,
        movement_amplitude=over.movement_amplitude or "auto",
        n=1 if body.n is None else body.n,
        audio=audio,
        bgm=bgm,
        watermark={
            "enabled": bool(over.watermark),
            "position": 3 if over.wm_position is None else over.wm_position,
            "image_url": over.wm_url or "",
        },
        meta_data=over.meta_data or "",
        payload=over.payload or "",
        callback_url=over.callback_url or "",
        off_peak=off_peak or bool(over.off_peak),
        client_request_id=idempotency_key,
    )
    echo = {"client_model": client_model, "action": ACTION_OF[kind], "metadata": meta}
    return req, echo


# --- render ------------------------------------------------------------------------------------------


def _ts(dt: datetime | None) -> int:
    return int(dt.timestamp()) if dt is not None else 0


def _model(task: Task) -> str:
    return str(task.echo.get("client_model") or task.request.model)


def render_create(task: Task) -> dict[str, Any]:
    pid = public_id(task.id)
    return {
        "id": pid,
        "task_id": pid,
        "object": OBJECT,
        "model": _model(task),
        "status": FLAT_STATUS[task.state],
        "progress": task.progress,
        "created_at": _ts(task.created_at),
    }


def _fail_reason(task: Task) -> str:
    if task.state is TaskState.CANCELLED:
        return task.error.message if task.error else "cancelled by the user"
    if task.state is TaskState.FAILED:
        return task.error.message if task.error else "the video could not be generated"
    return ""


def _error(task: Task) -> dict[str, Any] | None:
    if not task.state.terminal or task.state is TaskState.SUCCEEDED:
        return None
    code = task.error.code if task.error else ErrorCode.INTERNAL
    if task.state is TaskState.CANCELLED:
        code = ErrorCode.CANCELLED
    status, word = status_and_code(code)
    # the docs give error.code as an int; the string word goes in type
    return {"code": status, "message": _fail_reason(task), "type": word}


def _result_metadata(task: Task) -> dict[str, Any]:
    r = task.request
    c = task.creations[0] if task.state is TaskState.SUCCEEDED and task.creations else None
    return {
        "duration": c.duration if c else r.duration,
        "fps": c.fps if c else r.fps,
        "width": c.width if c else (r.size[0] if r.size else None),
        "height": c.height if c else (r.size[1] if r.size else None),
        "seed": c.seed if c else task.seed,
    }


def render_query(task: Task, links: Links) -> dict[str, Any]:
    r = task.request
    pid = public_id(task.id)
    done = task.state is TaskState.SUCCEEDED and bool(task.creations)
    video_url = links.video(task.creations[0]) if done else ""
    cover_url = links.cover(task.creations[0]) if done else ""
    flat_status = FLAT_STATUS[task.state]
    error = _error(task)
    metadata = _result_metadata(task)
    data: dict[str, Any] = {
        # new-api's code (relay_task.go videoFetchByIDRespBodyBuilder, dto/task.go)
        "id": int(task.id) if task.id.isdigit() else task.id,
        "task_id": pid,
        "platform": "framecast",
        "action": task.echo.get("action") or ACTION_OF[r.kind],
        "status": CODE_STATUS[task.state],
        "fail_reason": _fail_reason(task),
        "result_url": video_url,
        "progress": f"{task.progress}%",
        "submit_time": _ts(task.created_at),
        "start_time": _ts(task.started_at),
        "finish_time": _ts(task.finished_at),
        "created_at": _ts(task.created_at),
        "updated_at": _ts(task.updated_at),
        "quota": task.credits,
        "properties": {
            "input": r.prompt,
            "origin_model_name": _model(task),
            "upstream_model_name": r.model,
            "metadata": task.echo.get("metadata") or {},
        },
        # the upstream body new-api keeps raw: framecast's Vidu query answer, creations included
        "data": vidu_translate.render_query(task, links),
        # new-api's docs, where they don't collide with the code's keys
        "video_status": flat_status,
        "url": video_url,
        "format": "mp4",
        "metadata": metadata,
        "error": error,
        # UniAll
        "video_url": video_url,
        "thumbnail_url": cover_url,
    }
    return {
        "code": "success",
        "message": "",
        "data": data,
        # new-api docs and UniAll, flat
        "id": pid,
        "task_id": pid,
        "object": OBJECT,
        "model": _model(task),
        "prompt": r.prompt,
        "status": flat_status,
        "progress": task.progress,
        "url": video_url,
        "video_url": video_url,
        "thumbnail_url": cover_url,
        "format": "mp4",
        "duration": int(r.duration or 0),
        "created_at": _ts(task.created_at),
        "completed_at": _ts(task.finished_at) if task.state.terminal else None,
        "metadata": metadata,
        "error": error,
    }
