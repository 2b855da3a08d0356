"""The poll path's read (the driver's cursor, ``store/prepared.py``) returns the task the ORM session does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from framecast.store import tasks as task_store
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
        polled = task_store.read_task(db.engine, task_id=task_id, tenant=tenant)
        assert polled is not None and polled == through_session
    polled = task_store.read_task(db.engine, task_id=done, tenant=tenant)
    assert polled is not None and len(polled.creations) == 1
    assert polled.finished_at is not None and polled.finished_at.tzinfo is not None
    stopped = task_store.read_task(db.engine, task_id=cancelled, tenant=tenant)
    assert stopped is not None and stopped.error is not None and not stopped.creations
    assert task_store.read_task(db.engine, task_id=done, tenant="another tenant") is None
    assert task_store.read_task(db.engine, task_id="404", tenant=tenant) is None
