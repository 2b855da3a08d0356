"""create_app(settings): the one place the service's parts are built and wired together."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException

from framecast import __version__, console, events, metrics
from framecast.access_log import sample_access_log
from framecast.body_limit import BodyLimitMiddleware
from framecast.callbacks import CallbackSender
from framecast.config import Catalog, Settings
from framecast.dialects import baicai, kling, newapi, openai_videos, qianfan, vidu
from framecast.dialects.common import hoist_schema_defs, validation_message
from framecast.dialects.dialect import Dialect, DialectTable, render_error
from framecast.domain import ErrorCode
from framecast.engines.registry import EngineRegistry
from framecast.errors import ClientError
from framecast.flat_routes import add_routes
from framecast.jobs.base import JobRunner
from framecast.jobs.local import LocalWorkerPool
from framecast.jobs.process import RenderProcess
from framecast.jobs.runner import RunContext
from framecast.poll_path import PollFastPath
from framecast.request_ids import RequestIdMiddleware
from framecast.service import TaskService
from framecast.storage import BlobStore, LocalBlobStore, UrlSigner, open_blob_store
from framecast.store.db import Database

log = logging.getLogger(__name__)

# The order is the mount order, and routes match first-mounted first: OpenAI Videos goes last because its
# GET /v1/videos/{video_id} would otherwise swallow Kling's and Baicai's /v1/videos/... routes.
# (Errors do not depend on it: they go to the longest matching prefix.)
DEFAULT_DIALECTS: tuple[Dialect, ...] = (
    vidu.DIALECT,
    qianfan.DIALECT,
    kling.DIALECT,
    baicai.DIALECT,
    newapi.DIALECT,
    openai_videos.DIALECT,
)

_HTTP_CODES = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.BODY_TOO_LARGE,
    429: ErrorCode.RATE_LIMIT,
}


# FastAPI's native OpenTelemetry off: with every signal off its per-request check ends at the first test
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


# a full collection walks every object the process keeps (the poll memo's tasks among them) and stalls
# every request in flight; with Python's default (one per 10 of the middle generation's) they ran often
# enough under polling load to set a PostgreSQL poll's p99 (bench/load.py, round nine). Nearly all of the
# service's garbage is freed by reference counting, so they run ten times less often.
FULL_COLLECTION_EVERY = 100


def create_app(
    settings: Settings | None = None,
    *,
    dialects: Sequence[Dialect] = DEFAULT_DIALECTS,
    engines: EngineRegistry | None = None,
    runner: JobRunner | None = None,
) -> FastAPI:
    """The service with ``dialects`` mounted in that order and ``engines`` (default: the installed ones).

    Everything built here lives on this app only: two apps in one process share nothing. With
    ``settings.worker_process`` the worker threads run in a render process that loads the installed
    engines itself; ``engines`` passed here can only run in this process, so their tasks do.
    """
    settings = settings or Settings()
    settings.ensure_dirs()
    db = Database(
        settings.db_url,
        remembered_tasks=settings.poll_memo_tasks,
        read_connections=settings.poll_read_connections,
    )
    blobs = open_blob_store(settings)
    catalog = Catalog.load(settings.catalog_file)
    injected_engines = engines is not None  # they live in this process, so their tasks run here too
    engines = engines or EngineRegistry()
    engines.check_catalog(catalog)
    service = TaskService(settings=settings, db=db, blobs=blobs, catalog=catalog, engines=engines)
    app_metrics = metrics.Metrics(db)  # built before the runner so its context can take it
    # the pipe to a render process is handed over as an inherited descriptor: POSIX only
    render_apart = settings.worker_process and os.name == "posix" and not injected_engines
    if runner is None and render_apart and settings.workers and not settings.distributed:
        runner = RenderProcess(settings, metrics=app_metrics)  # it builds its own context, engines included
    elif runner is None:
        ctx = RunContext.from_settings(
            settings, db=db, blobs=blobs, catalog=catalog, engines=engines, metrics=app_metrics
        )
        if settings.distributed:  # API only: `framecast worker` processes run the tasks
            from framecast.jobs.celery import CeleryRunner

            celery_runner = CeleryRunner(settings, ctx)
            service.on_queued(celery_runner.enqueue)
            service.on_cancelled(celery_runner.revoke)
            runner = celery_runner
        else:
            runner = LocalWorkerPool(ctx, workers=settings.workers, nice=settings.worker_nice)
    service.on_submit(runner.wake)
    signer = UrlSigner(settings.signing_key(), settings.url_ttl_seconds)
    # refuses to start when a dialect that takes callback URLs renders no callback body
    table = DialectTable(dialects, catalog, errors=[(events.PREFIX, events.native_error)])
    callbacks = CallbackSender(
        db=db,
        settings=settings,
        signer=signer,
        secrets_box=service.secrets,
        renderers=table.callbacks,
        on_outcome=app_metrics.observe_callback,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sample_access_log(settings.access_log_sample)  # here: uvicorn has set up its loggers by now
        db.upgrade()
        await db.open_async()
        runner.start()
        callbacks.start()
        # what startup built lives as long as the process: out of the collector's sight, a full
        # collection no longer walks it (about 0.15 s each on this service's heap, a poll's p99)
        gc.collect()
        gc.freeze()
        gen0, gen1, _ = gc.get_threshold()
        gc.set_threshold(gen0, gen1, FULL_COLLECTION_EVERY)
        try:
            yield
        finally:
            callbacks.stop()
            runner.stop()
            await db.close_async()
            db.dispose()

    app = FastAPI(
        title="framecast",
        version=__version__,
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else _NO_TELEMETRY,
        description="Self-hosted video generation behind the commercial video APIs' wire formats.",
    )
    app.state.settings = settings
    app.state.started_at = int(time.time())  # the "created" of /v1/models: when this catalog was loaded
    app.state.db = db
    app.state.blobs = blobs
    app.state.signer = signer
    app.state.callbacks = callbacks
    app.state.dialects = table
    app.state.catalog = catalog
    app.state.service = service
    app.state.runner = runner

    _install_error_handlers(app)
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        doc = base_openapi()
        return hoist_schema_defs(doc) if fresh else doc

    app.openapi = openapi  # type: ignore[method-assign]

    # pure ASGI middleware: BaseHTTPMiddleware costs a task and a queue per request (issue 16's profile)
    # innermost: GET one task answered past FastAPI's routing and dependencies (poll_path.py)
    app.add_middleware(PollFastPath, routes=lambda: app.router.routes)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)  # outside the body limit, so a 413 carries the id too

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        ok_db = db.ping()
        ok_workers = runner.healthy()
        body = {
            "status": "ok" if ok_db and ok_workers else "unavailable",
            "database": ok_db,
            "workers": ok_workers,
            "version": __version__,
        }
        return JSONResponse(body, status_code=200 if ok_db and ok_workers else 503)

    @app.get("/-/engines", tags=["ops"])
    def list_engines() -> dict[str, Any]:
        """Installed engines, what they make, and the catalog's model names that use each."""
        by_engine: dict[str, list[str]] = {}
        for name in catalog.names():
            by_engine.setdefault(catalog.require(name).engine, []).append(name)
        return {
            "engines": [
                {
                    "name": e,
                    "kinds": sorted(k.value for k in engines.capabilities(e).kinds),
                    "models": by_engine.get(e, []),
                }
                for e in engines.names()
            ]
        }

    @app.get("/files/{key:path}", tags=["files"], include_in_schema=False)
    def files(key: str, expires: int = 0, sig: str = "") -> Response:
        if not app.state.signer.verify(key, expires, sig):
            return JSONResponse(
                {"error": {"code": "forbidden", "message": "link is invalid or expired"}}, status_code=403
            )
        path = blobs.local_path(key)
        media = "video/mp4" if key.endswith(".mp4") else "image/jpeg" if key.endswith(".jpg") else None
        if path is None and not isinstance(blobs, LocalBlobStore):  # S3: a presigned redirect, or the bytes
            return _remote_file(blobs, key, media, settings)
        if path is None:
            return JSONResponse(
                {"error": {"code": "not_found", "message": "file not found"}}, status_code=404
            )
        return FileResponse(path, media_type=media, headers={"cache-control": "private, max-age=3600"})

    console.attach(app)
    events.attach(app)
    metrics.install(app, app_metrics)
    for dialect in table.dialects:
        add_routes(app, dialect.router)
    return app


