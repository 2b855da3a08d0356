"""Reads by key that arrive together run as one statement: what the loop saves on PostgreSQL polls.

Under polling load most of a PostgreSQL poll's own cost on the event loop was the driver's work for one
round trip (sending the statement, registering its socket with the loop and back, reading the reply),
paid once per poll whatever the poll read. Polls arrive in bursts, one per ready socket in each turn of
the loop, so while a read is on the wire the next ones queue up; here they wait for it and then go
together in one statement for all their keys (``WHERE id = ANY(...)``), and the round trip's cost is
shared among them (``bench/load.py``; ``/metrics`` counts the polls and their statements). A read that
finds a lane free goes at once, alone: batching never delays a read, it only gathers those that would
have waited anyway.

Each read still sees the database as it is when its statement runs, at or after the read was asked
for, as a read of its own would have; nothing is cached here.

At most ``lanes`` statements are in flight. The read that runs a batch leads it, and hands the lead to
the first read still waiting when it is done, so no read runs more than one batch and no task is started
for any.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

_LEAD: Any = object()  # what a waiting read is handed when it is to run the next batch


class KeyedBatches(Generic[K, R]):
    """``run(keys)`` answers each key (a key it leaves out gets ``missing``); concurrent :meth:`get`
    calls share its calls, at most ``max_batch`` keys and ``lanes`` calls at a time."""

    def __init__(
        self,
        run: Callable[[Sequence[K]], Awaitable[Mapping[K, R]]],
        *,
        missing: R,
        lanes: int,
        max_batch: int = 32,
    ) -> None:
        if lanes < 1 or max_batch < 1:
            raise ValueError("KeyedBatches needs at least one lane and one key per batch")
        self._run = run
        self._missing = missing
        self._lanes = lanes
        self._max_batch = max_batch
        self._leading = 0  # batches being run (or about to be, by a read handed the lead)
        self._waiting: deque[tuple[K, asyncio.Future[Any]]] = deque()
        self.statements = 0  # runs of ``run``, and the reads they answered (``/metrics``)
        self.reads = 0

    async def get(self, key: K) -> R:
        if self._leading < self._lanes:
            self._leading += 1
        else:
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiting.append((key, waiter))
            try:
                answer = await waiter
            except asyncio.CancelledError:
                # answered as it was cancelled: handed the lead, the next read takes it (exception() also
                # marks a failure as seen, so asyncio does not report it as never retrieved)
                answered = waiter.done() and not waiter.cancelled() and waiter.exception() is None
                if answered and waiter.result() is _LEAD:
                    self._pass_lead()
                raise
            if answer is not _LEAD:
                return answer  # type: ignore[no-any-return]
        return await self._lead(key)

    async def _lead(self, key: K) -> R:
        """Run one batch: ``key`` and the reads waiting now, then pass the lead on."""
        batch: list[tuple[K, asyncio.Future[Any]]] = []
        while self._waiting and len(batch) < self._max_batch - 1:
            entry = self._waiting.popleft()
            if not entry[1].done():  # a read cancelled while it waited
                batch.append(entry)
        keys = list(dict.fromkeys([key, *(k for k, _ in batch)]))
        self.statements += 1
        self.reads += 1 + len(batch)
        try:
            answers = await self._run(keys)
        except asyncio.CancelledError:
            # this read was cancelled, not the others: back to the front of the queue, unanswered
            self._waiting.extendleft(reversed(batch))
            self._pass_lead()
            raise
        except BaseException as exc:
            self._pass_lead()
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(exc)
            raise
        # the lead passes before the answers go out, so the next statement is on the wire while the loop
        # renders this batch's answers, not after
        self._pass_lead()
        for k, waiter in batch:
            if not waiter.done():
                waiter.set_result(answers.get(k, self._missing))
        return answers.get(key, self._missing)

    def _pass_lead(self) -> None:
        while self._waiting:
            _, waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(_LEAD)  # its key is run in the batch it now leads
                return
        self._leading -= 1
