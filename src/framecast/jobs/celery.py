"""Distributed mode: tasks travel to `framecast worker` processes through Celery (Redis or RabbitMQ).

The database stays the source of truth; a broker message is only a nudge that names a task.

- **Send after commit.** An API server sends a message only after the task's row committed, from a
  background thread so a slow or absent broker never holds a create up. A send lost anyway (the API
  process died between commit and send, the broker restarted and dropped its queues) is not lost for
  good: the row is the outbox, and a sweep re-sends every queued task no worker claimed within
  ``FRAMECAST_ENQUEUE_WINDOW_SECONDS`` (a compare-and-swap on the row, so one server re-sends each).
- **Claim by compare-and-swap.** A delivery claims *its* task with the same CAS the embedded pool uses.
  A delivery of a task that is not queued any more (claimed through an earlier delivery, cancelled,
  finished) is acknowledged and dropped, which makes redelivery and duplicate sends harmless: every
  later write names the attempt it holds (fencing), so a task commits one result and is charged once.
- **Dead workers.** The lease, not the broker, notices them: a reaper in every process (the embedded
  pool's ``reap``) requeues a task whose lease lapsed and sends it again at once. The broker's own
  redelivery (``acks_late`` + ``reject_on_worker_lost``; Redis's visibility timeout) is the second net.
- **One queue per model**, ``<prefix>.<model>``, chosen when the message is sent; a worker consumes
  the queues of the models it serves and keeps their engines loaded between tasks.

The Celery settings and why each is set are in docs/deploy.md.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import Celery
from celery import signals as celery_signals
from kombu import Exchange, Queue

from framecast.config import Catalog, Settings
from framecast.domain import Task, TaskState
from framecast.jobs.local import SWEEP_INTERVAL_S, LocalWorkerPool
from framecast.jobs.runner import RunContext, run_task
from framecast.store import tasks as task_store
from framecast.store.time import utcnow

log = logging.getLogger(__name__)

TASK_NAME = "framecast.run_task"  # explicit: renaming this module must not orphan queued messages
_MAX_PRIORITY = 9


def queue_name(settings: Settings, model: str) -> str:
    return f"{settings.queue_prefix}.{model}"


def _is_redis(settings: Settings) -> bool:
    return settings.broker_url.startswith(("redis://", "rediss://"))


def broker_priority(settings: Settings, *, priority: int, off_peak: bool) -> int:
    """The message priority: off-peak tasks below every normal one, a tenant's own ``priority`` above.

    RabbitMQ delivers higher numbers first; kombu's Redis transport delivers lower numbers first.
    """
    urgency = 0 if off_peak else 5 + max(-4, min(4, priority))  # 0 off-peak, 1..9 normal
    return _MAX_PRIORITY - urgency if _is_redis(settings) else urgency


def make_celery(settings: Settings, catalog: Catalog) -> Celery:
    """A Celery app for these settings (a factory: nothing is built at import)."""
    app = Celery("framecast", broker=settings.broker_url, set_as_current=False)
    exchange = Exchange(settings.queue_prefix, type="direct")
    queues = [
        # x-max-priority makes RabbitMQ keep priorities; Redis emulates them with one list per step
        Queue(
            queue_name(settings, m),
            exchange,
            routing_key=queue_name(settings, m),
            queue_arguments={"x-max-priority": _MAX_PRIORITY},
        )
        for m in catalog.names()
    ]
    transport: dict[str, Any] = {}
    if _is_redis(settings):
        transport = {
            "visibility_timeout": settings.broker_visibility_timeout,
            "queue_order_strategy": "priority",
            "priority_steps": list(range(_MAX_PRIORITY + 1)),
            "sep": ":",
            "global_keyprefix": f"{settings.queue_prefix}:",
        }
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # the database row is the result; no result backend
        task_queues=queues,
        task_default_queue=f"{settings.queue_prefix}.default",
        task_default_exchange=settings.queue_prefix,
        task_create_missing_queues=False,
        task_queue_max_priority=_MAX_PRIORITY,
        task_default_priority=broker_priority(settings, priority=0, off_peak=False),
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # publishing retries briefly; beyond that the outbox sweep re-sends
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        # the tasks are long and never killed for losing the broker connection: the lease decides
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


def message_id(task_id: str, attempt: int) -> str:
    """The Celery id of the messages for one queued spell of a task (re-sends share it: one revoke)."""
    return f"{task_id}.q{attempt}"


class Dispatch:
    """Sends and revokes messages for queued tasks."""

    def __init__(self, settings: Settings, app: Celery) -> None:
        self.settings, self.app = settings, app

    def send(self, item: task_store.Queued) -> None:
        self.app.send_task(
            TASK_NAME,
            kwargs={"task_id": item.id, "attempt": item.attempt},
            queue=queue_name(self.settings, item.model),
            routing_key=queue_name(self.settings, item.model),
            priority=broker_priority(self.settings, priority=item.priority, off_peak=item.off_peak),
            task_id=message_id(item.id, item.attempt),
        )

    def depth(self, model: str) -> int | None:
        """Messages waiting in a model's queue (not those being worked on); None when it cannot be read."""
        try:
            declared = self.app.amqp.queues[queue_name(self.settings, model)]
            with self.app.connection_for_write() as conn:
                # declared as the workers declare it (same arguments), so a queue not there yet reads 0
                ok = declared.bind(conn.default_channel).queue_declare()
            return int(ok.message_count)
        except Exception:
            log.debug("could not read the depth of model %s's queue", model, exc_info=True)
            return None

    def revoke(self, task_id: str, attempt: int) -> None:
        self.app.control.revoke(message_id(task_id, attempt))


