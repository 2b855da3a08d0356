"""Thin router for Kling's ``/v1/videos/{image2video|omni-video|text2video}``: parse, submit, render.

Mounted before OpenAI Videos (``app.DEFAULT_DIALECTS`` says why).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from framecast.dialects.common import (
    add_create_route,
    json_answer,
    read_json,
    submit,
    trace_id_of,
)
from framecast.dialects.deps import CallerDep, LinksDep, PrincipalDep, ServiceDep
from framecast.dialects.kling import lookup, translate
from framecast.dialects.kling.errors import RESPONSES
from framecast.dialects.kling.models import Image2Video, Omni, Text2Video
from framecast.domain import ErrorCode
from framecast.errors import ClientError
from framecast.poll_path import poll_route

PREFIX = "/v1/videos"
ENDPOINTS = ("image2video", "omni-video", "text2video")
PREFIXES = tuple(f"{PREFIX}/{endpoint}" for endpoint in ENDPOINTS)
BODIES: dict[str, type[BaseModel]] = {
    "image2video": Image2Video,
    "omni-video": Omni,
    "text2video": Text2Video,
}
router = APIRouter(prefix=PREFIX, tags=["kling"], responses=RESPONSES)


def _page_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name} must be an integer from 1 to {high}", param=name)
    return int(raw)


def _routes(endpoint: str) -> None:
    parse = translate.PARSERS[endpoint]
    name = endpoint.replace("-", "_")

    async def create(request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
        parsed = parse(await read_json(request))
        task = await submit(
            request,
            svc,
            principal,
            parsed.request,
            dialect="kling",
            echo=parsed.echo,
            limits=translate.LIMITS,
            external_id=parsed.echo.get("external_task_id") or None,
        )
        return translate.envelope(translate.render_created(task), trace_id_of(request))

    async def get_one(task_id: str, request: Request, caller: CallerDep) -> Response:
        task = await lookup.resolve(caller, task_id)
        return json_answer(
            translate.envelope(translate.render_task(task, caller.links), trace_id_of(request))
        )

    async def list_tasks(
        request: Request, principal: PrincipalDep, svc: ServiceDep, links: LinksDep
    ) -> dict[str, Any]:
        page = _page_param(request, "pageNum", 1, 1000)
        size = _page_param(request, "pageSize", 30, 500)
        tasks = await run_in_threadpool(svc.list, principal, offset=(page - 1) * size, limit=size)
        return translate.envelope([translate.render_task(t, links) for t in tasks], trace_id_of(request))

    get_one.__name__ = f"kling_{name}_get"
    list_tasks.__name__ = f"kling_{name}_list"
    add_create_route(
        router,
        f"/{endpoint}",
        create,
        name=f"kling_{name}_create",
        summary=f"Kling: create {endpoint}",
        body=BODIES[endpoint],
    )
    router.add_api_route(
        f"/{endpoint}/{{task_id}}",
        poll_route(get_one),
        methods=["GET"],
        summary="Kling: query a task",
        response_model=dict[str, Any],
    )
    router.add_api_route(f"/{endpoint}", list_tasks, methods=["GET"], summary="Kling: list tasks")


for _endpoint in ENDPOINTS:
    _routes(_endpoint)
