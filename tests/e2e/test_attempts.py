"""A task that kills its worker on every attempt fails after FRAMECAST_MAX_ATTEMPTS, refunded."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import data_uri, image_bytes
from tests.e2e.test_restart import BIN, Server
from tests.jobs.engines import install
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
MAX_ATTEMPTS = 3


def server_with_engines(tmp_path: Path, catalog: str, lease: float) -> Server:
    """A server whose catalog maps models to the test-only engines (installed as a plugin package)."""
    site = install(tmp_path / "site")
    (tmp_path / "catalog.toml").write_text(catalog)
    srv = Server(tmp_path / "data")
    srv.log_level = "info"  # a failure shows what each server did: claims, requeues, abandonment
    srv.env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
            "FRAMECAST_CATALOG_FILE": str(tmp_path / "catalog.toml"),
            "FRAMECAST_LEASE_SECONDS": str(lease),
            "FRAMECAST_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        }
    )
    return srv


@pytest.fixture
def crashing_server(tmp_path: Path) -> Iterator[Server]:
    srv = server_with_engines(tmp_path, '[models."viduq3-pro"]\nengine = "crasher"\n', lease=1)
    yield srv
    srv.stop()


def framecast(server: Server, *args: str) -> str:
    return subprocess.run(
        [str(BIN), *args], env=server.env, check=True, capture_output=True, text=True
    ).stdout.strip()


def submit_pair(server: Server, key: str, duration: int) -> dict[str, Any]:
    """Create a first/last task on the running server (540p, the model the test catalog remaps)."""
    pair = [data_uri(image_bytes(320, 180, seed=5)), data_uri(image_bytes(320, 180, seed=5, shift=10))]
    resp = httpx.post(
        f"{server.url}/ent/v2/start-end2video",
        headers={"Authorization": f"Token {key}"},
        timeout=30,
        json={"model": "viduq3-pro", "images": pair, "duration": duration, "resolution": "540p"},
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_a_task_that_kills_its_server_every_time_fails_after_max_attempts(crashing_server: Server) -> None:
    """Worker threads in the server process (FRAMECAST_WORKER_PROCESS=false): the crash takes the server
    down, and each restart (by the operator, here the test) reaps the lapsed lease."""
    server = crashing_server
    server.env["FRAMECAST_WORKER_PROCESS"] = "false"
    key = framecast(server, "keys", "create", "--quiet", "--credits", "1000")
    token = {"Authorization": f"Token {key}"}
    server.start()
    created = submit_pair(server, key, duration=2)
    task_id = created["task_id"]
    assert created["credits"] > 0

    def state() -> str:
        return str(httpx.get(f"{server.url}/v1/tasks/{task_id}", headers=token, timeout=10).json()["state"])

    deaths = 0
    while True:
        assert server.proc is not None
        # the engine kills the server as soon as it claims the task; a new one reaps the lapsed lease
        try:
            wait_until(
                lambda: server.proc.poll() is not None, timeout=120, what="the engine to kill the server"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; after {deaths} deaths; server log:\n{server.log_tail()}") from None
        deaths += 1
        assert deaths <= MAX_ATTEMPTS, "the task was retried past its attempts"
        server.start(may_die=deaths < MAX_ATTEMPTS)
        if deaths == MAX_ATTEMPTS:
            break
    wait_until(lambda: state() == "failed", timeout=60, what="the abandoned task to fail")
    assert server.proc is not None and server.proc.poll() is None  # not claimed a fourth time
    assert_abandoned(server, key, task_id)


def test_a_task_that_kills_its_render_process_every_time_fails_and_the_server_stays_up(
    crashing_server: Server,
) -> None:
    """The default: the crash takes down the render process only; the server restarts it itself."""
    server = crashing_server
    key = framecast(server, "keys", "create", "--quiet", "--credits", "1000")
    token = {"Authorization": f"Token {key}"}
    server.start()
    created = submit_pair(server, key, duration=2)
    task_id = created["task_id"]

    def state() -> str:
        return str(httpx.get(f"{server.url}/v1/tasks/{task_id}", headers=token, timeout=10).json()["state"])

    try:
        wait_until(lambda: state() == "failed", timeout=180, what="the abandoned task to fail")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; server log:\n{server.log_tail()}") from None
    assert server.proc is not None and server.proc.poll() is None  # the API never went down
    log = server.log_tail(100_000)
    assert log.count("exited (code -9); starting another") == MAX_ATTEMPTS, log  # restarted each time
    # and a render process is up again, healthy, for the next task
    wait_until(
        lambda: httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200, 60, what="a healthy server"
    )
    assert_abandoned(server, key, task_id)


def assert_abandoned(server: Server, key: str, task_id: str) -> None:
    """The task failed after MAX_ATTEMPTS lost workers, refunded, and every dialect says so."""
    token = {"Authorization": f"Token {key}"}
    bearer = {"Authorization": f"Bearer {key}"}
    task = httpx.get(f"{server.url}/v1/tasks/{task_id}", headers=token, timeout=10).json()
    assert task["attempt"] == MAX_ATTEMPTS and task["lost_attempts"] == MAX_ATTEMPTS
    assert task["error"]["code"] == "internal"
    assert f"abandoned {MAX_ATTEMPTS} times" in task["error"]["message"]
    assert task["worker"]  # the last worker that had it

    credits = httpx.get(f"{server.url}/ent/v2/credits", headers=token, timeout=10).json()
    assert credits["remains"][0]["credit_remain"] == 1000, credits  # the charge was refunded

    # every dialect reads it as failed, in its own words; those with a message field carry the reason
    queries = {
        "vidu": (f"/ent/v2/tasks/{task_id}/creations", {}, token),
        "openai": (f"/v1/videos/{task_id}", {}, bearer),
        "newapi": (f"/v1/video/generations/{task_id}", {}, bearer),
        "kling": (f"/v1/videos/image2video/{task_id}", {}, bearer),
        "qianfan": ("/beta/video/generations/qianfan-video", {"task_id": task_id}, bearer),
        "baicai": (f"/v1/comfyui/tasks/{task_id}/status", {}, bearer),
    }
    for dialect, (path, params, headers) in queries.items():
        r = httpx.get(f"{server.url}{path}", params=params, headers=headers, timeout=10)
        assert r.status_code == 200, (dialect, r.text)
        text = r.text.lower()
        assert "fail" in text, (dialect, r.text)
        if dialect in ("vidu", "qianfan"):  # Vidu's shapes carry a code and no message
            assert r.json()["err_code"] == "InternalServiceFailure", r.text
        else:
            assert f"abandoned {MAX_ATTEMPTS} times" in text, (dialect, r.text)

    shown = framecast(server, "tasks", "show", task_id, "--server", server.url, "--key", key)
    assert f"{MAX_ATTEMPTS} (workers lost: {MAX_ATTEMPTS})" in shown, shown
