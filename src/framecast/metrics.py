"""Prometheus metrics, served at ``GET /metrics`` (text exposition format, no auth: restrict it
at the network edge like any scrape target).

Every app gets its own ``CollectorRegistry`` (never the process-global default) so that
several apps in one process, as in the tests, do not collide or share counts.

Metrics the app records by itself:

=============================================  =========  =========================================
name                                           type       labels / meaning
=============================================  =========  =========================================
``framecast_http_requests_total``              counter    ``method``, ``route`` (the route template,
                                                          e.g. ``/ent/v2/tasks/{task_id}/creations``;
                                                          ``unmatched`` for unknown paths),
                                                          ``status``
``framecast_http_request_duration_seconds``    histogram  ``method``, ``route``; time to the last
                                                          body byte, or to the headers for event
                                                          streams
``framecast_tasks``                            gauge      ``state``, ``model``: tasks in the database,
                                                          counted at scrape time
``framecast_queue_depth``                      gauge      queued tasks, counted at scrape time
``framecast_metrics_database_up``              gauge      1 if the scrape could read the database
``framecast_poll_reads_total``                 counter    PostgreSQL polls read on the event loop
``framecast_poll_statements_total``            counter    the statements that read them: polls that
                                                          arrive together share one
                                                          (``store/read_batches.py``)
=============================================  =========  =========================================

Metrics other parts record through the :class:`Metrics` object (``app.state.metrics``;
``create_app`` builds it before the job runner, so it can go into the runner's context):

=============================================  =========  =========================================
``framecast_task_duration_seconds``            histogram  ``model``, ``state`` (final state):
                                                          ``observe_task(model, state, seconds)``,
                                                          run time from claim to the final write
``framecast_engine_frames_total``              counter    ``engine``:
                                                          ``observe_frames(engine, frames, seconds)``
``framecast_engine_fps``                       histogram  ``engine``: frames per second of that same
                                                          call (skipped when ``seconds`` is 0)
``framecast_callback_deliveries_total``        counter    ``outcome``: ``observe_callback(outcome)``;
                                                          use a small fixed set (``delivered``,
                                                          ``retry``, ``failed``, ``gave_up``) since
                                                          every value is a new series
``framecast_swept_total``                      counter    ``kind`` (``scratch``, ``inputs``): crash
                                                          leftovers removed, ``observe_swept``
``framecast_render_process_restarts_total``    counter    render processes started again after one
                                                          exited (``jobs/process.py``): a crash loop
                                                          shows as a rising count
=============================================  =========  =========================================

The task, frame and sweep observations of a render process reach this object over its pipe. Plus the
standard ``process_*`` metrics of the serving process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from framecast.domain import TaskState
from framecast.store import tasks as task_store
from framecast.store.db import Database

log = logging.getLogger(__name__)

UNMATCHED = "unmatched"

_TASK_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))
_FPS_BUCKETS = (0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, float("inf"))


def count_by_state_and_model(db: Database) -> list[tuple[str, str, int]]:
    with db.session() as s:
        return task_store.count_by_state_and_model(s)


class TaskCollector(Collector):
    """Task counts read from the database at scrape time.

    The database, not a counter in this process, is the truth: workers in other processes
    change task states too, and a restart must not reset the gauges.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "framecast_tasks", "Tasks in the database by state and model.", labels=["state", "model"]
            ),
            GaugeMetricFamily("framecast_queue_depth", "Tasks waiting for a worker."),
            GaugeMetricFamily(
                "framecast_metrics_database_up", "1 if the last scrape could read the database."
            ),
        )

    def describe(self) -> Iterable[Metric]:
        # without describe() the registry would call collect() at registration, i.e. query the database
        return self._families()

    def collect(self) -> Iterable[Metric]:
        tasks, queue, up = self._families()
        try:
            rows = count_by_state_and_model(self.db)
        except Exception:
            # a scrape must still answer (with process and HTTP metrics) while the database is down
            log.warning("metrics: could not count tasks", exc_info=True)
            up.add_metric([], 0)
            return [up]
        counts = {(state, model): n for state, model, n in rows}
        # every state for every known model, so a series drops to 0 instead of vanishing
        for model in sorted({model for _, model in counts}):
            for state in TaskState:
                tasks.add_metric([state.value, model], counts.get((state.value, model), 0))
        queue.add_metric([], sum(n for (state, _), n in counts.items() if state == TaskState.QUEUED.value))
        up.add_metric([], 1)
        return [tasks, queue, up]


