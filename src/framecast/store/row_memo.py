"""What was made of a statement's rows, remembered by the rows' exact values.

A client polls a task over and over while it waits in the queue, and every poll read the same row and
built the same domain task from it again: JSON decoded, dates converted, pydantic validation, the larger
part of a poll's own time (``bench/request_costs.py``). The database is still read on every poll; only
the building is skipped when the driver returns exactly the values it returned before, so nothing can be
stale: a row that changed in any column is a different key. What is remembered is shared between the
callers that read the same rows: treat it as read-only.

Once full, only one miss in ``ADMIT_EVERY`` is kept (evicting the least recently used). When the polled
tasks outnumber the memo, admitting every miss evicted as fast as it kept, and each task kept is a few
hundred objects the garbage collector then walked: with 5,000 tasks polled at random through a memo of
2,048, polls were slower than with none, with full collections in the tail. Admitting a fraction keeps a
stable subset (the hit rate the memo's size allows) at a fraction of the churn, and a working set that
fits still moves in, more slowly (``bench/request_costs.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_MISSING: Any = object()
ADMIT_EVERY = 8  # once full, one miss in this many is kept


class RowMemo(Generic[T]):
    """The ``size`` most recently used results of ``make(rows)``, by the rows' values (0: none kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._made: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()  # polls read on the loop, other reads in threads
        self._misses_when_full = 0

    def made(self, rows: Sequence[tuple[Any, ...]], make: Callable[[Sequence[tuple[Any, ...]]], T]) -> T:
        if self.size <= 0:
            return make(rows)
        key = tuple(rows)
        try:
            hash(key)
        except TypeError:  # a value the driver decoded into a dict or list (JSON): nothing to key on
            return make(rows)
        with self._lock:
            found = self._made.get(key, _MISSING)
            if found is not _MISSING:
                self._made.move_to_end(key)
                return found  # type: ignore[no-any-return]
        value = make(rows)
        with self._lock:
            if len(self._made) >= self.size:
                self._misses_when_full += 1
                if self._misses_when_full % ADMIT_EVERY:
                    return value
                self._made.popitem(last=False)
            self._made[key] = value
        return value

    def __len__(self) -> int:
        return len(self._made)
