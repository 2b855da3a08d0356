"""OpenAI Videos wire format <-> the canonical model."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from framecast import domain
from framecast.config import Catalog, ModelSpec
from framecast.dialects._base import build_request, invalid, missing, parse_wxh, validate, whole_seconds
from framecast.dialects.openai_videos.errors import code_for
from framecast.dialects.openai_videos.models import ImageField, ImageInput, VideoCreate, VideoRemix
from framecast.domain import ErrorCode, GenerationRequest, ImageRef, ImageRole, Task, TaskKind, TaskState
from framecast.errors import ClientError, NotFoundError
from framecast.media.images import output_size
from framecast.service import SubmitLimits

DEFAULT_MODEL = "sora-2"
# OpenAI documents no prompt limit: framecast's defaults apply
LIMITS = SubmitLimits()
# OpenAI's own wording for a missing parameter
MISSING = "missing required parameter: '{param}'"
_PIXEL_SIZE = re.compile(r"^\d+x\d+$")

ResolveFile = Callable[[str], str]

STATUS = {
    TaskState.QUEUED: "queued",
    TaskState.RUNNING: "in_progress",
    TaskState.SUCCEEDED: "completed",
    TaskState.FAILED: "failed",
    TaskState.CANCELLED: "failed",
}


def video_id(task_id: str) -> str:
    return f"video_{task_id}"


def internal_id(public_id: str) -> str:
    """Accept ``video_<id>``, new-api's ``task_<id>`` (UniAll aliases its query here) and the bare id."""
    for prefix in ("video_", "task_"):
        if public_id.startswith(prefix):
            return public_id[len(prefix) :]
    return public_id


def pixel_sizes(spec: ModelSpec) -> list[str]:
    return [r for r in spec.resolutions if _PIXEL_SIZE.match(r)]


def parse_size(raw: str, spec: ModelSpec) -> tuple[int, int]:
    """WxH, one of the model's pixel sizes when its catalog entry lists some.

    Otherwise any size the canonical model allows (even sides, 128-3840: ``GenerationRequest.size``).
    """
    size = parse_wxh(raw)
    allowed = pixel_sizes(spec)
    if size is None:
        hint = f"one of {', '.join(allowed)}" if allowed else "WIDTHxHEIGHT, e.g. 1280x720"
        raise invalid("size", f"size {raw!r} is not valid; use {hint}")
    if allowed and f"{size[0]}x{size[1]}" not in allowed:
        raise invalid(
            "size", f"size {raw!r} is not supported by model {spec.name}; allowed: {', '.join(allowed)}"
        )
    return size


def _image(field: ImageField, param: str) -> ImageInput:
    if isinstance(field, str):
        field = ImageInput(image_url=field)
    file_id = (field.file_id or "").strip()
    url = (field.image_url or "").strip()
    if file_id and url:
        raise invalid(param, f"{param}: give either file_id or image_url, not both")
    if not file_id and not url:
        raise missing(param, "{param} needs a file upload, a file_id or an image_url")
    return ImageInput(file_id=file_id or None, image_url=url or None)


def _ref(img: ImageInput, role: ImageRole, param: str, resolve_file: ResolveFile) -> ImageRef:
    if img.file_id:
        try:
            key = resolve_file(img.file_id)
        except NotFoundError as exc:
            raise ClientError(
                ErrorCode.NOT_FOUND, f"{param}: file {img.file_id!r} not found", param=param
            ) from exc
        return ImageRef(role=role, source=key, kind="blob")
    return ImageRef(role=role, source=img.image_url or "", kind="url")


def parse(
    raw: dict[str, Any], *, catalog: Catalog, resolve_file: ResolveFile, idempotency_key: str = ""
) -> tuple[GenerationRequest, dict[str, Any]]:
    """An OpenAI create body (JSON, or a form already folded into the same shape) -> canonical request."""
    # pydantic adds union member tags ("seconds.str"); OpenAI's param names the top-level field
    body = validate(VideoCreate, raw, top_level=True)
    prompt = body.prompt or ""
    if not prompt.strip():
        raise missing("prompt", MISSING)
    spec = catalog.require((body.model or DEFAULT_MODEL).strip())
    seconds = whole_seconds(body.seconds, "seconds", example="4", positive=True)
    size: tuple[int, int] | None = None
    if body.size:
        size = parse_size(body.size, spec)
    elif _PIXEL_SIZE.match(spec.default_resolution):
        size = parse_size(spec.default_resolution, spec)
    if body.last_frame is not None and body.last_image is not None:
        raise invalid("last_frame", "give last_frame or last_image, not both")
    last_field = body.last_frame if body.last_frame is not None else body.last_image
    first = _image(body.input_reference, "input_reference") if body.input_reference is not None else None
    last = _image(last_field, "last_frame") if last_field is not None else None
    refs = [_image(r, "reference_images") for r in body.reference_images or []]
    if last is not None and first is None:
        raise ClientError(
            ErrorCode.MISSING_FIELD,
            "last_frame needs input_reference as the first frame",
            param="input_reference",
        )
    if body.reference_images is not None:
        if first is not None or last is not None:
            raise ClientError(
                ErrorCode.UNWANTED_FIELD,
                "reference_images cannot be combined with input_reference or last_frame",
                param="reference_images",
            )
        if not 1 <= len(refs) <= domain.MAX_REFERENCE_IMAGES:
            raise ClientError(
                ErrorCode.ITEM_COUNT,
                f"reference_images takes 1-{domain.MAX_REFERENCE_IMAGES} images; got {len(refs)}",
                param="reference_images",
            )
    # files are resolved last: every cheap check has passed by now
    images: list[ImageRef] = []
    if refs:
        kind = TaskKind.REFERENCE
        images = [_ref(r, ImageRole.REFERENCE, "reference_images", resolve_file) for r in refs]
    elif first is not None and last is not None:
        kind = TaskKind.FIRST_LAST
        images = [
            _ref(first, ImageRole.FIRST, "input_reference", resolve_file),
            _ref(last, ImageRole.LAST, "last_frame", resolve_file),
        ]
    elif first is not None:
        kind = TaskKind.IMAGE
        images = [_ref(first, ImageRole.FIRST, "input_reference", resolve_file)]
    else:
        kind = TaskKind.TEXT
    # the size bounds and the seed range are checked by the model
    req = build_request(
        kind=kind,
        model=spec.name,
        prompt=prompt,
        images=images,
        duration=seconds,
        size=size,
        # a pixel size doubles as the resolution so the catalog prices it and other dialects show it
        resolution=f"{size[0]}x{size[1]}" if size and pixel_sizes(spec) else None,
        seed=body.seed or None,
        client_request_id=idempotency_key,
    )
    return req, {}