class _Maintenance(LocalWorkerPool):
    """The embedded pool's reaper and sweeper without its workers: lapsed leases are requeued (or failed
    after max attempts) and sent again; with ``outbox``, queued tasks nobody claimed are re-sent."""

    def __init__(self, ctx: RunContext, dispatch: Dispatch, *, outbox: bool, sweep_files: bool) -> None:
        super().__init__(ctx, workers=0)
        self.dispatch, self.outbox, self.sweep_files = dispatch, outbox, sweep_files
        self.window = timedelta(seconds=dispatch.settings.enqueue_window_seconds)
        self._thread: threading.Thread | None = None

    def wake(self) -> None:  # the embedded pool's nudge; here a requeued task is sent instead
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._maintain, name="framecast-maintenance", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pass_once(self) -> None:
        requeued = self.reap()
        if requeued:
            with self.ctx.db.session() as s:
                items = task_store.queued(s, task_ids=requeued)
            self._send(items)
        if self.outbox:
            self._resend_unclaimed()

    def _resend_unclaimed(self) -> None:
        """Re-send queued tasks nobody claimed within the window, for the models whose queue holds fewer
        messages than they have queued tasks: some message was lost. A model whose queue is merely long
        (its tasks wait behind others) is left alone, so a backlog does not multiply its messages."""
        cutoff = utcnow() - self.window
        with self.ctx.db.session() as s:
            waiting = task_store.queued_by_model(s, older_than=cutoff)
        models = []
        for model, (queued, _stale) in waiting.items():
            depth = self.dispatch.depth(model)
            if depth is None or depth < queued:
                models.append(model)
        if not models:
            return
        with self.ctx.db.session() as s:
            items = task_store.take_unsent(s, older_than=cutoff, models=models)
        if items:
            log.info("re-sending %d queued task(s) no worker claimed within the window", len(items))
        self._send(items)

    def _send(self, items: Sequence[task_store.Queued]) -> None:
        for item in items:
            try:
                self.dispatch.send(item)
            except Exception:  # the next pass (or the next API server's) tries again
                log.warning("could not send task %s; the outbox sweep will retry", item.id, exc_info=True)
                return

    def _maintain(self) -> None:
        period = max(0.5, min(self.ctx.lease_seconds / 2, self.window.total_seconds() / 2))
        last_sweep = float("-inf")
        while not self._stop.wait(period):
            try:
                self.pass_once()
                if self.sweep_files and utcnow().timestamp() - last_sweep >= SWEEP_INTERVAL_S:
                    last_sweep = utcnow().timestamp()
                    self.sweep()
            except Exception:
                log.exception("maintenance pass failed")


