"""`framecast worker` without a broker: the tasks of a `framecast serve` that runs no workers are rendered
by a process of their own, claiming from the same database; SIGTERM hands a running task back."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_restart import BIN, Server, Subprocess
from tests.waiting import wait_until


class Worker(Subprocess):
    def __init__(self, server: Server, *args: str) -> None:
        self.env = dict(server.env)
        self.log = server.log.parent / "worker.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN), "worker", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    srv.env["FRAMECAST_WORKERS"] = "0"  # the API alone
    yield srv
    srv.stop()


def _key(server: Server) -> str:
    return subprocess.run(
        [str(BIN), "keys", "create", "--quiet"], env=server.env, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_worker_process_renders_what_the_api_queues(server: Server) -> None:
    key = _key(server)
    server.start()
    ids = server.submit(key, 2, seed=4, duration=1, resolution="540p")
    assert set(server.states(key, ids)) == {"queueing"}  # the API runs nothing itself
    worker = Worker(server, "--concurrency", "2")
    try:
        wait_until(lambda: set(server.states(key, ids)) == {"success"}, 180, what="both tasks to succeed")
        headers = {"Authorization": f"Token {key}"}
        for task_id in ids:
            body = httpx.get(
                f"{server.url}/ent/v2/tasks/{task_id}/creations", headers=headers, timeout=10
            ).json()
            assert httpx.get(body["creations"][0]["url"], timeout=10).status_code == 200
        with sqlite3.connect(server.env["FRAMECAST_DATA_DIR"] + "/framecast.db") as db:
            workers = {w for (w,) in db.execute("SELECT worker FROM tasks").fetchall()}
        assert worker.proc is not None
        assert all(w.split(":")[1] == str(worker.proc.pid) for w in workers), workers
    finally:
        worker.stop()
    assert worker.proc.returncode == 0, worker.log_tail()


def test_sigterm_hands_the_running_task_back(server: Server) -> None:
    key = _key(server)
    server.start()
    [task_id] = server.submit(key, 1, seed=6, duration=5, resolution="1080p")
    worker = Worker(server)
    try:
        wait_until(lambda: server.states(key, [task_id]) == ["processing"], 120, what="the task to start")
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(30) == 0, worker.log_tail()
    finally:
        worker.stop()
    # back in the queue without spending an attempt, and a new worker finishes it
    assert server.states(key, [task_id]) == ["queueing"]
    again = Worker(server)
    try:
        wait_until(lambda: server.states(key, [task_id]) == ["success"], 240, what="the task to finish")
    finally:
        again.stop()
    with sqlite3.connect(server.env["FRAMECAST_DATA_DIR"] + "/framecast.db") as db:
        [(attempt,)] = db.execute("SELECT attempt FROM tasks WHERE id = ?", (task_id,)).fetchall()
    assert attempt == 2  # the handed-back attempt counted as a claim, not as a worker lost


def test_models_need_a_broker(server: Server) -> None:
    res = subprocess.run(
        [str(BIN), "worker", "--models", "viduq3-pro"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "--models needs distributed mode" in res.stdout + res.stderr
