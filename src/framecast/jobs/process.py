"""Embedded mode's render process: the worker threads in a child process the server starts and keeps up.

Rendering in the server's own process shares its GIL with the event loop: while two threads render 720p
a poll's p99 was 1.6-2.5x idle there, against 1.3-1.7x with the threads in this process
(``bench/load.py --rows rendering --render-in threads|process``, bench/README.md "Round eight").
:class:`RenderProcess` gives every ``framecast serve`` that by default, with nothing to run beside it.

One pipe joins the two. Down it go wakes (a task was queued: claim now, not at the next poll); up it
come "ready" and the metric observations the runner makes, so ``/metrics`` still counts tasks and
frames. Its end-of-file is how each side learns the other is gone: the child then hands its running
tasks back to the queue and exits (the server was killed), the server starts a new child (the render
process was killed; the new one's reaper requeues what the dead one held once its lease lapses).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from framecast.jobs.local import LocalWorkerPool, run_pool

if TYPE_CHECKING:
    from framecast.config import Settings
    from framecast.metrics import Metrics

log = logging.getLogger(__name__)

_READY = "ready"
_WAKE = "wake"
# the TaskMetrics methods a child may call on the server's metrics, and nothing else
_OBSERVATIONS = frozenset({"observe_task", "observe_frames", "observe_swept"})
_FIRST_RESTART_S = 0.5
_MAX_RESTART_S = 30.0
_STEADY_S = 60.0  # a child that lived this long was healthy: the next restart is quick again


class RenderProcess:
    """A :class:`~framecast.jobs.base.JobRunner`: ``settings.workers`` worker threads in a spawned child.

    The child builds its engines from what is installed (as ``framecast worker`` does), so engines
    handed to ``create_app`` cannot run there; those apps keep their threads in process.
    """

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts = 0

    def start(self) -> None:
        self._supervisor = threading.Thread(
            target=self._supervise, name="framecast-render-supervisor", daemon=True
        )
        self._supervisor.start()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the child, which hands its running tasks back; kill it if it outlasts ``timeout``."""
        self._stop.set()
        with self._lifecycle:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("render process %s outlived its stop; killed", proc.pid)
                proc.kill()
                proc.wait(5)
        if self._supervisor is not None:
            self._supervisor.join(5)

    def wake(self) -> None:
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return  # between children: the next one claims what is queued when it starts
            with contextlib.suppress(OSError, ValueError):  # it just died; the supervisor starts another
                conn.send(_WAKE)

    def healthy(self) -> bool:
        proc = self._proc
        return self._ready.is_set() and proc is not None and proc.poll() is None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return None if proc is None else proc.pid

    def _supervise(self) -> None:
        delay = _FIRST_RESTART_S
        while True:
            ours, theirs = multiprocessing.Pipe()
            began = time.monotonic()
            with self._lifecycle:  # so a stop() now waits for this child, and then stops it
                if self._stop.is_set():
                    ours.close()
                    theirs.close()
                    break
                # a fresh interpreter, not multiprocessing's spawn: that would import the server's
                # __main__ again, which an embedding script need not guard; and never fork with threads
                proc = subprocess.Popen(
                    [sys.executable, "-m", "framecast.jobs.process", str(theirs.fileno())],
                    pass_fds=[theirs.fileno()],
                )
                self._proc = proc
            theirs.close()  # only the child holds that end now, so its death reads as end-of-file here
            # one that died at once shows as end-of-file in _listen, and is restarted like any other
            with contextlib.suppress(OSError):
                ours.send((self.settings, logging.getLogger().getEffectiveLevel()))
            with self._send_lock:
                self._conn = ours
            log.info("render process %s started with %d worker thread(s)", proc.pid, self.settings.workers)
            self._listen(ours)
            self._ready.clear()
            with self._send_lock:
                self._conn = None
            ours.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:  # it closed the pipe but lingers: it cannot be trusted
                proc.kill()
                proc.wait(5)
            if self._stop.is_set():
                break
            self.restarts += 1
            if self.metrics is not None:
                self.metrics.observe_render_restart()
            if time.monotonic() - began >= _STEADY_S:
                delay = _FIRST_RESTART_S
            log.error(
                "render process %s exited (code %s); starting another in %.1f s",
                *(proc.pid, proc.returncode, delay),
            )
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, _MAX_RESTART_S)

    def _listen(self, conn: Connection) -> None:
        """Take the child's messages until its end of the pipe closes."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message == _READY:
                self._ready.set()
            elif self.metrics is not None and isinstance(message, tuple):
                name, *args = message
                if name in _OBSERVATIONS:
                    getattr(self.metrics, name)(*args)


class _PipeMetrics:
    """The child's :class:`~framecast.jobs.runner.TaskMetrics`: each observation goes to the server."""

    def __init__(self, conn: Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def _send(self, *message: Any) -> None:
        # an error means the server is gone, and this process with it soon
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._conn.send(message)

    def observe_task(self, model: str, state: str, seconds: float) -> None:
        self._send("observe_task", model, str(state), seconds)

    def observe_frames(self, engine: str, frames: int, seconds: float) -> None:
        self._send("observe_frames", engine, frames, seconds)

    def observe_swept(self, kind: str, count: int) -> None:
        self._send("observe_swept", kind, count)


def render_process_main(server: Connection) -> None:
    """The child: a worker pool that claims from the server's database until SIGTERM or the server's end."""
    from framecast import logs
    from framecast.config import Catalog
    from framecast.jobs.runner import RunContext

    settings, log_level = server.recv()
    logs.configure(logging.getLevelName(log_level))
    # Ctrl-C reaches the whole process group: the server stops this process itself, after its requests
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    lock = threading.Lock()
    ctx = RunContext.for_worker_process(
        settings, Catalog.load(settings.catalog_file), metrics=_PipeMetrics(server, lock)
    )
    pool = LocalWorkerPool(ctx, workers=settings.workers, nice=settings.worker_nice)

    def listen() -> None:
        while not done.is_set():
            try:
                message = server.recv()
            except (EOFError, OSError):
                log.warning("the server is gone; handing running tasks back and exiting")
                done.set()
                return
            if message == _WAKE:
                pool.wake()

    def ready() -> None:
        threading.Thread(target=listen, name="framecast-render-pipe", daemon=True).start()
        with lock:
            server.send(_READY)

    run_pool(pool, done, on_started=ready)


if __name__ == "__main__":
    render_process_main(Connection(int(sys.argv[1])))