class CeleryRunner:
    """The API server's JobRunner in distributed mode: it runs nothing, it sends (and re-sends)."""

    def __init__(self, settings: Settings, ctx: RunContext) -> None:
        self.settings = settings
        self.app = make_celery(settings, ctx.catalog)
        self.dispatch = Dispatch(settings, self.app)
        self.maintenance = _Maintenance(ctx, self.dispatch, outbox=True, sweep_files=False)
        self._outgoing: queue.Queue[tuple[str, Task] | None] = queue.Queue()
        self._sender: threading.Thread | None = None

    def start(self) -> None:
        self._sender = threading.Thread(target=self._send_loop, name="framecast-sender", daemon=True)
        self._sender.start()
        self.maintenance.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._outgoing.put(None)
        if self._sender is not None:
            self._sender.join(timeout)
        self.maintenance.stop(timeout)

    def wake(self) -> None:
        return None  # enqueue() hears about each new task

    def healthy(self) -> bool:
        return self._sender is not None and self._sender.is_alive() and self.maintenance.healthy()

    def enqueue(self, task: Task) -> None:
        """Called after the task's row committed: send it (from the sender thread)."""
        self._outgoing.put(("send", task))

    def revoke(self, task: Task) -> None:
        """A queued task was cancelled: tell the workers to drop its message unseen (the claim would
        drop it anyway; this spares the delivery). A running task hears its cancel through the lease."""
        if task.state is TaskState.CANCELLED:
            self._outgoing.put(("revoke", task))

    def _send_loop(self) -> None:
        while (item := self._outgoing.get()) is not None:
            what, task = item
            try:
                if what == "send":
                    req = task.request
                    self.dispatch.send(
                        task_store.Queued(task.id, req.model, task.attempt, req.priority, req.off_peak)
                    )
                else:
                    self.dispatch.revoke(task.id, task.attempt)
            except Exception:
                log.warning("could not %s task %s; the outbox sweep covers it", what, task.id, exc_info=True)


@dataclass
class WorkerRuntime:
    """What one `framecast worker` process holds: the run context, its stop signal, its reaper."""

    ctx: RunContext
    dispatch: Dispatch
    maintenance: _Maintenance
    shutdown: threading.Event
    worker_id: str


def build_worker(settings: Settings, ctx: RunContext) -> tuple[Celery, WorkerRuntime]:
    """The Celery app of a worker process, with its task registered and its lifecycle hooked."""
    app = make_celery(settings, ctx.catalog)
    dispatch = Dispatch(settings, app)
    runtime = WorkerRuntime(
        ctx=ctx,
        dispatch=dispatch,
        maintenance=_Maintenance(ctx, dispatch, outbox=True, sweep_files=True),
        shutdown=threading.Event(),
        worker_id=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
    )

    @app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run(task_id: str, attempt: int) -> str:
        return execute(runtime, task_id, attempt)

    def on_ready(**_kw: Any) -> None:
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        runtime.maintenance.sweep()
        runtime.maintenance.start()

    def on_shutting_down(**_kw: Any) -> None:
        # running tasks go back to the queue at once (run_task releases them), not after the render
        runtime.shutdown.set()
        runtime.maintenance.stop(timeout=1.0)

    celery_signals.worker_ready.connect(on_ready, weak=False)
    celery_signals.worker_shutting_down.connect(on_shutting_down, weak=False)
    return app, runtime


def execute(runtime: WorkerRuntime, task_id: str, attempt: int) -> str:
    """One delivery: claim the task it names, run it, and say what happened (for the worker's log)."""
    ctx = runtime.ctx
    worker = f"{runtime.worker_id}/{threading.current_thread().name}"
    with ctx.db.session() as s:
        claimed = task_store.claim_task(s, task_id=task_id, worker=worker, lease_seconds=ctx.lease_seconds)
    if claimed is None:
        log.info(
            "delivery of task %s (queued as attempt %d) is stale or must wait; dropped", task_id, attempt
        )
        return "dropped"
    log.info("worker %s runs task %s (attempt %d)", worker, task_id, claimed)
    run_task(ctx, task_id, claimed, shutdown=runtime.shutdown)
    with ctx.db.session() as s:
        again = task_store.queued(s, task_ids=[task_id])
    for item in again:  # handed back at shutdown: another worker takes it now rather than after the window
        try:
            runtime.dispatch.send(item)
        except Exception:
            log.warning("could not re-send task %s; the outbox sweep will", task_id, exc_info=True)
    return "handed back" if again else "ran"


def run_worker(settings: Settings, *, models: Sequence[str], concurrency: int, log_level: str) -> None:
    """`framecast worker`: consume the queues of ``models`` (all of the catalog's when empty) with
    ``concurrency`` threads in this one process, so each model's engine is loaded once and shared."""
    catalog = Catalog.load(settings.catalog_file)
    names = list(models) or catalog.names()
    for name in names:
        catalog.require(name)  # a typo would leave a queue nobody consumes
    ctx = RunContext.for_worker_process(settings, catalog)
    app, _runtime = build_worker(settings, ctx)
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "--queues=" + ",".join(queue_name(settings, n) for n in names),
            f"--loglevel={log_level.upper()}",
            f"--hostname=framecast-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
