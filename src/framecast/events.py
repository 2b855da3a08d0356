"""framecast's native task routes: ``GET /v1/tasks/{id}`` and its Server-Sent Events stream.

The vendor dialects only offer polling. ``/v1/tasks/{id}/events`` pushes a task's
state instead, which is what the Python client's ``wait()`` and the CLI's progress
bar use::

    event: state
    data: {"id": "...", "state": "running", "progress": 40, "phase": "generating", "error": null}

One ``state`` event is sent at once, then one on every change of state, progress, phase
("loading model", "generating", "encoding", "saving") or error; a ``: keep-alive``
comment goes out after 15 s of silence so proxies keep the connection open; the
stream ends after a terminal state (succeeded, failed, cancelled). The stream polls
the database through :meth:`TaskService.get` rather than listening to the in-process
runner, because the database is the source of truth and a worker may live in another
process (or on another machine).

Errors answer in a small envelope: ``{"error": {"code", "message", "trace_id"}}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from framecast.dialects.common import HTTP_STATUS, Links, error_responses, json_answer
from framecast.dialects.deps import CallerDep, PrincipalDep, ServiceDep
from framecast.domain import Principal, Task, TaskState
from framecast.errors import ClientError
from framecast.flat_routes import add_routes
from framecast.poll_path import poll_route
from framecast.service import TaskService

PREFIX = "/v1/tasks"


class NativeErrorInfo(BaseModel):
    code: str
    message: str
    trace_id: str


class NativeError(BaseModel):
    """The native routes' error envelope (described in the OpenAPI document, like every dialect's)."""

    error: NativeErrorInfo


router = APIRouter(
    prefix=PREFIX, tags=["tasks"], responses=error_responses(NativeError, (400, 401, 404, 405, 413, 500))
)


@dataclass
class EventsConfig:
    """Timing of the event stream; on ``app.state.events`` so tests can shorten it."""

    poll_seconds: float = 0.25
    keepalive_seconds: float = 15.0


def native_error(err: ClientError, trace_id: str) -> Response:
    return JSONResponse(
        {"error": {"code": err.code.value, "message": err.message, "trace_id": trace_id}},
        status_code=HTTP_STATUS.get(err.code, 400),
    )


def state_json(task: Task) -> dict[str, Any]:
    error = None
    if task.error is not None:
        error = {"code": task.error.code.value, "reason": task.error.reason, "message": task.error.message}
    return {
        "id": task.id,
        "state": task.state.value,
        "progress": task.progress,
        "phase": task.phase,
        "error": error,
    }


def task_json(task: Task, links: Links) -> dict[str, Any]:
    body = state_json(task)
    body.update(
        {
            "model": task.request.model,
            "kind": task.request.kind.value,
            "seed": task.seed,
            "created_at": task.created_at.isoformat(),
            "updated_at": task.updated_at.isoformat(),
            "finished_at": task.finished_at.isoformat() if task.finished_at else None,
            # for an operator: a task that keeps losing its worker shows it here
            "attempt": task.attempt,
            "lost_attempts": task.lost_attempts,
            "worker": task.worker,
            "claimed_at": task.claimed_at.isoformat() if task.claimed_at else None,
            # what the service decided for the task: the prompt it wrote (is_rec, need_expand_prompt;
            # null when the client's was used) and the video's sound ("" when none was asked for)
            "prompt_used": task.prompt_used,
            "soundtrack": task.soundtrack,
            # result links exist only once the task has succeeded: a failed attempt's files are partial
            "creations": [
                {
                    "id": c.id,
                    "url": links.video(c),
                    "cover_url": links.cover(c),
                    "watermarked_url": links.watermarked(c),
                    "width": c.width,
                    "height": c.height,
                    "fps": c.fps,
                    "frames": c.frames,
                    "duration": c.duration,
                    "seed": c.seed,
                }
                for c in task.creations
            ]
            if task.state is TaskState.SUCCEEDED
            else [],
        }
    )
    return body


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _stream(
    request: Request, svc: TaskService, principal: Principal, first: Task, config: EventsConfig
) -> AsyncIterator[bytes]:
    last = state_json(first)
    yield _event("state", last)
    terminal = first.state.terminal
    quiet_since = time.monotonic()
    while not terminal:
        await anyio.sleep(config.poll_seconds)
        if await request.is_disconnected():
            return
        try:
            task = await run_in_threadpool(svc.get, principal, first.id)
        except ClientError as exc:
            # the task was deleted while watched: say so in-band, the status line is long gone
            yield _event("error", {"id": first.id, "code": exc.code.value, "message": exc.message})
            return
        current = state_json(task)
        terminal = task.state.terminal
        if current != last:
            last = current
            quiet_since = time.monotonic()
            yield _event("state", current)
        elif time.monotonic() - quiet_since >= config.keepalive_seconds:
            quiet_since = time.monotonic()
            yield b": keep-alive\n\n"


@router.get("/{task_id}/events", summary="Stream a task's state as Server-Sent Events")
async def task_events(
    task_id: str, request: Request, principal: PrincipalDep, svc: ServiceDep
) -> StreamingResponse:
    # read once before answering so an unknown id is a plain 404, not an event in a 200 stream
    task = await run_in_threadpool(svc.get, principal, task_id)
    config: EventsConfig = request.app.state.events
    return StreamingResponse(
        _stream(request, svc, principal, task, config),
        media_type="text/event-stream",
        # no-transform and X-Accel-Buffering stop proxies from buffering the stream into one late blob
        headers={"cache-control": "no-cache, no-transform", "x-accel-buffering": "no"},
    )


@router.get(
    "/{task_id}",
    summary="One task: state, progress, error and signed result links",
    response_model=dict[str, Any],
)
@poll_route
async def get_task(task_id: str, caller: CallerDep) -> Response:
    return json_answer(task_json(await caller.poll(task_id), caller.links))


def attach(app: FastAPI, config: EventsConfig | None = None) -> None:
    """Mount the native routes; ``create_app`` routes errors under :data:`PREFIX` to :func:`native_error`."""
    app.state.events = config or EventsConfig()
    add_routes(app, router)
