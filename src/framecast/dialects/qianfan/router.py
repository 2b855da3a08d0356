"""Thin router for ``/beta/video/generations/qianfan-video``: create and query, both families.

Errors raised once the model family is known are rendered here, in that family's
envelope; everything earlier goes through the registered HTTP-level renderer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from framecast.config import Catalog
from framecast.dialects.common import (
    CallbackRenderer,
    Links,
    read_json,
    request_body,
    submit,
    trace_id_of,
)
from framecast.dialects.deps import CallerDep, PrincipalDep, ServiceDep
from framecast.dialects.qianfan import translate
from framecast.dialects.qianfan.errors import RESPONSES, http_level_error, numeric_error
from framecast.dialects.qianfan.models import QianfanCreate
from framecast.domain import ErrorCode, Task
from framecast.errors import ClientError
from framecast.poll_path import poll_route

PREFIX = "/beta/video/generations"
router = APIRouter(prefix=PREFIX, tags=["qianfan"], responses=RESPONSES)


@router.post(
    "/qianfan-video", summary="Qianfan: create a video task", openapi_extra=request_body(QianfanCreate)
)
async def create(request: Request, principal: PrincipalDep, svc: ServiceDep) -> Response:
    trace_id = trace_id_of(request)
    body = translate.parse_body(await read_json(request))
    family = translate.family_of(svc.catalog, body.model or "")
    render_error = numeric_error if family == translate.KLING else http_level_error
    try:
        parsed = translate.parse(body, family)
        task = await submit(
            request, svc, principal, parsed.request, dialect="qianfan", echo=parsed.echo, limits=parsed.limits
        )
    except ClientError as exc:
        return render_error(exc, trace_id)
    return JSONResponse(translate.render_create(task, family, trace_id))


@router.get("/qianfan-video", summary="Qianfan: query a video task")
@poll_route
async def query(request: Request, caller: CallerDep) -> Response:
    trace_id = trace_id_of(request)
    # ``model`` is optional on the vendor and not needed here: the task knows its model
    task_id = request.query_params.get("task_id", "").strip()
    try:
        if not task_id:
            raise ClientError(ErrorCode.MISSING_FIELD, "task_id is required", param="task_id")
        task = await caller.poll(task_id)
    except ClientError as exc:
        return numeric_error(exc, trace_id)
    family = translate.family_of_task(caller.svc.catalog, task)
    return JSONResponse(translate.render_query(task, family, caller.links, trace_id))


def callback_renderer(catalog: Catalog) -> CallbackRenderer:
    """The query answer in the task's model family: which family a model is in is the catalog's say."""

    def callback_body(task: Task, links: Links) -> dict[str, Any]:
        return translate.render_query(task, translate.family_of(catalog, task.request.model), links, "")

    return callback_body
