"""The poll path's reads (the driver's cursor, ``store/prepared.py``; awaited on the loop,
``store/async_reads.py``) return the task the ORM session does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from framecast.domain import Task
from framecast.store import tasks as task_store
from framecast.store.async_reads import AsyncReads
from framecast.store.row_memo import ADMIT_EVERY, RowMemo
from tests.conftest import Api
from tests.store.test_postgres import pg_url  # noqa: F401  (a fixture)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_poll_read_equals_the_session_read(
    database: str, make_api: Callable[..., Api], pair: list[str], request: pytest.FixtureRequest
) -> None:
    overrides: dict[str, Any] = {"workers": 1}
    if database == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    api = make_api(**overrides)
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", "prompt": "a pan"}
    done = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    api.wait(done)
    cancelled = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    assert api.post(f"/ent/v2/tasks/{cancelled}/cancel", {}).status_code == 200
    api.wait(cancelled)
    db = api.client.app.state.db  # type: ignore[attr-defined]
    tenant = api.tenant
    for task_id in (done, cancelled):
        with db.session() as s:
            through_session = task_store.load_task(s, task_id=task_id, tenant=tenant)
        polled = task_store.read_task(db, task_id=task_id, tenant=tenant)
        assert polled is not None and polled == through_session
    polled = task_store.read_task(db, task_id=done, tenant=tenant)
    assert polled is not None and len(polled.creations) == 1
    assert polled.finished_at is not None and polled.finished_at.tzinfo is not None
    stopped = task_store.read_task(db, task_id=cancelled, tenant=tenant)
    assert stopped is not None and stopped.error is not None and not stopped.creations
    assert task_store.read_task(db, task_id=done, tenant="another tenant") is None
    assert task_store.read_task(db, task_id="404", tenant=tenant) is None


def test_the_awaited_poll_read_equals_the_session_read_on_postgres(
    pg_url: str,  # noqa: F811  (the fixture imported above)
    make_api: Callable[..., Api],
    pair: list[str],
) -> None:
    """PostgreSQL polls are awaited on the event loop (``store/async_reads.py``): the same task as the
    session's, another tenant's and an unknown id none."""
    api = make_api(workers=1, database_url=pg_url)
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", "prompt": "a pan"}
    done = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    api.wait(done)
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session() as s:
        through_session = task_store.load_task(s, task_id=done, tenant=api.tenant)

    async def reads() -> list[Task | None]:
        pool = AsyncReads(db.engine)
        await pool.open()
        try:
            return [
                await task_store.read_task_async(pool, task_id=done, tenant=api.tenant),
                await task_store.read_task_async(pool, task_id=done, tenant="another tenant"),
                await task_store.read_task_async(pool, task_id="404", tenant=api.tenant),
            ]
        finally:
            await pool.close()

    awaited, other_tenant, unknown = asyncio.run(reads())
    assert awaited is not None and awaited == through_session and len(awaited.creations) == 1
    assert other_tenant is None and unknown is None


def test_polls_read_together_share_a_statement_and_each_sees_only_its_own_tenants_task(
    pg_url: str,  # noqa: F811  (the fixture imported above)
    make_api: Callable[..., Api],
    pair: list[str],
) -> None:
    """Polls that wait on a busy connection go in one statement (``store/read_batches.py``): each still gets
    the task the session reads for it, and a task of another tenant's in the same statement stays unseen."""
    api = make_api(workers=1, database_url=pg_url)
    other = api.new_key()
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", "prompt": "a pan"}
    mine = [api.post("/ent/v2/start-end2video", body).json()["task_id"] for _ in range(3)]
    theirs = other.post("/ent/v2/start-end2video", body).json()["task_id"]
    for task_id in mine:
        api.wait(task_id)
    other.wait(theirs)
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session() as s:
        expected = {t: task_store.load_task(s, task_id=t, tenant=api.tenant) for t in mine}
    # a longer id that begins with a real one names no task
    asked = [*mine * 10, theirs, "404", mine[0] + "0" * 10] * 3

    async def reads() -> tuple[list[Task | None], int]:
        pool = AsyncReads(db.engine, size=1)
        await pool.open()
        try:
            found = await asyncio.gather(
                *(task_store.read_task_async(pool, task_id=t, tenant=api.tenant) for t in asked)
            )
            return list(found), sum(b.statements for b in pool.batches.values())
        finally:
            await pool.close()

    found, statements = asyncio.run(reads())
    assert found == [expected.get(t) for t in asked]  # None for the other tenant's task and unknown ids
    assert statements < len(asked) // 4


