"""Embedded mode: an in-process pool of worker threads claiming tasks from the database.

The database is the queue. Workers claim with a compare-and-swap, heartbeat a
lease while they render, and a reaper puts tasks whose lease lapsed (their
process died) back in the queue, so a restart after ``kill -9`` finishes every
task exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from framecast.jobs.runner import RunContext, run_task
from framecast.store import idempotency
from framecast.store import tasks as task_store
from framecast.store.time import utcnow

log = logging.getLogger(__name__)


class LocalWorkerPool:
    def __init__(self, ctx: RunContext, *, workers: int = 1, poll_seconds: float = 1.0) -> None:
        self.ctx = ctx
        self.workers = workers
        self.poll_seconds = poll_seconds
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Condition()
        self._pending_wakes = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.ctx.work_dir.mkdir(parents=True, exist_ok=True)
        self.reap()
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"framecast-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        if self.workers:
            t = threading.Thread(target=self._reaper, name="framecast-reaper", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)
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
            ids = task_store.requeue_expired(s)
            expired = task_store.expire_off_peak(s, older_than=utcnow() - self.ctx.off_peak_window)
            idempotency.purge(s, older_than=utcnow() - self.ctx.idempotency_window)
        if expired:
            log.info("cancelled %d off-peak task(s) past their window: %s", len(expired), ", ".join(expired))
        if ids:
            log.info("requeued %d task(s) whose worker stopped: %s", len(ids), ", ".join(ids))
            for _ in ids:
                self.wake()
        return ids

    def _reaper(self) -> None:
        while not self._stop.wait(max(1.0, self.ctx.lease_seconds / 2)):
            try:
                self.reap()
            except Exception:
                log.exception("reaper pass failed")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.ctx.db.session() as s:
                    claimed = task_store.claim_next(
                        s, worker=self.worker_id, lease_seconds=self.ctx.lease_seconds
                    )
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
            log.info("worker %s runs task %s (attempt %d)", threading.current_thread().name, task_id, attempt)
            run_task(self.ctx, task_id, attempt, shutdown=self._stop)
