"""The render process: the embedded worker threads in a child process the server starts, wakes, counts
the metrics of and restarts."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from framecast.jobs.process import RenderProcess
from tests.conftest import Api, data_uri, image_bytes
from tests.waiting import wait_until

PAIR = [data_uri(image_bytes(256, 144, seed=3)), data_uri(image_bytes(256, 144, seed=3, shift=12))]


def submit(api: Api) -> str:
    resp = api.post(
        "/ent/v2/start-end2video",
        json={"model": "viduq3-pro", "images": PAIR, "duration": 1, "resolution": "540p"},
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["task_id"])


def healthy(api: Api) -> bool:
    return bool(api.client.get("/healthz").status_code == 200)


def started(make_api: Callable[..., Api]) -> tuple[Api, RenderProcess]:
    """An app whose one worker thread runs in a render process, once that process reports ready."""
    api = make_api(workers=1, worker_process=True)
    runner = api.client.app.state.runner  # type: ignore[attr-defined]
    assert isinstance(runner, RenderProcess)
    wait_until(lambda: healthy(api), 60, what="the render process to report ready")
    return api, runner


def metric(api: Api, prefix: str) -> float:
    """The sum of the /metrics samples whose line starts with ``prefix``."""
    lines = api.client.get("/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))


def test_tasks_render_in_a_child_process_and_its_metrics_reach_the_server(
    make_api: Callable[..., Api],
) -> None:
    api, runner = started(make_api)
    child = runner.pid
    assert child is not None and child != os.getpid()

    task_id = submit(api)
    body = api.wait(task_id, timeout=120)
    assert body["state"] == "success", body
    task: dict[str, Any] = api.get(f"/v1/tasks/{task_id}").json()
    assert f":{child}:" in task["worker"]  # claimed by the child, not by this process

    # the runner's observations crossed the pipe into the server's registry
    counted = 'framecast_task_duration_seconds_count{model="viduq3-pro",state="succeeded"}'
    wait_until(
        lambda: metric(api, counted) == 1,
        30,
        what="the task's duration to be counted in /metrics",
    )
    assert metric(api, 'framecast_engine_frames_total{engine="builtin"}') > 0


def test_a_killed_render_process_is_replaced_and_the_next_task_runs(make_api: Callable[..., Api]) -> None:
    api, runner = started(make_api)
    first = runner.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)

    wait_until(lambda: runner.pid != first and healthy(api), 60, what="a new render process to be ready")
    assert runner.restarts == 1
    assert metric(api, "framecast_render_process_restarts_total") == 1  # an operator can alert on it
    body = api.wait(submit(api), timeout=120)
    assert body["state"] == "success", body


def test_stopping_the_server_stops_its_render_process(make_api: Callable[..., Api]) -> None:
    _, runner = started(make_api)
    child = runner._proc
    assert child is not None
    runner.stop()
    assert child.returncode == 0  # it stopped on SIGTERM, handing back what it ran, not killed
    assert runner.restarts == 0
