"""`framecast serve --workers 2`: two processes share the port, both run worker pools on one SQLite
database, and the claim's compare-and-swap still runs every task exactly once."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_restart import BIN, Server
from tests.waiting import wait_until


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    yield srv
    srv.stop()  # SIGTERM: uvicorn's parent process stops its children


def test_two_server_processes_serve_and_run_each_task_once(server: Server) -> None:
    server.serve_args = ["--workers", "2"]
    server.log_level = "info"  # the log names each process and each claim
    # a lease long enough that a busy machine's late heartbeat never hands a task to the other process
    server.env["FRAMECAST_LEASE_SECONDS"] = "30"
    server.start_timeout = 120.0  # two processes import the engines at once: slow on a busy machine
    key = subprocess.run(
        [str(BIN), "keys", "create", "--quiet"], env=server.env, check=True, capture_output=True, text=True
    ).stdout.strip()
    server.start()
    wait_until(
        lambda: len(re.findall(r"Application startup complete", server.log_tail(100_000))) == 2,
        120,
        what="both server processes to start",
    )
    # each on a new connection: the kernel hands connections to either process
    ids = server.submit(key, 8, seed=3, duration=1, resolution="540p")
    wait_until(lambda: set(server.states(key, ids)) == {"success"}, 180, what="every task to succeed")
    with sqlite3.connect(server.env["FRAMECAST_DATA_DIR"] + "/framecast.db") as db:
        rows = db.execute(
            f"SELECT id, attempt, worker FROM tasks WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        creations = dict(db.execute("SELECT task_id, count(*) FROM creations GROUP BY task_id").fetchall())
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert all(attempt == 1 for _, attempt, _ in rows), rows  # claimed once: no second attempt
    assert all(creations.get(i) == 1 for i in ids), creations  # one set of results per task
    pids = {worker.split(":")[1] for _, _, worker in rows}
    assert len(pids) == 2, f"every task ran in one process: {rows}"  # both processes' pools claimed
    assert len(set(re.findall(r"Started server process \[(\d+)\]", server.log_tail(100_000)))) == 2
