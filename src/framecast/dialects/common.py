"""What every dialect shares: body reading, links to results, OpenAPI helpers, renderer types.

Which dialect answers which path is decided per app (``dialects/dialect.py``); what a route
declares it depends on (the caller, the service, result links) is in ``dialects/deps.py``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from framecast.domain import Creation, ErrorCode, GenerationRequest, Principal, Task
from framecast.errors import ClientError
from framecast.request_ids import request_id_of
from framecast.service import ResultFile, SubmitLimits, TaskService
from framecast.storage import UrlSigner

ErrorRenderer = Callable[[ClientError, str], Response]
CallbackRenderer = Callable[[Task, "Links"], dict[str, Any]]

P = ParamSpec("P")
T = TypeVar("T")


def default_error(err: ClientError, trace_id: str) -> Response:
    """The envelope of paths no dialect owns: ``{"error": {code, message, param, trace_id}}``."""
    status = HTTP_STATUS.get(err.code, 400)
    return JSONResponse(
        {"error": {"code": err.code.value, "message": err.message, "param": err.param, "trace_id": trace_id}},
        status_code=status,
    )


# canonical code -> HTTP status, the common ground of the vendors; dialects may override
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.CONCURRENCY_LIMIT: 429,
    ErrorCode.RATE_LIMIT: 429,
    ErrorCode.INTERNAL: 500,
}


def trace_id_of(request: Request) -> str:
    return request_id_of(request.scope)


async def read_body(request: Request) -> bytes:
    """The raw body, bounded by the operator's body limit even when no Content-Length was sent."""
    limit: int = request.app.state.settings.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ClientError(
                ErrorCode.BODY_TOO_LARGE,
                f"request body is larger than {limit // (1024 * 1024)} MB",
                param="body",
            )
        chunks.append(chunk)
    return b"".join(chunks)


@asynccontextmanager
async def read_form(request: Request) -> AsyncIterator[FormData]:
    """Parse a multipart (or urlencoded) body read under the same size bound as JSON bodies.

    The body limit middleware only sees Content-Length; reading here first also
    bounds chunked uploads, then the bytes are replayed to Starlette's parser. The
    uploaded parts' spooled temporary files are closed on the way out.
    """
    body = await read_body(request)

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=16, max_fields=64)
    try:
        yield form
    finally:
        await form.close()


async def read_upload(request: Request, name: str = "file") -> bytes:
    """The bytes of the multipart part ``name``, the whole body bounded like every other one."""
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith("multipart/form-data"):
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            f"upload the file as multipart/form-data with a '{name}' part",
            param=name,
        )
    async with read_form(request) as form:
        upload = form.get(name)
        if not isinstance(upload, UploadFile):
            raise ClientError(ErrorCode.MISSING_FIELD, f"missing required parameter: '{name}'", param=name)
        return await upload.read()


async def read_json(request: Request) -> dict[str, Any]:
    """Read a JSON object body, bounded by the operator's body limit."""
    raw = await read_body(request)
    try:
        # orjson: a create carries megabytes of base64 inside its JSON (bench/request_costs.py)
        body = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError as exc:
        reason = (
            "request body is not UTF-8" if "UTF-8" in exc.msg else f"request body is not valid JSON: {exc}"
        )
        raise ClientError(ErrorCode.INVALID_FIELD, reason, param="body") from exc
    if not isinstance(body, dict):
        raise ClientError(ErrorCode.INVALID_FIELD, "request body must be a JSON object", param="body")
    return body


