"""The pool PostgreSQL polls are awaited on (store/async_reads.py): never more connections than its size,
waiters served in arrival order, and no connection or slot lost to a cancelled wait, a failed connect or
a dropped connection."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from framecast.store.async_reads import _Connections
from tests.waiting import settle


class FakeConnection:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False
        self.pgconn = self

    def finish(self) -> None:
        self.closed = True

    async def close(self) -> None:
        self.closed = True


class Opener:
    def __init__(self) -> None:
        self.numbers = itertools.count(1)
        self.opened: list[FakeConnection] = []
        self.fail_next = False

    async def __call__(self) -> Any:
        await asyncio.sleep(0)
        if self.fail_next:
            self.fail_next = False
            raise OSError("connection refused")
        conn = FakeConnection(next(self.numbers))
        self.opened.append(conn)
        return conn


def test_never_more_than_its_size_and_waiters_in_order() -> None:
    async def scenario() -> None:
        opener = Opener()
        pool = _Connections(opener, size=2)
        a, b = await pool.acquire(), await pool.acquire()
        order: list[int] = []

        async def wait(n: int) -> None:
            conn = await pool.acquire()
            order.append(n)
            pool.release(conn)

        waiting = [asyncio.create_task(wait(n)) for n in range(5)]
        await settle()
        assert order == [] and len(opener.opened) == 2
        pool.release(a)
        pool.release(b)
        await asyncio.gather(*waiting)
        assert order == [0, 1, 2, 3, 4] and len(opener.opened) == 2

    asyncio.run(scenario())


@pytest.mark.parametrize("handed_first", [False, True])
def test_a_cancelled_wait_loses_no_connection(handed_first: bool) -> None:
    async def scenario() -> None:
        opener = Opener()
        pool = _Connections(opener, size=1)
        held = await pool.acquire()
        cancelled = asyncio.create_task(pool.acquire())
        after = asyncio.create_task(pool.acquire())
        await settle()
        # in the same step: the cancel before the hand-over, or after it (the waiter holds the connection
        # when the cancellation reaches it); either way the connection must reach `after`
        if handed_first:
            pool.release(held)
            cancelled.cancel()
        else:
            cancelled.cancel()
            pool.release(held)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert await asyncio.wait_for(after, 5) is held
        assert len(opener.opened) == 1

    asyncio.run(scenario())


def test_a_failed_connect_or_a_dropped_connection_frees_its_slot() -> None:
    async def scenario() -> None:
        opener = Opener()
        pool = _Connections(opener, size=1)
        opener.fail_next = True
        with pytest.raises(OSError):
            await pool.acquire()
        first = await pool.acquire()  # the failed connect did not keep the only slot
        waiter = asyncio.create_task(pool.acquire())
        await settle()
        pool.discard(first)  # the server dropped it: the waiter opens a new one in its slot
        second = await asyncio.wait_for(waiter, 5)
        assert first.closed and second is not first and not second.closed
        pool.release(second)
        pool.discard_idle()
        third = await pool.acquire()
        assert second.closed and third.number == 3

    asyncio.run(scenario())


def test_close_fails_waiters_and_closes_what_comes_back() -> None:
    async def scenario() -> None:
        pool = _Connections(Opener(), size=1)
        lent = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await settle()
        await pool.close()
        with pytest.raises(RuntimeError):
            await waiter
        pool.release(lent)
        assert lent.closed
        with pytest.raises(RuntimeError):
            await pool.acquire()

    asyncio.run(scenario())
