"""Valid API keys remembered for a few seconds, so a polling client costs no database read to authenticate.

Only keys found valid are kept: an unknown key always reaches the database (a key created a moment ago works
at once, and random tokens cannot fill the cache). A revoked key keeps working for at most ``ttl`` seconds
in a process that saw it valid just before.
"""

from __future__ import annotations

import threading
import time

from framecast.domain import Principal


class PrincipalCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()  # put() runs on pool threads, get() on the event loop

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