async def read_one(svc: TaskService, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a synchronous read for a route (a lookup :meth:`TaskService.poll` does not cover): on the event
    loop where the service says its reads may run there (``TaskService.inline_reads``), else in a thread,
    at most ``TaskService.read_limiter`` at once. GET one task served 1.7-2x the requests inline
    (bench/request_costs.py)."""
    if svc.inline_reads:
        return read(*args, **kwargs)
    return await anyio.to_thread.run_sync(functools.partial(read, *args, **kwargs), limiter=svc.read_limiter)


def json_answer(body: Any) -> Response:
    """A poll's answer, encoded once by orjson. FastAPI passes a returned ``Response`` through as it is:
    a dict would be validated against the route's response model and encoded by pydantic, 14-16% of GET
    one task's time in the app (bench/request_costs.py). Routes that use this still declare
    ``response_model`` for the OpenAPI document."""
    return Response(orjson.dumps(body), media_type="application/json")


def idempotency_key(request: Request) -> str:
    """The ``Idempotency-Key`` header (Stripe/OpenAI convention) every non-Vidu dialect accepts."""
    return request.headers.get("idempotency-key", "").strip()[:200]


def with_idempotency_key(req: GenerationRequest, request: Request) -> GenerationRequest:
    key = idempotency_key(request)
    return req.model_copy(update={"client_request_id": key}) if key else req


async def submit(
    request: Request,
    svc: TaskService,
    principal: Principal,
    req: GenerationRequest,
    *,
    dialect: str,
    echo: dict[str, Any],
    limits: SubmitLimits | None,
    external_id: str | None = None,
) -> Task:
    """Create a task off the event loop, keyed by the request's ``Idempotency-Key`` when it sends one."""
    call = functools.partial(
        svc.submit,
        principal,
        with_idempotency_key(req, request),
        dialect=dialect,
        echo=echo,
        limits=limits,
        external_id=external_id,
    )
    return await run_in_threadpool(call)


def add_create_route(
    router: APIRouter,
    path: str,
    create: Callable[..., Any],
    *,
    name: str,
    summary: str,
    body: type[BaseModel],
) -> None:
    """``POST path`` answered by ``create``, one of several a loop makes (so each needs its own ``name``
    for OpenAPI), with ``body`` described as the request body it reads itself."""
    create.__name__ = name
    router.add_api_route(path, create, methods=["POST"], summary=summary, openapi_extra=request_body(body))


@dataclass(frozen=True)
class Links:
    """Absolute, signed, expiring URLs for a task's files."""

    signer: UrlSigner
    base_url: str

    def video(self, c: Creation) -> str:
        return self.signer.url(c.video_key, self.base_url)

    def cover(self, c: Creation) -> str:
        return self.signer.url(c.cover_key, self.base_url)

    def watermarked(self, c: Creation) -> str:
        return self.signer.url(c.watermarked_key, self.base_url) if c.watermarked_key else ""


def file_response(f: ResultFile, headers: dict[str, str] | None = None) -> Response:
    """Send a stored file: from disk when possible (range requests work), else from memory."""
    if f.path is not None:
        return FileResponse(f.path, media_type=f.media_type, headers=headers)
    return Response(f.data or b"", media_type=f.media_type, headers=headers)


def validation_message(errors: list[Any]) -> tuple[str, str | None]:
    """A person-readable message and the offending field from pydantic errors (never str(exc): it leaks)."""
    parts = []
    param = None
    for e in errors[:5]:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc)
        param = param or field or None
        parts.append(f"{field}: {e.get('msg', 'invalid')}" if field else str(e.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request", param


# --- OpenAPI: what the routes read and answer, for schema-driven tools ---------------------------------


def request_body(
    model: type[BaseModel], *, media_types: tuple[str, ...] = ("application/json",), required: bool = True
) -> dict[str, Any]:
    """``openapi_extra`` that declares ``model`` as a route's body.

    Create routes read the raw body themselves so that every parse error answers in
    the dialect's own words; this only describes that body in /openapi.json.
    Nested models land in ``$defs`` and are moved to the components by
    :func:`hoist_schema_defs`.
    """
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": required, "content": {m: {"schema": schema} for m in media_types}}}


def error_responses(model: Any, statuses: Iterable[int]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router: each error status a dialect answers, with its envelope model.

    ``statuses`` are those of the dialect's error table; every dialect also answers 400 (an
    unreadable body), 404 (an unknown route) and 405 (a wrong method).
    """
    every = set(statuses) | {400, 404, 405}
    return {s: {"model": model, "description": HTTPStatus(s).phrase} for s in sorted(every)}


def hoist_schema_defs(doc: dict[str, Any]) -> dict[str, Any]:
    """Move the ``$defs`` of :func:`request_body` schemas into ``components.schemas``.

    Also drops FastAPI's automatic 422: framecast answers validation errors with the
    dialect's own status and envelope (400 for every dialect), declared by
    :func:`error_responses`.
    """
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for item in doc.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            for media in op.get("requestBody", {}).get("content", {}).values():
                components.update(media.get("schema", {}).pop("$defs", {}))
            op.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return doc
