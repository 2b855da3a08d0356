"""The poll path's reads (the driver's cursor, ``store/prepared.py``; awaited on the loop,
``store/async_reads.py``) return the task the ORM session does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from framecast.domain import Task
from framecast.store import tasks as task_store
from framecast.store.async_reads import AsyncReads
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
