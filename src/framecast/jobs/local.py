"""Embedded mode: a pool of worker threads claiming tasks from the database (run in the server's render
process, :mod:`framecast.jobs.process`, in the server itself, or in a ``framecast worker`` process).

The database is the queue. Workers claim with a compare-and-swap, heartbeat a
lease while they render, and a reaper puts tasks whose lease lapsed (their
process died) back in the queue, so a restart after ``kill -9`` finishes every
task exactly once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from framecast.jobs.runner import RunContext, attempt_prefix, run_task
from framecast.jobs.sweeper import sweep
from framecast.store import idempotency
from framecast.store import tasks as task_store
from framecast.store.time import utcnow

if TYPE_CHECKING:
    from framecast.config import Settings

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 600.0  # crash leftovers are swept at start and then this often


def lower_priority(nice: int) -> None:
    """Run the calling thread (and the threads it starts: the encoder, libx264's, OpenCV's) ``nice``
    steps below the process, so that an API sharing the cores with rendering keeps its latency (GET p99
    while two threads render 720p: 5.2x idle at the process's priority, 1.1x at +10; bench/load.py,
    results/load_round4*.md). Linux sets a nice value per thread; elsewhere this does nothing."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
    except OSError as exc:  # a sandbox that forbids it: run at the process's priority
        log.warning("worker threads keep the process's priority: %s", exc)


class LocalWorkerPool:
    def __init__(
        self, ctx: RunContext, *, workers: int = 1, poll_seconds: float = 1.0, nice: int = 0
    ) -> None:
        self.ctx = ctx
        self.workers = workers
        self.nice = nice
        self.poll_seconds = poll_seconds
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Condition()
        self._pending_wakes = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # (task id, attempt) each worker thread is running, so stop() can hand back what it could not finish
        self._running: dict[str, tuple[str, int]] = {}
        self._running_lock = threading.Lock()

    def start(self) -> None:
        self.ctx.work_dir.mkdir(parents=True, exist_ok=True)
        self.reap()
        self.sweep()
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, args=(i,), name=f"framecast-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        if self.workers:
            t = threading.Thread(target=self._reaper, name="framecast-reaper", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; running tasks go back to the queue at once, without spending an attempt.

        Engines see the stop through ``cancelled()`` and the runner hands their task back. One that
        does not return within ``timeout`` (a model load cannot be interrupted) has its task handed back
        here: its later writes are fenced out, and the process is exiting anyway.
        """
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._running_lock:
            stuck = list(self._running.values())
        for task_id, attempt in stuck:
            try:
                with self.ctx.db.session() as s:
                    if task_store.release(s, task_id=task_id, attempt=attempt):
                        log.info("task %s handed back to the queue at shutdown", task_id)
            except Exception:
                log.exception("could not hand task %s back; the reaper will once its lease lapses", task_id)
        self._threads.clear()

    def wake(self) -> None:
        with self._wake:
            self._pending_wakes += 1
            self._wake.notify()

    def healthy(self) -> bool:
        workers = [t for t in self._threads if t.name.startswith("framecast-worker")]
        return len(workers) == self.workers and all(t.is_alive() for t in workers)

    def reap(self) -> list[str]:
        """Requeue tasks whose worker died, cancel (with a refund) off-peak tasks past their window,
        and forget idempotency keys past theirs."""
        with self.ctx.db.session() as s:
            reaped = task_store.requeue_expired(s, max_attempts=self.ctx.max_attempts)
            expired = task_store.expire_off_peak(s, older_than=utcnow() - self.ctx.off_peak_window)
            idempotency.purge(s, older_than=utcnow() - self.ctx.idempotency_window)
        if expired:
            log.info("cancelled %d off-peak task(s) past their window: %s", len(expired), ", ".join(expired))
        if reaped.abandoned:
            log.error(
                "failed %d task(s) whose workers died %d times: %s",
                len(reaped.abandoned),
                self.ctx.max_attempts,
                ", ".join(reaped.abandoned),
            )
        for task_id, attempt in reaped.lost:  # a dead attempt may have uploaded part of its results
            self.ctx.blobs.delete_prefix(attempt_prefix(task_id, attempt))
        if reaped.lost:  # and left its scratch folder, if it ran on this machine
            self.sweep(inputs=False)
        ids = reaped.requeued
        if ids:
            log.info("requeued %d task(s) whose worker stopped: %s", len(ids), ", ".join(ids))
            for _ in ids:
                self.wake()
        return ids

    def sweep(self, *, inputs: bool = True) -> None:
        """Remove what crashed attempts and creates left behind (see :mod:`framecast.jobs.sweeper`)."""
        swept = sweep(self.ctx.db, self.ctx.blobs, self.ctx.work_dir, inputs=inputs)
        if self.ctx.metrics is not None:
            self.ctx.metrics.observe_swept("scratch", swept.scratch)
            self.ctx.metrics.observe_swept("inputs", swept.inputs)

    def _reaper(self) -> None:
        last_sweep = time.monotonic()
        while not self._stop.wait(max(1.0, self.ctx.lease_seconds / 2)):
            try:
                self.reap()
                if time.monotonic() - last_sweep >= SWEEP_INTERVAL_S:
                    last_sweep = time.monotonic()
                    self.sweep()
            except Exception:
                log.exception("reaper pass failed")

    def _loop(self, index: int) -> None:
        lower_priority(self.nice)
        worker = f"{self.worker_id}/{index}"
        while not self._stop.is_set():
            try:
                with self.ctx.db.session() as s:
                    claimed = task_store.claim_next(s, worker=worker, lease_seconds=self.ctx.lease_seconds)
            except Exception:
                log.exception("claim failed; retrying")
                claimed = None
            if claimed is None:
                with self._wake:
                    if self._pending_wakes == 0 and not self._stop.is_set():
                        self._wake.wait(self.poll_seconds)
                    self._pending_wakes = max(0, self._pending_wakes - 1)
                continue
            task_id, attempt = claimed
            log.info("worker %s runs task %s (attempt %d)", worker, task_id, attempt)
            with self._running_lock:
                self._running[worker] = claimed
            try:
                run_task(self.ctx, task_id, attempt, shutdown=self._stop)
            finally:
                with self._running_lock:
                    self._running.pop(worker, None)


def run_local_worker(settings: Settings, *, threads: int) -> None:
    """``framecast worker`` without a broker: worker threads in a process of their own, claiming from the
    database the API writes to, until SIGTERM or SIGINT.

    The API then runs with ``FRAMECAST_WORKERS=0``. Rendering does not share the API process's GIL, as
    with the server's own render process (:mod:`framecast.jobs.process`), but nothing wakes this one: a
    new task waits up to a second (the claim poll) before it picks it up
    (``bench/load.py --rows rendering --render-in worker``).
    """
    from framecast.config import Catalog

    ctx = RunContext.for_worker_process(settings, Catalog.load(settings.catalog_file))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    run_pool(LocalWorkerPool(ctx, workers=threads, nice=settings.worker_nice), done)


def run_pool(
    pool: LocalWorkerPool, done: threading.Event, on_started: Callable[[], None] | None = None
) -> None:
    """Run ``pool`` in this process until ``done`` is set, then hand its running tasks back; a worker
    thread that dies ends the process with an error (its supervisor, systemd or the server, restarts it)."""
    pool.start()
    log.info("worker %s: %d thread(s) claiming from the database", pool.worker_id, pool.workers)
    if on_started is not None:
        on_started()
    try:
        while not done.wait(1.0):
            if not pool.healthy():
                raise RuntimeError("a worker thread stopped; see the log above")
    finally:
        pool.stop()
        pool.ctx.db.dispose()