class PollReadCollector(Collector):
    """How many PostgreSQL polls the event loop read, and in how many statements, from the read path's
    own counts at scrape time (nothing recorded per poll)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterable[Metric]:
        reads = self.db.async_reads
        if reads is None:
            return []
        polls = CounterMetricFamily("framecast_poll_reads", "PostgreSQL polls read on the event loop.")
        statements = CounterMetricFamily(
            "framecast_poll_statements",
            "Statements those polls were read in (polls arriving together share one).",
        )
        batches = list(reads.batches.values())  # in one step: the loop may add one meanwhile
        polls.add_metric([], sum(b.reads for b in batches))
        statements.add_metric([], sum(b.statements for b in batches))
        return [polls, statements]


class Metrics:
    """The instruments of one app. A plain object: pass it wherever metrics are recorded."""

    def __init__(self, db: Database | None = None, *, process: bool = True) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "framecast_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "framecast_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.task_duration = Histogram(
            "framecast_task_duration_seconds",
            "Task run time by model and final state.",
            ["model", "state"],
            buckets=_TASK_BUCKETS,
            registry=self.registry,
        )
        self.engine_frames = Counter(
            "framecast_engine_frames", "Frames rendered by engine.", ["engine"], registry=self.registry
        )
        self.engine_fps = Histogram(
            "framecast_engine_fps",
            "Frames per second of each engine run.",
            ["engine"],
            buckets=_FPS_BUCKETS,
            registry=self.registry,
        )
        self.swept = Counter(
            "framecast_swept",
            "Leftovers of crashed attempts and creates removed by the sweeper, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.render_restarts = Counter(
            "framecast_render_process_restarts",
            "Render processes the server started again after one exited.",
            registry=self.registry,
        )
        self.callbacks = Counter(
            "framecast_callback_deliveries",
            "Callback delivery attempts by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        if db is not None:
            self.registry.register(TaskCollector(db))
            self.registry.register(PollReadCollector(db))
        if process:
            ProcessCollector(registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def observe_task(self, model: str, state: str, seconds: float) -> None:
        self.task_duration.labels(model, str(state)).observe(max(seconds, 0.0))

    def observe_frames(self, engine: str, frames: int, seconds: float) -> None:
        self.engine_frames.labels(engine).inc(frames)
        if seconds > 0:
            self.engine_fps.labels(engine).observe(frames / seconds)

    def observe_swept(self, kind: str, count: int) -> None:
        self.swept.labels(kind).inc(count)

    def observe_render_restart(self) -> None:
        self.render_restarts.inc()

    def observe_callback(self, outcome: str) -> None:
        self.callbacks.labels(outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_candidates(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    for route in routes:
        # FastAPI >= 0.16x keeps included routers whole and resolves their routes lazily
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            yield from contexts()
        else:
            yield route


def route_template(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The matched route's template: raw paths would make one series per task id."""
    route = scope.get("route")
    if route is None:
        # answered before routing (the body-size guard): find the route it was headed for
        try:
            for candidate in route_candidates(routes):
                match, _ = candidate.matches(scope)
                if match is Match.FULL:
                    route = candidate
                    break
        except Exception:
            # labelling must never turn an answered request into an error
            log.debug("metrics: no route template for %s", scope.get("path"), exc_info=True)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    """Pure ASGI, so event streams pass through untouched and errors are still counted."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        headers_at: float | None = None
        streaming = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, headers_at, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers_at = time.perf_counter()
                streaming = any(
                    k.lower() == b"content-type" and v.startswith(b"text/event-stream")
                    for k, v in message.get("headers", [])
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            end = headers_at if streaming and headers_at is not None else time.perf_counter()
            route = route_template(scope, self.routes())
            self.metrics.observe_request(scope.get("method", ""), route, status, end - start)


def install(app: FastAPI, metrics: Metrics) -> None:
    """Put ``metrics`` on ``app.state``, count every request, and serve ``GET /metrics``."""
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=lambda: app.router.routes)

    # sync on purpose: FastAPI runs it in the threadpool, and the collector queries the database
    def scrape() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], tags=["ops"], include_in_schema=False)
