"""Valid API keys remembered for a few seconds, so a polling client costs no database read to authenticate.

Only keys found valid are kept: an unknown key always reaches the database (a key created a moment ago works
at once, and random tokens cannot fill the cache). A revoked key keeps working for at most ``ttl`` seconds
in a process that saw it valid just before.

Polls that miss together share one lookup: when a polling client's key expires here, every poll it has in
flight misses at once, and each went to the database in a thread of its own, tens of polls queued on the
thread pool behind one another (a PostgreSQL poll's p99, ``bench/load.py``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from framecast.domain import Principal


class PrincipalCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()  # put() runs on pool threads, get() on the event loop
        self._lookups: dict[str, asyncio.Future[Principal | None]] = {}  # on the event loop only

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        expires, principal = entry
        if time.monotonic() >= expires:
            with self._lock:
                self._entries.pop(token, None)
            return None
        return principal

    def put(self, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # rare (that many live keys in a few seconds); a refill is cheap
            self._entries[principal.token] = (time.monotonic() + self.ttl, principal)

    async def get_or_look_up(
        self, token: str, look_up: Callable[[str], Principal | None]
    ) -> Principal | None:
        """The remembered principal, else ``look_up(token)``'s (in a thread: it reads the database), one
        lookup at a time per key: reads that miss while it runs wait for it (a cancelled one does not
        cancel it for the others)."""
        found = self.get(token)
        if found is not None:
            return found
        pending = self._lookups.get(token)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(run_in_threadpool(look_up, token))
            self._lookups[token] = pending
            pending.add_done_callback(lambda done: self._finished(token, done))
        return await asyncio.shield(pending)

    def _finished(self, token: str, done: asyncio.Future[Principal | None]) -> None:
        if self._lookups.get(token) is done:
            del self._lookups[token]
        if done.cancelled() or done.exception() is not None:  # seen: not reported as never retrieved
            return
        principal = done.result()
        if principal is not None:
            self.put(principal)  # before the waiters resume: a poll after them finds it
