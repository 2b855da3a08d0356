"""A claimed attempt's lease, kept alive on its own clock from claim to commit.

The runner's thread may spend minutes where it cannot write anything: a model load, a
diffusion model's denoising steps before the first frame, the encoder's flush, the upload.
A timer thread renews the lease every ``lease/3`` whatever that thread is doing, so only a
dead process lets a lease lapse. The same write brings back a user's cancel (the engine
sees it through ``cancelled()`` between its steps) and tells the attempt when a newer one
took the task over (fencing): from then on ``cancelled()`` is true and every write refuses.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from framecast.errors import Fenced
from framecast.store import tasks as task_store
from framecast.store.db import Database

log = logging.getLogger(__name__)

# progress is written at most this often between heartbeats: enough for a smooth bar and for a cancel
# to reach an engine that reports its steps within about one step, cheap enough for SQLite
_PROGRESS_INTERVAL_S = 0.5


class HeldAttempt:
    """One attempt's lease, progress and phase, renewed by a timer thread until :meth:`close`."""

    def __init__(
        self,
        db: Database,
        *,
        task_id: str,
        attempt: int,
        lease_seconds: float,
        shutdown: threading.Event | None = None,
    ) -> None:
        self.db, self.task_id, self.attempt, self.lease_seconds = db, task_id, attempt, lease_seconds
        self.shutdown = shutdown or threading.Event()
        self.period = lease_seconds / 3
        self._cancel_requested = threading.Event()
        self._lost = threading.Event()
        self._closed = threading.Event()
        self._write_lock = threading.Lock()
        self._pct = 0
        self._phase = "starting"
        self._written: tuple[int, str] | None = None
        self._last_write = 0.0
        self._thread = threading.Thread(target=self._run, name=f"framecast-lease-{task_id}", daemon=True)

    # --- lifetime ---------------------------------------------------------------------------------

    def __enter__(self) -> HeldAttempt:
        self._thread.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop renewing. The caller has committed, failed or handed the task back by now."""
        self._closed.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._closed.wait(self.period):
            self._write(force=True)

    # --- what the runner and the engine see -------------------------------------------------------

    @property
    def lost(self) -> bool:
        """A newer attempt holds the task: nothing this one writes may count."""
        return self._lost.is_set()

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    def cancelled(self) -> bool:
        """What the engine polls between its steps: a user's cancel, the service stopping, or fencing."""
        return self._cancel_requested.is_set() or self.shutdown.is_set() or self._lost.is_set()

    def check(self) -> None:
        """Raise :class:`Fenced` when this attempt lost its task."""
        if self._lost.is_set():
            raise Fenced(f"task {self.task_id} attempt {self.attempt} was taken over")

    def set_phase(self, phase: str) -> None:
        """Enter a phase ("loading model", "generating", "saving"); written at once."""
        self._phase = phase
        self._write(force=True, block=True)
        self.check()

    def set_progress(self, pct: int) -> None:
        """Record progress (0-99; 100 is the commit's); written when due, never going backwards."""
        self._pct = max(self._pct, min(99, pct))
        self._write(force=False, block=False)

    # --- the write ----------------------------------------------------------------------------------

    def _write(self, *, force: bool, block: bool = True) -> None:
        if self._lost.is_set():
            return
        state = (self._pct, self._phase)
        now = time.monotonic()
        if not force and (state == self._written or now - self._last_write < _PROGRESS_INTERVAL_S):
            return
        # the timer and the runner's thread both write; whichever finds the other writing skips its turn
        # unless it must write now (a lease renewal, a phase change)
        if not self._write_lock.acquire(blocking=block):
            return
        try:
            state = (self._pct, self._phase)
            with self.db.session() as s:
                res = task_store.heartbeat(
                    s,
                    task_id=self.task_id,
                    attempt=self.attempt,
                    lease_seconds=self.lease_seconds,
                    progress=state[0],
                    phase=state[1],
                )
            self._last_write, self._written = now, state
            if res is None:
                if not self._closed.is_set():  # after close the task may simply have ended
                    log.warning("task %s attempt %s was taken over; stopping it", self.task_id, self.attempt)
                self._lost.set()
            elif res:
                self._cancel_requested.set()
        except Exception:
            # a database hiccup must not kill the timer: the lease has two more periods to be renewed
            log.exception("heartbeat of task %s attempt %s failed; retrying", self.task_id, self.attempt)
        finally:
            self._write_lock.release()
