"""The same store on PostgreSQL (the distributed mode's database): migrations, the claim race, a real task."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import glob
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from framecast.store import tasks as task_store
from tests.conftest import Api
from tests.waiting import wait_until

ADMIN_URL = os.environ.get("FRAMECAST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _reachable() -> bool:
    engine = create_engine(ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()  # a pooled connection left to the garbage collector is a ResourceWarning


def _start_postgres() -> None:
    """Tests that need a service start it if it is down (the local cluster, as the machine's docs say)."""
    versions = [Path(p).name for p in glob.glob("/etc/postgresql/*")]
    if versions:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "start"],
            check=False,
            capture_output=True,
            timeout=60,
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not _reachable():
        _start_postgres()
        with contextlib.suppress(AssertionError):
            wait_until(_reachable, 20, what="PostgreSQL to accept connections", poll=0.5)
    if not _reachable():
        pytest.skip("no PostgreSQL server reachable")
    name = f"framecast_test_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_api(pg_url: str, make_api: Callable[..., Api]) -> Callable[..., Api]:
    """Builds apps on the fresh PostgreSQL database, with the given settings."""
    return functools.partial(make_api, database_url=pg_url)


def test_task_runs_end_to_end_on_postgres(pg_api: Callable[..., Api], pair: list[str]) -> None:
    api = pg_api(workers=1)
    request = {
        "model": "viduq3-pro",
        "images": pair,
        "duration": 1,
        "resolution": "540p",
        "client_request_id": "pg-1",
    }
    created = api.post("/ent/v2/start-end2video", request).json()
    again = api.post("/ent/v2/start-end2video", request).json()
    assert again["task_id"] == created["task_id"]
    body = api.wait(created["task_id"])
    assert body["state"] == "success" and len(body["creations"]) == 1
    listed = api.get("/ent/v2/tasks", params={"states": "success"}).json()["tasks"]
    assert [t["id"] for t in listed] == [created["task_id"]]


def test_concurrent_claims_take_each_task_once(pg_api: Callable[..., Api], pair: list[str]) -> None:
    api = pg_api(workers=0)
    request = {"model": "viduq3-pro", "images": pair, "duration": 1}
    ids = {api.post("/ent/v2/start-end2video", request).json()["task_id"] for _ in range(12)}
    db = api.client.app.state.db  # type: ignore[attr-defined]

    def claim_all(worker: str) -> list[str]:
        got = []
        while True:
            with db.session() as s:
                claimed = task_store.claim_next(s, worker=worker, lease_seconds=30)
            if claimed is None:
                return got
            got.append(claimed[0])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(claim_all, ["w1", "w2", "w3", "w4"]))
    claimed = [task_id for r in results for task_id in r]
    assert sorted(claimed) == sorted(ids)  # every task once, none twice
