"""Reads by key that wait together run as one statement (store/read_batches.py): each read gets its own
key's answer, no more statements in flight than lanes, and no read lost to a failure or a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from framecast.store.read_batches import KeyedBatches
from tests.waiting import settle


class Database:
    """Answers ``key -> key * 10`` for keys under 100, one statement at a time held until released."""

    def __init__(self) -> None:
        self.statements: list[list[int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False

    async def run(self, keys: Sequence[int]) -> Mapping[int, int]:
        self.statements.append(list(keys))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            if self.fail_next:
                self.fail_next = False
                raise ConnectionError("server closed the connection")
            return {k: k * 10 for k in keys if k < 100}
        finally:
            self.in_flight -= 1


def test_reads_that_wait_share_one_statement_and_each_gets_its_own_answer() -> None:
    async def scenario() -> None:
        db = Database()
        batches = KeyedBatches(db.run, missing=-1, lanes=1)
        db.gate.clear()
        first = asyncio.create_task(batches.get(1))
        await settle()  # the first read is on the wire alone
        rest = [asyncio.create_task(batches.get(k)) for k in (2, 3, 3, 500)]
        await settle()
        db.gate.set()
        assert await first == 10
        assert await asyncio.gather(*rest) == [20, 30, 30, -1]
        # one statement for the first read, one for the four that waited on it, the repeated key once
        assert db.statements == [[1], [2, 3, 500]]
        assert (batches.statements, batches.reads) == (2, 5)

    asyncio.run(scenario())


def test_never_more_statements_than_lanes_nor_keys_than_the_batch_holds() -> None:
    async def scenario() -> None:
        db = Database()
        batches = KeyedBatches(db.run, missing=-1, lanes=2, max_batch=3)
        db.gate.clear()
        reads = [asyncio.create_task(batches.get(k)) for k in range(10)]
        await settle()
        assert db.in_flight == 2
        db.gate.set()
        assert await asyncio.gather(*reads) == [k * 10 for k in range(10)]
        assert db.most_in_flight == 2
        assert max(len(s) for s in db.statements) == 3
        assert sorted(k for s in db.statements for k in s) == list(range(10))

    asyncio.run(scenario())


def test_a_failed_statement_fails_its_reads_and_the_next_reads_still_run() -> None:
    async def scenario() -> None:
        db = Database()
        batches = KeyedBatches(db.run, missing=-1, lanes=1)
        db.gate.clear()
        db.fail_next = True
        leader = asyncio.create_task(batches.get(1))
        await settle()
        waiting = [asyncio.create_task(batches.get(k)) for k in (2, 3)]
        await settle()
        db.gate.set()
        with pytest.raises(ConnectionError):
            await leader
        # the two waiting reads were not in the failed statement: theirs runs after it
        assert await asyncio.gather(*waiting) == [20, 30]
        db.fail_next = True
        together = [asyncio.create_task(batches.get(k)) for k in (4, 5)]
        results = await asyncio.gather(*together, return_exceptions=True)
        assert [type(r) for r in results] == [ConnectionError, int]  # 4 failed alone, 5 ran after it
        assert await batches.get(6) == 60  # nothing was left holding a lane

    asyncio.run(scenario())


def test_a_cancelled_read_loses_no_other_read() -> None:
    async def scenario() -> None:
        db = Database()
        batches = KeyedBatches(db.run, missing=-1, lanes=1)
        db.gate.clear()
        leader = asyncio.create_task(batches.get(1))
        await settle()
        cancelled_waiter = asyncio.create_task(batches.get(2))
        others = [asyncio.create_task(batches.get(k)) for k in (3, 4)]
        await settle()
        cancelled_waiter.cancel()  # gave up while it waited: the others do not wait on it
        leader.cancel()  # gave up with its statement on the wire: the waiting reads go on without it
        for task in (cancelled_waiter, leader):
            with pytest.raises(asyncio.CancelledError):
                await task
        db.gate.set()
        assert await asyncio.wait_for(asyncio.gather(*others), 5) == [30, 40]
        assert await batches.get(5) == 50

    asyncio.run(scenario())


def test_a_read_cancelled_as_it_is_handed_the_lead_passes_it_on() -> None:
    async def scenario() -> None:
        db = Database()
        batches = KeyedBatches(db.run, missing=-1, lanes=1, max_batch=1)
        db.gate.clear()
        leader = asyncio.create_task(batches.get(1))
        await settle()
        next_in_line = asyncio.create_task(batches.get(2))
        after = asyncio.create_task(batches.get(3))
        await settle()
        # cancel the next read in the very step the lead is handed to it, before it can run: the lead
        # must reach the read after it
        hand_on = batches._pass_lead

        def hand_on_then_cancel() -> None:
            hand_on()
            next_in_line.cancel()

        batches._pass_lead = hand_on_then_cancel  # type: ignore[method-assign]
        db.gate.set()
        assert await leader == 10
        with pytest.raises(asyncio.CancelledError):
            await next_in_line
        assert await asyncio.wait_for(after, 5) == 30

    asyncio.run(scenario())
