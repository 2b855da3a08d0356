"""After a crash (kill -9 of the server and its render process), the data dir goes back to only
what live tasks reference."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import image_bytes
from tests.e2e.test_attempts import framecast, server_with_engines, submit_pair
from tests.e2e.test_restart import Server
from tests.waiting import wait_until


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[Server]:
    catalog = '[models."viduq3-pro"]\nengine = "sleepy"\noptions = { first_s = 600.0 }\n'
    srv = server_with_engines(tmp_path, catalog, lease=2)
    yield srv
    srv.stop()


def swept(server: Server, kind: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    m = re.search(rf'^framecast_swept_total\{{kind="{kind}"\}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_kill_9_mid_render_and_mid_create_leaves_nothing_behind(slow_server: Server) -> None:
    server = slow_server
    data = Path(server.env["FRAMECAST_DATA_DIR"])
    key = framecast(server, "keys", "create", "--quiet")
    headers = {"Authorization": f"Token {key}"}
    server.start()
    task_id = submit_pair(server, key, duration=1)["task_id"]
    work = data / "work"
    scratch = wait_until(lambda: list(work.glob(f"{task_id}-a1-*")), timeout=30, what="the render to start")
    # what a create killed between storing its inputs and committing its row leaves: inputs, no task.
    # One from two hours ago is garbage; one from just now may be a create still in flight.
    inputs = data / "blobs" / "inputs"
    stale, fresh = inputs / "386000000000000001", inputs / "386000000000000002"
    for orphan in (stale, fresh):
        orphan.mkdir(parents=True)
        (orphan / "0.png").write_bytes(image_bytes(64, 36))
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    server.crash()
    assert scratch[0].is_dir() and stale.is_dir()

    server.start()
    assert not stale.exists() and fresh.is_dir() and (inputs / task_id).is_dir()  # swept at start
    # the dead attempt's scratch folder goes once its lease has lapsed (at start if it already has)
    wait_until(lambda: not scratch[0].exists(), timeout=30, what="the dead attempt's scratch to be swept")
    assert swept(server, "scratch") == 1 and swept(server, "inputs") == 1
    # the task itself is not lost: its lease lapses, a new attempt takes it
    wait_until(lambda: list(work.glob(f"{task_id}-a2-*")), timeout=30, what="the second attempt")
    assert httpx.post(
        f"{server.url}/ent/v2/tasks/{task_id}/cancel", headers=headers, json={"id": task_id}, timeout=10
    ).is_success
    wait_until(lambda: not any(work.iterdir()), timeout=30, what="the cancelled attempt to clean up")
    assert sorted(p.name for p in inputs.iterdir()) == sorted([task_id, fresh.name])
