"""Thin router for ``/ent/v2``: read, translate, call the service, render."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from framecast.dialects.common import add_create_route, json_answer, read_json, request_body
from framecast.dialects.deps import CallerDep, LinksDep, PrincipalDep, ServiceDep
from framecast.dialects.vidu import translate
from framecast.dialects.vidu.errors import RESPONSES
from framecast.dialects.vidu.models import ViduCancel, ViduCreate
from framecast.domain import ErrorCode, TaskState
from framecast.errors import ClientError, InvalidStateError
from framecast.poll_path import poll_route
from framecast.service import TaskQuery

PREFIX = "/ent/v2"
router = APIRouter(prefix=PREFIX, tags=["vidu"], responses=RESPONSES)


def _create_route(endpoint: translate.Endpoint) -> None:
    async def create(request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
        raw = await read_json(request)
        req, echo = translate.parse(endpoint, raw)
        task = await run_in_threadpool(
            svc.submit, principal, req, dialect="vidu", echo=echo, limits=translate.LIMITS
        )
        return translate.render_create(task)

    name = f"vidu_{endpoint.path.replace('-', '_')}"
    summary = f"Vidu {endpoint.path} ({endpoint.kind.value})"
    add_create_route(router, f"/{endpoint.path}", create, name=name, summary=summary, body=ViduCreate)


for _endpoint in translate.ENDPOINTS.values():
    _create_route(_endpoint)


@router.get("/tasks/{task_id}/creations", summary="Vidu: query one task", response_model=dict[str, Any])
@poll_route
async def get_creations(task_id: str, caller: CallerDep) -> Response:
    return json_answer(translate.render_query(await caller.poll(task_id), caller.links))


@router.post(
    "/tasks/{task_id}/cancel",
    summary="Vidu: cancel a task",
    openapi_extra=request_body(ViduCancel, required=False),
)
async def cancel(task_id: str, request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
    if request.headers.get("content-length", "0") not in ("", "0"):
        raw = await read_json(request)
        if raw.get("id") not in (None, "", task_id):
            raise ClientError(
                ErrorCode.INVALID_FIELD, "body id does not match the task id in the path", param="id"
            )
    try:
        await run_in_threadpool(svc.cancel, principal, task_id)
    except InvalidStateError as exc:
        task = await run_in_threadpool(svc.get, principal, task_id)
        raise ClientError(ErrorCode.INVALID_STATE, translate.cannot_cancel(task)) from exc
    return {}


@router.get("/credits", summary="Vidu: credits and concurrency")
async def credits(principal: PrincipalDep, svc: ServiceDep, show_detail: bool = False) -> dict[str, Any]:
    usage = await run_in_threadpool(svc.usage, principal)
    remains = [
        {
            "type": "credit",
            # an unmetered tenant has no balance: -1 says "unlimited" to clients that expect a number
            "credit_remain": usage.credits if usage.credits is not None else -1,
            "concurrency_limit": usage.concurrency_limit or 0,
            "current_concurrency": usage.running,
            "queue_count": usage.queued,
        }
    ]
    return {"remains": remains, "packages": []}


def _multi(request: Request, name: str) -> list[str]:
    values = request.query_params.getlist(name) + request.query_params.getlist(f"{name}[]")
    return [v for item in values for v in item.split(",") if v]


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name} must be an integer", param=name) from exc


def _time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        if raw.isdigit():
            return datetime.fromtimestamp(int(raw), tz=UTC)
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name} must be an RFC 3339 time", param=name) from exc


@router.get("/tasks", summary="Vidu: list tasks")
async def list_tasks(
    request: Request, principal: PrincipalDep, svc: ServiceDep, links: LinksDep
) -> dict[str, Any]:
    page = _int(request, "pager.page", 0)
    size = _int(request, "pager.pagesz", 10)
    if not 1 <= size <= 100:
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            "pager.pagesz must be between 1 and 100",
            param="pager.pagesz",
            reason="PageSizeOutOfRange",
        )
    if page < 0:
        raise ClientError(ErrorCode.INVALID_FIELD, "pager.page must be 0 or more", param="pager.page")
    states: list[TaskState] = []
    for word in _multi(request, "states"):
        if word not in translate.STATE_FILTER:
            raise ClientError(ErrorCode.INVALID_FIELD, f"unknown state {word!r}", param="states")
        states += translate.STATE_FILTER[word]
    token = request.query_params.get("pager.page_token") or ""
    after_id = _decode_token(token) if token else None
    query = TaskQuery(
        states=states,
        task_ids=_multi(request, "task_ids"),
        models=_multi(request, "model_versions"),
        created_from=_time(request, "created_at.from"),
        created_to=_time(request, "created_at.to"),
        after_id=after_id,
    )
    offset = 0 if after_id else page * size
    tasks = await run_in_threadpool(svc.list, principal, query, offset=offset, limit=size + 1)
    more = len(tasks) > size
    tasks = tasks[:size]
    return {
        "next_page_token": _encode_token(tasks[-1].id) if more and tasks else "",
        "tasks": [translate.render_list_item(t, links) for t in tasks],
    }


def _encode_token(task_id: str) -> str:
    return base64.urlsafe_b64encode(task_id.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        value = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClientError(
            ErrorCode.INVALID_FIELD, "pager.page_token is not valid", param="pager.page_token"
        ) from exc
    if not value.isdigit():
        raise ClientError(ErrorCode.INVALID_FIELD, "pager.page_token is not valid", param="pager.page_token")
    return value
