"""Baicai wire format <-> the canonical model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from framecast.dialects._base import build_request, invalid, missing, validate
from framecast.dialects.baicai.models import BaicaiCreate, BaicaiInput
from framecast.dialects.common import Links
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
from framecast.media.images import ImageLimits
from framecast.service import SubmitLimits

# The flf2video model is Vidu-backed, so Vidu's prompt and first/last pixel-ratio rules (framecast's
# defaults) apply; Baicai's page names png and jpg only.
LIMITS = SubmitLimits(images=ImageLimits(formats=frozenset({"png", "jpeg"})))
TASK_KINDS = {"flf2video": TaskKind.FIRST_LAST, "i2v": TaskKind.IMAGE, "t2v": TaskKind.TEXT}

Resolver = Callable[[ImageRole, str], ImageRef]


def _kind(body: BaicaiCreate, inp: BaicaiInput) -> TaskKind:
    task_type = (body.task_type or "").strip()
    if not task_type:
        raise missing("task_type")
    if inp.mutil_reference:
        # multi-reference subjects need a generative engine; the service refuses REFERENCE on builtin
        return TaskKind.REFERENCE
    kind = TASK_KINDS.get(task_type)
    if kind is None:
        raise invalid("task_type", f"unknown task_type {task_type!r}; one of: {', '.join(TASK_KINDS)}")
    return kind


def _check_knobs(inp: BaicaiInput) -> int | None:
    """Range-check the i2v knobs; framecast has no use for the diffusion ones, so they are refused."""
    if inp.num_inference_steps is not None and not 1 <= inp.num_inference_steps <= 50:
        raise invalid("input.num_inference_steps", "input.num_inference_steps must be between 1 and 50")
    if inp.true_cfg_scale is not None and not 0 <= inp.true_cfg_scale <= 20:
        raise invalid("input.true_cfg_scale", "input.true_cfg_scale must be between 0 and 20")
    for name in ("num_inference_steps", "true_cfg_scale"):
        if getattr(inp, name) is not None:
            message = f"input.{name} is not supported by framecast's engines; remove it"
            raise invalid(f"input.{name}", message)
    if inp.seed is not None and not -1 <= inp.seed <= 4_294_967_295:
        raise invalid("input.seed", "input.seed must be between -1 and 4294967295")
    return None if inp.seed in (None, -1, 0) else inp.seed


def parse(raw: dict[str, Any], resolve: Resolver) -> tuple[GenerationRequest, dict[str, Any]]:
    body = validate(BaicaiCreate, raw)
    if not (body.selected_model or "").strip():
        raise missing("selected_model")
    if body.input is None:
        raise missing("input")
    inp = body.input
    kind = _kind(body, inp)
    if not body.async_:
        raise invalid("async", "only asynchronous tasks are supported; leave async at its default (true)")
    seed = _check_knobs(inp)
    if not (inp.prompt or "").strip():
        raise missing("input.prompt")
    if kind is TaskKind.FIRST_LAST:
        for field in ("resolution", "duration"):
            if getattr(inp, field) in (None, ""):
                raise missing(f"input.{field}")
    images = _images(kind, inp, resolve)
    req = build_request(
        names={"n": "input.number_of_videos"},
        kind=kind,
        model=(body.selected_model or "").strip(),
        prompt=inp.prompt or "",
        # the service adds what the keyframes show (or the configured chat model rewrites it): prompts/
        prompt_expansion=PromptExpansion.EXPAND if body.need_expand_prompt else PromptExpansion.NONE,
        negative_prompt=inp.negative_prompt or "",
        images=images,
        duration=inp.duration,
        resolution=inp.resolution or None,
        # aspect_ratio is documented as "no need to set: the first frame's ratio is used", so a
        # value sent out of habit is ignored rather than refused, exactly as the vendor does
        seed=seed,
        n=1 if inp.number_of_videos is None else inp.number_of_videos,
    )
    return req, {"task_type": body.task_type}


def _images(kind: TaskKind, inp: BaicaiInput, resolve: Resolver) -> list[ImageRef]:
    image = (inp.image or "").strip()
    last = (inp.last_image or "").strip()
    if kind is TaskKind.FIRST_LAST:
        if not image:
            raise missing("input.image")
        if not last:
            raise missing("input.last_image")
        return [resolve(ImageRole.FIRST, image), resolve(ImageRole.LAST, last)]
    if kind is TaskKind.IMAGE:
        if not image:
            raise missing("input.image")
        if last:
            raise ClientError(
                ErrorCode.UNWANTED_FIELD, "i2v takes no last_image; use flf2video", param="input.last_image"
            )
        return [resolve(ImageRole.FIRST, image)]
    if kind is TaskKind.TEXT and (image or last):
        raise ClientError(ErrorCode.UNWANTED_FIELD, "t2v takes no images; use i2v", param="input.image")
    return []


# --- render ------------------------------------------------------------------------------------------

STATUS = {
    TaskState.QUEUED: "PENDING",
    TaskState.RUNNING: "RUNNING",
    TaskState.SUCCEEDED: "COMPLETED",
    TaskState.FAILED: "FAILED",
    TaskState.CANCELLED: "CANCELED",
}


def ts(now: datetime | None = None) -> str:
    """The vendor's Java ZonedDateTime text, in UTC: 2026-02-02T02:44:54.716004Z[UTC]."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ[UTC]")


def ok(data: Any, message: str = "success") -> dict[str, Any]:
    return {"code": 0, "message": message, "data": data, "ts": ts()}


def render_status(task: Task) -> dict[str, Any]:
    item: dict[str, Any] = {
        "taskId": task.id,
        "status": STATUS[task.state],
        "progress": str(100 if task.state is TaskState.SUCCEEDED else task.progress),
    }
    if task.error is not None and task.state in (TaskState.FAILED, TaskState.CANCELLED):
        item["message"] = task.error.message
    return ok([item])


def render_result(task: Task, links: Links) -> dict[str, Any]:
    urls = [links.video(c) for c in task.creations] if task.state is TaskState.SUCCEEDED else []
    data: dict[str, Any] = {"taskId": task.id, "status": STATUS[task.state], "urls": urls}
    # Clients read either data.urls or data[0].result.urls. JSON cannot be both an object and
    # an array, but data[0] on an object reads its "0" key in JavaScript, so both paths resolve.
    data["0"] = {"result": {"urls": urls}}
    return ok(data, "success" if urls else f"task is {STATUS[task.state]}")


def render_callback(task: Task, links: Links) -> dict[str, Any]:
    """The status answer, with the result URLs once there are any."""
    return {**render_status(task), "result": render_result(task, links)}
