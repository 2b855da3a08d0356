"""GET one task answered past FastAPI's routing (poll_path.py) answers exactly as the full stack does."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from framecast import poll_path
from framecast.dialects.deps import CallerDep, caller_of
from framecast.poll_path import PollFastPath, poll_route
from framecast.service import TaskService
from tests.conftest import Api

# every route marked poll_route, as a client addresses a task in its dialect
POLL_PATHS = (
    "/ent/v2/tasks/{id}/creations",
    "/v1/videos/video_{id}",
    "/v1/video/generations/task_{id}",
    "/v1/comfyui/tasks/{id}/status",
    "/v1/comfyui/tasks/{id}/result",
    "/beta/video/generations/qianfan-video?task_id={id}",
    "/v1/videos/omni-video/{id}",
    "/v1/videos/image2video/{id}",
    "/v1/tasks/{id}",
)
# what differs between two answers of one request: per-request ids, times and the links' expiry second
_PER_REQUEST = re.compile(r'("(?:trace_id|request_id|log_id|ts)": ?)"[^"]*"|expires=\d+&sig=[\w-]+')


def _answer(api: Api, path: str, scheme: str) -> tuple[int, str, str]:
    resp = api.get(path, scheme=scheme)
    return resp.status_code, resp.headers["content-type"], _PER_REQUEST.sub(r"\1", resp.text)


def _answers(api: Api, task_id: str, other: Api) -> list[tuple[int, str, str]]:
    out = []
    for template in POLL_PATHS:
        for path in (template.format(id=task_id), template.format(id="404404")):
            out.append(_answer(api, path, "Bearer"))
            out.append(_answer(other, path, "Bearer"))  # another tenant: not found
        out.append(_answer(Api(api.client, "no-such-key", ""), template.format(id=task_id), "Bearer"))
    return out


def test_every_poll_route_answers_as_the_full_stack_does(
    api_with_workers: Api, pair: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = api_with_workers
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p"}
    task_id = api.post("/ent/v2/start-end2video", body).json()["task_id"]
    assert api.wait(task_id)["state"] == "success"
    other = api.new_key()

    served: list[str] = []

    async def counting_caller_of(request: Any) -> Any:
        served.append(request.url.path)
        return await caller_of(request)

    monkeypatch.setattr(poll_path, "caller_of", counting_caller_of)
    fast = _answers(api, task_id, other)
    assert len(served) == len(fast)  # each one answered by the fast path
    monkeypatch.setattr(PollFastPath, "_match", lambda self, path: None)  # every GET through FastAPI
    full = _answers(api, task_id, other)

    assert fast == full
    statuses = sorted({status for status, _, _ in fast})
    assert statuses == [200, 401, 404], statuses
    # the successful answers carry signed links to the video
    assert sum("/files/" in text for status, _, text in fast if status == 200) >= 5


def test_a_route_that_shadows_a_poll_route_still_wins(api: Api) -> None:
    # OpenAI's GET /v1/videos/{video_id} is a poll route, but Kling's list comes first in the app's order
    resp = api.get("/v1/videos/omni-video", scheme="Bearer")
    assert resp.status_code == 200, resp.text
    assert resp.json()["code"] == 0 and resp.json()["data"] == []


def test_an_unexpected_error_is_answered_by_the_full_stack(
    api: Api, pair: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    task_id = api.post("/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair}).json()["task_id"]

    async def broken(self: TaskService, *args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(TaskService, "poll", broken)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR):
        resp = client.get(f"/ent/v2/tasks/{task_id}/creations", headers=api.headers())
    assert resp.status_code == 500
    assert "disk on fire" not in resp.text and resp.json()["reason"] == "InternalServiceFailure", resp.text
    assert "disk on fire" in caplog.text  # logged once, by the app's handler
    assert caplog.text.count("unhandled error") == 1


def test_a_poll_route_that_needs_fastapi_is_refused() -> None:
    app = FastAPI()
    app.add_middleware(PollFastPath, routes=lambda: app.router.routes)

    @app.get("/tasks/{task_id}")
    @poll_route
    async def with_a_query(task_id: str, caller: CallerDep, limit: int = 1) -> Any:
        raise AssertionError("never called")

    with TestClient(app) as client, pytest.raises(TypeError, match="string parameters"):
        client.get("/tasks/1")
