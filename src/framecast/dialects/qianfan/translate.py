"""Qianfan wire format <-> the canonical model.

One create path serves two model families with different bodies and different
query shapes; the catalog's ``family`` of the model picks which:

- ``kling`` (KO1, K3O): ``model_parameters`` are Kling's own bodies, parsed by
  the Kling dialect (omni-video, img2video, text2video).
- ``vidu`` (qianfan-video-latest, VQ2-Pro): ``model_parameters`` are Vidu's
  bodies, parsed by the Vidu dialect with Qianfan's limits (prompt <= 1500,
  prompt required for start-end2video; audio only when asked, as the engine makes silent video).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from framecast.config import Catalog
from framecast.dialects._base import invalid, missing, validate
from framecast.dialects.common import Links
from framecast.dialects.kling import translate as kling
from framecast.dialects.qianfan.models import QianfanCreate
from framecast.dialects.vidu import translate as vidu
from framecast.domain import ErrorCode, GenerationRequest, Task
from framecast.errors import ClientError
from framecast.service import SubmitLimits

KLING = "kling"
VIDU = "vidu"
# Qianfan's own prompt limit for its Vidu-family models; the rest are framecast's defaults
VIDU_LIMITS = SubmitLimits(max_prompt_chars=1500)
VIDU_TYPES = ("start-end2video", "img2video", "text2video")
KLING_TYPES = ("omni-video", "img2video", "text2video")
KLING_ENDPOINTS = {"img2video": "image2video"}  # Qianfan's type -> the Kling endpoint whose body it takes
# documented Qianfan types framecast has no engine for
UNSUPPORTED_TYPES = ("motion-control", "lip-sync", "advanced-lipsync")


@dataclass(frozen=True)
class Parsed:
    request: GenerationRequest
    echo: dict[str, Any]
    limits: SubmitLimits


def parse_body(raw: dict[str, Any]) -> QianfanCreate:
    """The envelope fields; failures here answer in the HTTP-level envelope."""
    body = validate(QianfanCreate, raw)
    for name in ("model", "type"):
        if not (getattr(body, name) or "").strip():
            raise missing(name)
    known = {*VIDU_TYPES, *KLING_TYPES, *UNSUPPORTED_TYPES}
    if body.type not in known:
        raise invalid("type", f"unknown type {body.type!r}; one of: {', '.join(sorted(known))}")
    if body.model_parameters is None:
        raise missing("model_parameters")
    return body


def family_of(catalog: Catalog, model: str) -> str:
    spec = catalog.require(model)
    return KLING if spec.family == KLING else VIDU


def family_of_task(catalog: Catalog, task: Task) -> str:
    spec = catalog.get(task.request.model)
    if spec is None:  # the operator removed the model since; fall back on who created the task
        return KLING if task.dialect == "kling" else VIDU
    return KLING if spec.family == KLING else VIDU


def parse(body: QianfanCreate, family: str) -> Parsed:
    """``model_parameters`` in the family's shape; failures answer in the family's envelope."""
    kind = body.type or ""
    params = dict(body.model_parameters or {})
    model = (body.model or "").strip()
    if kind in UNSUPPORTED_TYPES:
        raise ClientError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"type {kind} is not available on this server: framecast has no engine for it",
            param="type",
        )
    if family == KLING:
        if kind not in KLING_TYPES:
            raise invalid(
                "type",
                f"type {kind} is for Vidu-family models (qianfan-video-latest, VQ*); "
                f"{model} takes omni-video (image_list first_frame/end_frame), img2video or text2video",
            )
        parsed = kling.PARSERS[KLING_ENDPOINTS.get(kind, kind)](params, model=model)
        return Parsed(parsed.request, {**parsed.echo, "qianfan_type": kind}, kling.LIMITS)
    if kind not in VIDU_TYPES:
        raise invalid(
            "type",
            f"type {kind} is for Kling-family models (KO1, K3O); {model} takes start-end2video, "
            "img2video or text2video",
        )
    if kind == "start-end2video" and not str(params.get("prompt") or "").strip():
        raise missing("prompt", "model_parameters.prompt is required")
    params["model"] = model
    # Qianfan's Vidu models make sound unless told not to; framecast's engines make silent video, so an
    # absent flag means silence here and an explicit audio:true is refused rather than ignored
    req, echo = vidu.parse(vidu.ENDPOINTS[kind], params)
    return Parsed(req, {**echo, "qianfan_type": kind}, VIDU_LIMITS)


# --- render ------------------------------------------------------------------------------------------


def render_create(task: Task, family: str, request_id: str) -> dict[str, Any]:
    if family == KLING:
        return {"code": 0, "message": "", "request_id": request_id, "data": kling.render_created(task)}
    # Qianfan documents no Vidu-family create body: Vidu's, plus the id/status keys its query uses
    body = vidu.render_create(task)
    return {"log_id": request_id, "id": task.id, "status": body["state"], **body}


def render_query(task: Task, family: str, links: Links, request_id: str) -> dict[str, Any]:
    r = task.request
    duration = int(r.duration or 0)
    if family == KLING:
        return {
            "code": 0,
            "message": "",
            "request_id": request_id,
            "data": kling.render_task(task, links),
            "usage": {
                "model_name": r.model,
                "mode": task.echo.get("mode", "std"),
                "duration": str(duration),
                "credits": str(task.credits),
                # what the task was charged (framecast bills once, at submit)
                "final_unit_deduction": str(task.credits),
            },
        }
    return {
        "log_id": request_id,
        "id": task.id,
        "status": vidu.state_of(task),
        "err_code": vidu.err_code_of(task),
        "creations": vidu.render_creations(task, links),
        "usage": {
            "model": r.model,
            "duration": duration,
            "resolution": r.resolution or "",
            "credits": task.credits,
        },
    }
