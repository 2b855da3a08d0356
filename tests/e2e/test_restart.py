"""kill -9 the service while tasks are queued and running; after a restart each task finishes exactly once."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import data_uri, image_bytes
from tests.waiting import wait_until

BIN = Path(sys.executable).parent / "framecast"


def _stat(pid: int | str) -> list[str]:
    """State, parent pid, ... of a process, from /proc (Linux, like the CI machines); [] once it is gone."""
    try:
        # after the parenthesised command name, which may itself hold spaces
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def children_of(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").glob("[0-9]*") if _stat(p.name)[1:2] == [str(pid)]]


def alive(pid: int) -> bool:
    """Alive: not gone, and not a zombie waiting for a parent (a container's init may never reap it)."""
    return _stat(pid)[:1] not in ([], ["Z"], ["X"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Subprocess:
    """A service the test runs as a real process, with its log, a kill -9 and a graceful stop."""

    proc: subprocess.Popen[bytes] | None
    log: Path
    stop_grace = 10.0  # seconds a graceful stop may take before it becomes a kill
    start_timeout = 30.0  # seconds to wait for /healthz (bench/ raises it on a busy machine)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def kill(self) -> None:
        """kill -9 the process itself (its render process then notices and exits on its own)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def crash(self) -> None:
        """Everything dies at once, as when the machine loses power: no process cleans up after itself."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)  # so it starts no new render process meanwhile
        for child in children_of(self.proc.pid):
            os.kill(child, signal.SIGKILL)
        self.kill()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Server(Subprocess):
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "FRAMECAST_DATA_DIR": str(data_dir),
            "FRAMECAST_LEASE_SECONDS": "2",
            "FRAMECAST_WORKERS": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / "server.log"
        self.log_level = "warning"
        self.serve_args: list[str] = []  # more `framecast serve` options
        self.start_timeout = 30.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def submit(self, key: str, n: int, *, seed: int, **fields: Any) -> list[str]:
        """``n`` Vidu first/last tasks, each on a new connection; returns their ids."""
        images = [
            data_uri(image_bytes(320, 180, seed=seed)),
            data_uri(image_bytes(320, 180, seed=seed, shift=10)),
        ]
        ids = []
        for _ in range(n):
            resp = httpx.post(
                f"{self.url}/ent/v2/start-end2video",
                headers={"Authorization": f"Token {key}"},
                timeout=30,
                json={"model": "viduq3-pro", "images": images, **fields},
            )
            assert resp.status_code == 200, resp.text
            ids.append(resp.json()["task_id"])
        return ids

    def states(self, key: str, ids: list[str]) -> list[str]:
        headers = {"Authorization": f"Token {key}"}
        return [
            httpx.get(f"{self.url}/ent/v2/tasks/{i}/creations", headers=headers, timeout=10).json()["state"]
            for i in ids
        ]

    def start(self, *, may_die: bool = False) -> None:
        """Start and wait until healthy; with ``may_die``, a process that exits meanwhile is fine too."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(BIN),
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    self.log_level,
                    *self.serve_args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = self.proc

        def ready() -> bool:
            if may_die and proc.poll() is not None:
                return True
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(ready, self.start_timeout, what="the server to answer /healthz", poll=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; server log:\n{self.log_tail(2000)}") from None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    yield srv
    srv.stop()


def test_kill_9_and_restart_finishes_every_task_once(server: Server) -> None:
    key = subprocess.run(
        [str(BIN), "keys", "create", "--quiet"], env=server.env, check=True, capture_output=True, text=True
    ).stdout.strip()
    headers = {"Authorization": f"Token {key}"}
    server.start()
    ids = server.submit(key, 3, seed=5, duration=3, resolution="1080p")

    def states() -> list[str]:
        return server.states(key, ids)

    wait_until(lambda: "processing" in states(), 60, what="a task to start")
    running = ids[states().index("processing")]

    def progress(task_id: str) -> int:
        return int(
            httpx.get(f"{server.url}/v1/tasks/{task_id}", headers=headers, timeout=10).json()["progress"]
        )

    # killed mid-render, not before the first frame
    wait_until(lambda: progress(running) > 0, 60, what="the running task to make progress")
    before = states()
    assert "processing" in before and before.count("queueing") >= 1
    assert server.proc is not None
    renderers = children_of(server.proc.pid)
    assert len(renderers) == 1, renderers  # the render process that runs the task
    server.kill()
    # with its server gone it hands the task back and exits, rather than render for nobody
    wait_until(lambda: not any(map(alive, renderers)), 30, what="it to exit")

    server.start()

    def all_finished() -> list[str] | None:
        current = states()
        return current if all(s in ("success", "failed") for s in current) else None

    current = wait_until(all_finished, 240, what="every task to finish", poll=0.2)
    assert current == ["success"] * 3
    # handed back by its render process, not found by its lapsed lease: no attempt counted as lost
    task = httpx.get(f"{server.url}/v1/tasks/{running}", headers=headers, timeout=10).json()
    assert task["attempt"] == 2 and task["lost_attempts"] == 0, task
    blobs = Path(server.env["FRAMECAST_DATA_DIR"]) / "blobs" / "tasks"
    for task_id in ids:
        body = httpx.get(f"{server.url}/ent/v2/tasks/{task_id}/creations", headers=headers, timeout=10).json()
        assert len(body["creations"]) == 1
        assert httpx.get(body["creations"][0]["url"], timeout=10).status_code == 200
        # exactly one attempt's output was kept
        assert len([p for p in (blobs / task_id).iterdir() if p.is_dir()]) == 1


def test_first_start_prints_a_key_once(server: Server) -> None:
    server.start()
    server.stop()
    first = server.log.read_text()
    keys = re.findall(r"fc-[A-Za-z0-9_-]{20,}", first)
    assert len(keys) == 1, first
    server.start()
    try:
        auth = {"Authorization": f"Token {keys[0]}"}
        resp = httpx.get(f"{server.url}/ent/v2/tasks", headers=auth, timeout=10)
        assert resp.status_code == 200 and resp.json()["tasks"] == []
    finally:
        server.stop()
    assert re.findall(r"fc-[A-Za-z0-9_-]{20,}", server.log.read_text()) == keys  # not printed again
