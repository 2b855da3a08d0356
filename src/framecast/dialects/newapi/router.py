"""Thin router for the new-api / UniAll gateway routes ``/v1/video/generations``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from framecast.dialects.common import idempotency_key, json_answer, read_json, request_body
from framecast.dialects.deps import CallerDep, PrincipalDep, ServiceDep
from framecast.dialects.newapi import translate
from framecast.dialects.newapi.errors import RESPONSES
from framecast.dialects.newapi.models import GenerationCreate
from framecast.errors import NotFoundError
from framecast.poll_path import poll_route

PREFIX = "/v1/video/generations"
router = APIRouter(prefix=PREFIX, tags=["new-api"], responses=RESPONSES)


@router.post(
    "", summary="new-api / UniAll: create a video task", openapi_extra=request_body(GenerationCreate)
)
async def create(request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
    raw = await read_json(request)
    req, echo = translate.parse(raw, idempotency_key=idempotency_key(request))
    task = await run_in_threadpool(
        svc.submit, principal, req, dialect="newapi", echo=echo, limits=translate.LIMITS
    )
    return translate.render_create(task)


@router.get("/{task_id}", summary="new-api / UniAll: query a video task", response_model=dict[str, Any])
@poll_route
async def query(task_id: str, caller: CallerDep) -> Response:
    try:
        task = await caller.poll(translate.internal_id(task_id))
    except NotFoundError as exc:
        raise NotFoundError(f"task {task_id!r} does not exist") from exc
    return json_answer(translate.render_query(task, caller.links))
