"""The native task routes: the SSE stream of a task and GET /v1/tasks/{id}."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlsplit

import anyio

from framecast import events
from framecast.domain import Principal
from tests.conftest import Api

ORDER = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln and not ln.startswith(":")]
        if not lines:
            continue
        fields = dict(ln.split(": ", 1) for ln in lines)
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def submit(api: Api, pair: list[str], **extra: Any) -> str:
    body = {"model": "viduq3-pro", "images": pair, "duration": 2, "resolution": "540p", **extra}
    resp = api.post("/ent/v2/start-end2video", body)
    assert resp.status_code == 200, resp.text
    task_id: str = resp.json()["task_id"]
    return task_id


def test_stream_follows_a_task_to_success(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    api.client.app.state.events.poll_seconds = 0.02  # type: ignore[attr-defined]
    task_id = submit(api, pair)
    with api.client.stream("GET", f"/v1/tasks/{task_id}/events", headers=api.headers("Bearer")) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in resp.headers["cache-control"]
        text = "".join(resp.iter_text())
    evs = parse_sse(text)
    assert all(name == "state" for name, _ in evs)
    states = [data["state"] for _, data in evs]
    progress = [data["progress"] for _, data in evs]
    assert [ORDER[s] for s in states] == sorted(ORDER[s] for s in states)
    assert progress == sorted(progress)
    assert states[-1] == "succeeded" and progress[-1] == 100
    assert len(evs) >= 3  # queued or running first, some progress, then the end
    assert evs[-1][1] == {"id": task_id, "state": "succeeded", "progress": 100, "phase": "", "error": None}
    phases = [data["phase"] for _, data in evs if data["state"] == "running"]
    assert "generating" in phases, phases
    # consecutive events differ: only changes are sent
    assert all(a[1] != b[1] for a, b in itertools.pairwise(evs))


def test_stream_of_finished_task_is_one_event(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    task_id = submit(api, pair, duration=1)
    api.wait(task_id)
    resp = api.get(f"/v1/tasks/{task_id}/events")
    assert [d["state"] for _, d in parse_sse(resp.text)] == ["succeeded"]


def test_cancelled_task_ends_the_stream_with_keepalives_between(api: Api, pair: list[str]) -> None:
    app = api.client.app
    app.state.events.poll_seconds = 0.01  # type: ignore[attr-defined]
    app.state.events.keepalive_seconds = 0.05  # type: ignore[attr-defined]
    task_id = submit(api, pair)  # no workers: it stays queued until cancelled

    lines: list[str] = []
    with api.client.stream("GET", f"/v1/tasks/{task_id}/events", headers=api.headers("Bearer")) as resp:
        for line in resp.iter_lines():
            lines.append(line)
            if line.startswith(": keep-alive") and lines.count(line) == 2:
                # two keep-alives seen while queued: now cancel, and the stream must end on its own
                assert api.post(f"/ent/v2/tasks/{task_id}/cancel", {}).status_code == 200
    text = "\n".join(lines) + "\n"
    assert ": keep-alive" in text
    evs = parse_sse(text)
    assert [d["state"] for _, d in evs] == ["queued", "cancelled"]
    assert evs[-1][1]["error"]["reason"] == "UserCancelled"


def test_other_tenant_and_unknown_ids_answer_404(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    task_id = submit(api, pair, duration=1)
    other = api.new_key()
    for path in (f"/v1/tasks/{task_id}/events", f"/v1/tasks/{task_id}", "/v1/tasks/123/events"):
        resp = other.get(path)
        assert resp.status_code == 404, path
        err = resp.json()["error"]
        assert err["code"] == "not_found" and "not found" in err["message"]
    unauth = api.client.get(f"/v1/tasks/{task_id}/events")
    assert unauth.status_code == 401
    assert unauth.json()["error"]["code"] == "unauthorized"


def test_get_task_has_signed_creations(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    task_id = submit(api, pair, duration=1, watermark=True)
    queued = api.get(f"/v1/tasks/{task_id}").json()
    assert queued["id"] == task_id
    if queued["state"] != "succeeded":
        assert queued["creations"] == []
    api.wait(task_id)
    body = api.get(f"/v1/tasks/{task_id}").json()
    assert body["state"] == "succeeded" and body["progress"] == 100 and body["error"] is None
    assert body["model"] == "viduq3-pro" and body["kind"] == "first_last"
    (c,) = body["creations"]
    assert (c["width"], c["height"], c["fps"], c["duration"]) == (960, 540, 24, 1.0)
    for key in ("url", "cover_url", "watermarked_url"):
        parts = urlsplit(c[key])
        assert api.client.get(f"{parts.path}?{parts.query}").status_code == 200


def test_stream_stops_when_the_client_goes_away(api: Api, pair: list[str]) -> None:
    task_id = submit(api, pair)
    svc = api.client.app.state.service  # type: ignore[attr-defined]
    task = svc.get(Principal(key_id="", tenant=api.tenant, token=""), task_id)

    class GoneRequest:
        async def is_disconnected(self) -> bool:
            return True

    async def run() -> list[bytes]:
        config = events.EventsConfig(poll_seconds=0.0)
        gen = events._stream(GoneRequest(), svc, Principal("", api.tenant, ""), task, config)  # type: ignore[arg-type]
        return [chunk async for chunk in gen]

    chunks = anyio.run(run)
    assert len(chunks) == 1 and chunks[0].startswith(b"event: state\n")