def test_polls_survive_the_database_dropping_their_connections(
    pg_url: str,  # noqa: F811
    make_api: Callable[..., Api],
    pair: list[str],
) -> None:
    """A PostgreSQL restart or failover closes every connection: the next poll still answers (the pool
    discards the dead connection and the read is tried once more)."""
    api = make_api(workers=1, database_url=pg_url)
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", "prompt": "a pan"}
    task_id = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    api.wait(task_id)
    assert api.get(f"/ent/v2/tasks/{task_id}/creations").status_code == 200
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        dropped = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert dropped >= 1
    for _ in range(3):  # every pooled connection the poll may take was dropped
        answer = api.get(f"/ent/v2/tasks/{task_id}/creations")
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "success"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_remembered_task_is_never_answered_stale(
    database: str, make_api: Callable[..., Api], pair: list[str], request: pytest.FixtureRequest
) -> None:
    """Polls build a task once per distinct row (``store/row_memo.py``), so a task polled again while its
    row is unchanged is the same object; any committed change, in any column, is in the next poll."""
    overrides: dict[str, Any] = {"workers": 0}  # the task stays queued: only this test writes to it
    if database == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    api = make_api(**overrides)
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p"}
    task_id = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    db = api.client.app.state.db  # type: ignore[attr-defined]

    def poll_read(tenant: str) -> Task | None:
        """The read a poll makes: awaited on PostgreSQL, inline on SQLite."""
        if database == "sqlite":
            return task_store.read_task(db, task_id=task_id, tenant=tenant)

        async def awaited() -> Task | None:
            reads = AsyncReads(db.engine, memo=db.polled_tasks)
            await reads.open()
            try:
                return await task_store.read_task_async(reads, task_id=task_id, tenant=tenant)
            finally:
                await reads.close()

        return asyncio.run(awaited())

    first = poll_read(api.tenant)
    assert first is not None and poll_read(api.tenant) is first
    for progress in (7, 8, 9):
        with db.session() as s:
            s.execute(text("UPDATE tasks SET progress = :p WHERE id = :id"), {"p": progress, "id": task_id})
        answer = api.get(f"/ent/v2/tasks/{task_id}/creations").json()
        assert answer["progress"] == progress
    with db.session() as s:  # a column no answer shows still makes a new task
        s.execute(text("UPDATE tasks SET phase = 'loading model' WHERE id = :id"), {"id": task_id})
    changed = poll_read(api.tenant)
    assert changed is not None and changed.phase == "loading model" and changed is not first
    assert api.post(f"/ent/v2/tasks/{task_id}/cancel", {}).status_code == 200
    assert api.get(f"/ent/v2/tasks/{task_id}/creations").json()["state"] == "failed"
    assert poll_read("another tenant") is None
    other = api.new_key()
    assert other.get(f"/ent/v2/tasks/{task_id}/creations").status_code == 404


def test_the_memo_keeps_the_most_recently_used_admits_slowly_when_full_and_skips_what_it_cannot_key() -> None:
    made: list[object] = []

    def make(rows: Sequence[tuple[Any, ...]]) -> object:
        made.append(rows)
        return object()

    memo: RowMemo[object] = RowMemo(size=2)
    a, b = [("a", 1)], [("b", 1)]
    first_a = memo.made(a, make)
    assert memo.made([("a", 1)], make) is first_a  # equal values, another list: the same result
    first_b = memo.made(b, make)
    assert memo.made(a, make) is first_a  # a is now the most recently used
    # full: of the next misses only one in ADMIT_EVERY is kept, evicting the least recently used (b)
    others = [[(f"x{n}", 1)] for n in range(ADMIT_EVERY)]
    for rows in others[:-1]:
        memo.made(rows, make)
        assert memo.made(b, make) is first_b and memo.made(a, make) is first_a  # nothing evicted yet
    kept = memo.made(others[-1], make)
    assert len(memo) == 2 and memo.made(others[-1], make) is kept and memo.made(a, make) is first_a
    before = len(made)
    memo.made(b, make)
    assert len(made) == before + 1  # b was evicted: made again
    unkeyable = [("d", {"json": "decoded"})]
    assert memo.made(unkeyable, make) is not memo.made(unkeyable, make)


def test_remembering_polled_tasks_can_be_turned_off(make_api: Callable[..., Api], pair: list[str]) -> None:
    api = make_api(workers=0, poll_memo_tasks=0)
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p"}
    task_id = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    db = api.client.app.state.db  # type: ignore[attr-defined]
    first = task_store.read_task(db, task_id=task_id, tenant=api.tenant)
    again = task_store.read_task(db, task_id=task_id, tenant=api.tenant)
    assert first == again and first is not again and len(db.polled_tasks) == 0


def test_metrics_count_the_polls_read_on_the_loop_and_their_statements(
    pg_url: str,  # noqa: F811  (the fixture imported above)
    make_api: Callable[..., Api],
    pair: list[str],
) -> None:
    api = make_api(workers=1, database_url=pg_url)
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", "prompt": "a pan"}
    task_id = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    api.wait(task_id)

    def counts() -> tuple[float, float]:
        text = api.client.get("/metrics").text
        found = dict(line.split(" ", 1) for line in text.splitlines() if line.startswith("framecast_poll_"))
        return float(found["framecast_poll_reads_total"]), float(found["framecast_poll_statements_total"])

    reads_before, statements_before = counts()
    for _ in range(5):
        assert api.get(f"/ent/v2/tasks/{task_id}/creations").status_code == 200
    reads, statements = counts()
    # one at a time, so one statement each
    assert (reads - reads_before, statements - statements_before) == (5, 5)