def _remote_file(blobs: BlobStore, key: str, media: str | None, settings: Settings) -> Response:
    """A result kept in S3: redirect to a URL the store presigns, or send the bytes through the API."""
    not_found = JSONResponse({"error": {"code": "not_found", "message": "file not found"}}, status_code=404)
    if not blobs.exists(key):
        return not_found
    presign = getattr(blobs, "presigned_url", None)
    if settings.s3_urls == "presign" and presign is not None:
        return RedirectResponse(presign(key, settings.url_ttl_seconds), status_code=307)
    return Response(
        blobs.get_bytes(key), media_type=media, headers={"cache-control": "private, max-age=3600"}
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (several routers can share one path)."""
    path = request.url.path
    methods: set[str] = set()
    for route in metrics.route_candidates(request.app.router.routes):
        regex, allowed = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and allowed and regex.match(path):
            methods |= set(allowed)
    return sorted(methods)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError) -> Response:
        return render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        message, param = validation_message(list(exc.errors()))
        code = (
            ErrorCode.MISSING_FIELD
            if any(e.get("type") == "missing" for e in exc.errors())
            else ErrorCode.INVALID_FIELD
        )
        return render_error(request, ClientError(code, message, param=param))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_FIELD)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette's Allow names one route's methods; other routes on the same path add theirs
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = (
                f"method {request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}"
            )
        reason = "NotFound" if exc.status_code == 404 else ""
        resp = render_error(request, ClientError(code, message, reason=reason))
        if exc.status_code in (404, 405):
            resp.status_code = exc.status_code
        resp.headers.update(headers)
        return resp

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        err = ClientError(ErrorCode.INTERNAL, "internal error; the operator's log has the details")
        return render_error(request, err)