def parse_remix(raw: dict[str, Any], source: Task, *, idempotency_key: str = "") -> GenerationRequest:
    """A remix re-runs the source's request with a new prompt, from the source's stored input images."""
    body = validate(VideoRemix, raw, top_level=True)
    prompt = body.prompt or ""
    if not prompt.strip():
        raise missing("prompt", MISSING)
    if source.state is not TaskState.SUCCEEDED:
        raise ClientError(
            ErrorCode.INVALID_STATE,
            f"video {video_id(source.id)} is {STATUS[source.state]}; only completed videos can be remixed",
            param="video_id",
        )
    images = [ImageRef(role=img.role, source=img.key, kind="blob") for img in source.inputs]
    return source.request.model_copy(
        update={
            "prompt": prompt,
            "images": images,
            "seed": None,
            "client_request_id": idempotency_key,
            "callback_url": "",
        }
    )


_IMAGE_INDEX = re.compile(r"^image (\d+): ")
_ROLE_FIELD = {
    ImageRole.FIRST: "input_reference",
    ImageRole.LAST: "last_frame",
    ImageRole.REFERENCE: "reference_images",
}


def name_image_error(exc: ClientError, req: GenerationRequest) -> ClientError:
    """The service says "image 2: ..."; an OpenAI caller sent last_frame, so say that."""
    m = _IMAGE_INDEX.match(exc.message)
    if m is None or exc.param not in (None, "images"):
        return exc
    index = int(m.group(1)) - 1
    if not 0 <= index < len(req.images):
        return exc
    field = _ROLE_FIELD[req.images[index].role]
    label = f"{field}[{index}]" if field == "reference_images" else field
    return ClientError(exc.code, f"{label}: {exc.message[m.end() :]}", param=field, reason=exc.reason)


# --- render ------------------------------------------------------------------------------------------


def _ts(task_time: Any) -> int | None:
    return int(task_time.timestamp()) if task_time is not None else None


def size_of(task: Task) -> str:
    """WxH of the output: exact once rendered; before that, what the runner will pick."""
    if task.creations:
        c = task.creations[0]
        return f"{c.width}x{c.height}"
    r = task.request
    if r.size is not None:
        return f"{r.size[0]}x{r.size[1]}"
    first = next((i for i in task.inputs if i.role is ImageRole.FIRST), None)
    if first is not None and r.resolution:
        try:
            w, h = output_size(first.width, first.height, r.resolution)
            return f"{w}x{h}"
        except ClientError:
            pass
    return r.resolution or ""


def error_of(task: Task) -> dict[str, str] | None:
    if task.state is TaskState.CANCELLED:
        message = task.error.message if task.error else "cancelled by the user"
        return {"code": "cancelled", "message": message}
    if task.state is TaskState.FAILED:
        if task.error is None:
            return {"code": "internal_error", "message": "the video could not be generated"}
        return {"code": code_for(task.error.code), "message": task.error.message}
    return None


def render_video(task: Task) -> dict[str, Any]:
    r = task.request
    return {
        "id": video_id(task.id),
        "object": "video",
        "model": r.model,
        "status": STATUS[task.state],
        "progress": task.progress,
        "created_at": _ts(task.created_at),
        "completed_at": _ts(task.finished_at) if task.state.terminal else None,
        # framecast keeps results until DELETE; there is no expiry to announce
        "expires_at": None,
        "prompt": r.prompt,
        "seconds": str(int(r.duration or 0)),
        "size": size_of(task),
        "remixed_from_video_id": task.echo.get("remixed_from_video_id"),
        "error": error_of(task),
    }


def render_list(tasks: list[Task], has_more: bool) -> dict[str, Any]:
    data = [render_video(t) for t in tasks]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def render_deleted(task_id: str) -> dict[str, Any]:
    return {"id": video_id(task_id), "object": "video.deleted", "deleted": True}


# --- /v1/models --------------------------------------------------------------------------------------


def render_model(spec: ModelSpec, kinds: list[str], created: int) -> dict[str, Any]:
    """OpenAI's model object, plus what framecast knows about the name (its engine and limits)."""
    durations = list(spec.durations) or list(range(spec.min_duration, spec.max_duration + 1))
    return {
        "id": spec.name,
        "object": "model",
        "created": created,
        "owned_by": "framecast",
        # --8<-- framecast extensions
        "engine": spec.engine,
        "family": spec.family,
        "kinds": kinds,
        "durations": durations,
        "default_duration": spec.default_duration,
        "resolutions": list(spec.resolutions),
        "default_resolution": spec.default_resolution,
        "fps": spec.fps,
        # --8<--
    }
