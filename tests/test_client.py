"""framecast.Client and AsyncClient: in-process against the app, against a real server for live
SSE, and against httpx.MockTransport for the error paths."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import av
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

import framecast
from framecast import client as fc
from framecast.app import create_app
from framecast.client._client import image_to_wire
from framecast.store.keys import create_key
from tests.conftest import Api, image_bytes, make_settings
from tests.waiting import wait_until


@dataclass
class Live:
    url: str
    token: str
    app: FastAPI


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A real uvicorn server in a thread: the only way to see SSE events arrive one by one."""
    app = create_app(make_settings(tmp_path_factory.mktemp("live"), workers=1))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), 10, what="the server to start", poll=0.01)
    assert server.started, "server did not start"
    with app.state.db.session() as s:
        _, token = create_key(s, name="live")
    yield Live(f"http://127.0.0.1:{port}", token, app)
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(image_bytes(seed=1))
    b.write_bytes(image_bytes(seed=1, shift=12))
    return a, b


class ViaTestClient(httpx.BaseTransport):
    """httpx transport over Starlette's TestClient, which runs the app's lifespan and streams
    responses (Starlette's TestClient is built on its own httpx fork, so it is not a transport)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        cm = self.client.stream(request.method, str(request.url), headers=headers, content=request.read())
        resp = cm.__enter__()

        class Body(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                yield from resp.iter_raw()

            def close(self) -> None:
                cm.__exit__(None, None, None)

        return httpx.Response(resp.status_code, headers=list(resp.headers.multi_items()), stream=Body())


def in_process(api: Api, key: str = "") -> fc.Client:
    return fc.Client("http://testserver", key or api.token, transport=ViaTestClient(api.client))


def frames_of(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


# --- in-process --------------------------------------------------------------------------------


def test_sync_client_end_to_end(api_with_workers: Api, images: tuple[Path, Path], tmp_path: Path) -> None:
    seen: list[fc.TaskEvent] = []
    with in_process(api_with_workers) as client:
        created = client.create_first_last(
            images[0], images[1].read_bytes(), prompt="slow push in", duration=1, resolution="540p",
            seed=5, watermark=True,
        )  # fmt: skip
        assert created.state is fc.TaskState.QUEUED and created.model == "viduq3-pro"
        task = client.wait(created.id, timeout=60, on_progress=seen.append)
        assert task.state is fc.TaskState.SUCCEEDED and task.progress == 100 and task.err_code == ""
        (c,) = task.creations
        assert (c.width, c.height, c.fps, c.duration) == (960, 540, 24, 1.0)
        assert c.watermarked_url
        assert seen[-1].state is fc.TaskState.SUCCEEDED
        assert client.get(created.id) == task
        video = client.download(task, tmp_path / "out" / "v.mp4")
        assert frames_of(video) == 24
        cover = client.download(created.id, tmp_path / "c.jpg", variant="cover")
        assert cover.read_bytes()[:2] == b"\xff\xd8"
        assert client.download(task, tmp_path / "w.mp4", variant="watermarked").stat().st_size > 0
        assert not list(tmp_path.rglob("*.part"))
        assert [t.id for t in client.list(states=["succeeded"])] == [created.id]


def test_list_pages_and_state_filter(api: Api, pair: list[str]) -> None:
    with in_process(api) as client:
        ids = [client.create_image(pair[0], duration=1, resolution="540p").id for _ in range(5)]
        listed = list(client.list(page_size=2))
        assert [t.id for t in listed] == ids[::-1]  # newest first, across three pages
        client.cancel(ids[0])
        assert [t.id for t in client.list(states=["cancelled"])] == [ids[0]]
        assert [t.err_code for t in client.list(states=["cancelled"])] == ["UserCancelled"]
        assert len(list(client.list(states=["queued"], page_size=100))) == 4
        assert list(client.list(states=["failed"])) == []  # cancelled is not failed, though Vidu says so
        with pytest.raises(fc.InvalidRequestError) as err:
            client.cancel(ids[0])
        assert err.value.status_code == 400 and "can not cancel" in err.value.message


def test_service_errors_become_typed_exceptions(api: Api, images: tuple[Path, Path]) -> None:
    with in_process(api) as client:
        with pytest.raises(fc.NotFoundError) as nf:
            client.get("123")
        assert nf.value.code == "TaskNotFound" and nf.value.status_code == 404 and nf.value.trace_id
        with pytest.raises(fc.InvalidRequestError) as bad:
            client.create_first_last(images[0], images[1], duration=99)
        assert bad.value.code == "FieldInvalid" and "duration" in bad.value.message
        with pytest.raises(fc.InvalidRequestError) as unavailable:
            client.create_text("a cat on a skateboard")
        assert unavailable.value.code == "ModelUnavailable"
    with in_process(api, "fc-wrong") as wrong:
        with pytest.raises(fc.AuthenticationError) as auth:
            wrong.get("123")
        assert auth.value.code == "Unauthorized" and "invalid" in auth.value.message
        with pytest.raises(fc.AuthenticationError):
            wrong.wait("123")  # on the event stream too


def test_async_client_in_process(api_with_workers: Api, pair: list[str], tmp_path: Path) -> None:
    app = api_with_workers.client.app  # the TestClient above runs its lifespan (database, workers)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with fc.AsyncClient("http://testserver", api_with_workers.token, transport=transport) as client:
            created = await client.create_image(pair[0], duration=1, resolution="540p")
            task = await client.wait(created.id, timeout=60)
            assert task.state is fc.TaskState.SUCCEEDED
            path = await client.download(task, tmp_path / "a.mp4")
            assert frames_of(path) == 24
            assert [t.id async for t in client.list(states=["succeeded"], page_size=1)] == [created.id]
            long = await client.create_first_last(pair[0], pair[1], duration=16, resolution="1080p")
            await client.cancel(long.id)
            with pytest.raises(fc.TaskFailed) as failed:
                await client.wait(long.id, timeout=60)
            assert failed.value.err_code == "UserCancelled"
            assert failed.value.task.state is fc.TaskState.CANCELLED
            assert "cancelled by the user" in failed.value.message
            with pytest.raises(fc.NotFoundError):
                await client.get("42")

    anyio.run(main)


class Drop(httpx.BaseTransport):
    """Delegates to the app but answers some paths itself, like a proxy in the way would."""

    def __init__(self, inner: httpx.BaseTransport, *, events: bool, native: bool) -> None:
        self.inner, self.events, self.native = inner, events, native

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if self.events and path.endswith("/events"):
            return httpx.Response(502, text="<html>bad gateway</html>")
        if self.native and path.startswith("/v1/"):
            return httpx.Response(404, json={"detail": "Not Found"})
        return self.inner.handle_request(request)


@pytest.mark.parametrize("native", [False, True], ids=["polls-v1", "polls-vidu"])
def test_wait_falls_back_to_polling(api_with_workers: Api, pair: list[str], native: bool) -> None:
    transport = Drop(ViaTestClient(api_with_workers.client), events=True, native=native)
    seen: list[fc.TaskEvent] = []
    with fc.Client("http://testserver", api_with_workers.token, transport=transport) as client:
        task_id = client.create_first_last(pair[0], pair[1], duration=1, resolution="540p").id
        task = client.wait(task_id, on_progress=seen.append, poll_interval=0.02)
    assert task.state is fc.TaskState.SUCCEEDED and task.creations
    assert seen[-1].state is fc.TaskState.SUCCEEDED and seen[-1].progress == 100
    assert [e.progress for e in seen] == sorted(e.progress for e in seen)


def test_polling_rides_out_failures_and_raises_the_rest() -> None:
    """No event stream, no /v1 routes: wait() polls the Vidu route through a restart and an overload."""

    def scripted(answers: list[httpx.Response | Exception]) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/events"):
                return httpx.Response(502, text="<html>bad gateway</html>")
            if request.url.path.startswith("/v1/"):
                return httpx.Response(404, json={"detail": "Not Found"})
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return httpx.MockTransport(handler)

    def flaky() -> httpx.MockTransport:
        return scripted([
            vidu_error(503, "ServiceUnavailable", "restarting"),
            httpx.ConnectError("refused"),
            vidu_error(429, "TooManyRequests", "slow down"),
            httpx.Response(200, json={"id": "7", "state": "processing", "progress": 50}),
            httpx.Response(200, json={"id": "7", "state": "success", "progress": 100}),
        ])  # fmt: skip

    seen: list[fc.TaskEvent] = []
    with fc.Client("https://fc.example", "k", transport=flaky()) as client:
        assert client.wait("7", on_progress=seen.append, poll_interval=0.001).state is fc.TaskState.SUCCEEDED
    refusals = [
        (vidu_error(404, "TaskNotFound", "gone"), fc.NotFoundError),
        (vidu_error(401, "Unauthorized", "no"), fc.AuthenticationError),
    ]
    for refusal, error in refusals:
        with fc.Client("https://fc.example", "k", transport=scripted([refusal])) as c, pytest.raises(error):
            c.wait("7", poll_interval=0.001)

    async def main() -> None:
        async with fc.AsyncClient("https://fc.example", "k", transport=flaky()) as client:
            task = await client.wait("7", on_progress=seen.append, poll_interval=0.001)
            assert task.state is fc.TaskState.SUCCEEDED

    anyio.run(main)
    assert [(e.state.value, e.progress) for e in seen] == [("running", 50), ("succeeded", 100)] * 2


# --- a real server: events arrive while the task runs --------------------------------------------


def test_wait_reports_progress_live(live: Live, pair: list[str]) -> None:
    seen: list[tuple[float, fc.TaskEvent]] = []
    with fc.Client(live.url, live.token, timeout=10) as client:
        # long enough to render for several of the runner's progress writes (one per 0.5 s at most): a
        # 3 s 540p clip rendered in 0.7 s on a fast machine, leaving room for one or none
        task_id = client.create_first_last(pair[0], pair[1], duration=8, resolution="720p").id
        task = client.wait(task_id, timeout=60, on_progress=lambda e: seen.append((time.monotonic(), e)))
    assert task.state is fc.TaskState.SUCCEEDED
    progress = [e.progress for _, e in seen]
    states = [e.state for _, e in seen]
    assert progress == sorted(progress) and len(set(progress)) >= 3
    assert states[-1] is fc.TaskState.SUCCEEDED
    assert fc.TaskState.RUNNING in states
    # pushed as they happen, not delivered in one lump at the end
    assert seen[-1][0] - seen[0][0] > 0.1


def test_async_wait_live_and_timeout(live: Live, pair: list[str]) -> None:
    async def main() -> None:
        async with fc.AsyncClient(live.url, live.token) as client:
            created = await client.create_first_last(pair[0], pair[1], duration=16, resolution="1080p")
            start = time.monotonic()
            with pytest.raises(fc.TimeoutError) as timed_out:
                await client.wait(created.id, timeout=0.5)
            assert time.monotonic() - start < 5
            assert isinstance(timed_out.value, TimeoutError)  # the builtin too
            await client.cancel(created.id)
            with pytest.raises(fc.TaskFailed):
                await client.wait(created.id, timeout=30)

    anyio.run(main)


def test_sync_wait_timeout_on_a_silent_stream(live: Live, pair: list[str]) -> None:
    with fc.Client(live.url, live.token) as client:
        busy = client.create_first_last(pair[0], pair[1], duration=16, resolution="1080p")
        queued = client.create_first_last(pair[0], pair[1], duration=1, resolution="540p")
        start = time.monotonic()
        # the only worker is busy: the second task sits queued and its stream says nothing
        with pytest.raises(fc.TimeoutError):
            client.wait(queued.id, timeout=0.5)
        assert time.monotonic() - start < 5
        client.cancel(queued.id)
        client.cancel(busy.id)


def test_connection_refused_is_api_connection_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    with (
        fc.Client(f"http://127.0.0.1:{port}", "k", timeout=2) as client,
        pytest.raises(fc.APIConnectionError),
    ):
        client.get("1")


# --- error envelopes, through MockTransport -----------------------------------------------------


def vidu_error(status: int, reason: str, message: str) -> httpx.Response:
    body = {"code": status, "reason": reason, "message": message, "metadata": {"trace_id": "t-123"}}
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("response", "cls", "code", "message"),
    [
        (vidu_error(401, "Unauthorized", "invalid or revoked API key"), fc.AuthenticationError,
         "Unauthorized", "invalid or revoked API key"),
        (vidu_error(404, "TaskNotFound", "task 9 not found"), fc.NotFoundError, "TaskNotFound",
         "task 9 not found"),
        (vidu_error(429, "QuotaExceeded", "too many running tasks"), fc.RateLimitError, "QuotaExceeded",
         "too many running tasks"),
        (vidu_error(400, "FieldInvalid", "seed must be ..."), fc.InvalidRequestError, "FieldInvalid",
         "seed must be ..."),
        (vidu_error(500, "InternalServiceFailure", "internal error"), fc.ServerError,
         "InternalServiceFailure", "internal error"),
        (httpx.Response(502, text="upstream died"), fc.ServerError, "", "upstream died"),
        (httpx.Response(403, json={"error": {"code": "forbidden", "message": "link is invalid or expired"}}),
         fc.PermissionDeniedError, "forbidden", "link is invalid or expired"),
        (httpx.Response(409, json={"error": {"code": "conflict", "message": "busy", "param": "id",
                                             "trace_id": "t-123"}}), fc.ConflictError, "conflict", "busy"),
    ],
)  # fmt: skip
def test_error_statuses_map_to_exceptions(
    response: httpx.Response, cls: type[fc.APIError], code: str, message: str
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    transport = httpx.MockTransport(handler)
    with fc.Client("https://fc.example", "secret", transport=transport) as client, pytest.raises(cls) as err:
        client.get("9")
    e = err.value
    assert (type(e), e.code, e.message, e.status_code) == (cls, code, message, response.status_code)
    assert isinstance(e, fc.APIError) and isinstance(e, fc.FramecastError)
    if response.headers.get("content-type") == "application/json" and response.status_code != 403:
        assert e.trace_id == "t-123"
    assert code in str(e) and str(response.status_code) in str(e)
    assert seen[0].headers["authorization"] == "Token secret"
    assert seen[0].url.path == "/ent/v2/tasks/9/creations"


def test_async_errors_and_transport_failures() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancel"):
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path.endswith("/creations"):
            raise httpx.ReadTimeout("timed out", request=request)
        return vidu_error(429, "TooManyRequests", "slow down")

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with fc.AsyncClient("https://fc.example", "k", transport=transport) as client:
            with pytest.raises(fc.RateLimitError) as rl:
                await client.create_text("x")
            assert rl.value.code == "TooManyRequests"
            with pytest.raises(fc.APIConnectionError):
                await client.cancel("1")
            with pytest.raises(fc.APITimeoutError):
                await client.get("1")

    anyio.run(main)


def test_request_bodies_and_image_inputs(tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"task_id": "1", "state": "created", "model": "viduq2"})

    jpeg = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    path = tmp_path / "x.jpg"
    path.write_bytes(jpeg.getvalue())
    with fc.Client("https://fc.example/base/", "k", transport=httpx.MockTransport(handler)) as client:
        t = client.create_reference(
            [str(path), "https://img.example/a.png", b"\x89PNG...."], "two friends", model="viduq2",
            seed=3, extra={"aspect_ratio": "16:9"},
        )  # fmt: skip
        assert t.id == "1" and t.state is fc.TaskState.QUEUED
    (body,) = bodies
    assert body["images"][0].startswith("data:image/jpeg;base64,")
    assert body["images"][1] == "https://img.example/a.png"
    assert body["images"][2].startswith("data:image/png;base64,")
    assert {k: body[k] for k in ("model", "prompt", "seed", "aspect_ratio")} == {
        "model": "viduq2", "prompt": "two friends", "seed": 3, "aspect_ratio": "16:9",
    }  # fmt: skip
    assert "duration" not in body  # unset options are left to the server's defaults
    assert image_to_wire("data:image/png;base64,AAAA") == "data:image/png;base64,AAAA"


def test_sync_and_async_send_the_same_options() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"task_id": "1", "state": "created"})

    opts: fc.GenerationOptions = {
        "duration": 2,
        "resolution": None,
        "watermark": False,
        "callback_url": "https://cb",
    }
    with fc.Client("https://fc.example", "k", transport=httpx.MockTransport(handler)) as client:
        client.create_first_last(b"\x89PNG", b"\xff\xd8", prompt="push in", **opts)
        client.create_image(b"\x89PNG", model="viduq2", seed=0, **opts)
        client.create_text("a cat", movement_amplitude="small")
        with pytest.raises(
            TypeError, match="create_image\\(\\) got an unexpected keyword argument 'durations'"
        ):
            client.create_image(b"\x89PNG", durations=2)  # type: ignore[call-arg]

    async def main() -> None:
        async with fc.AsyncClient(
            "https://fc.example", "k", transport=httpx.MockTransport(handler)
        ) as client:
            await client.create_first_last(b"\x89PNG", b"\xff\xd8", prompt="push in", **opts)
            await client.create_image(b"\x89PNG", model="viduq2", seed=0, **opts)
            await client.create_text("a cat", movement_amplitude="small")
            with pytest.raises(
                TypeError, match="create_text\\(\\) got an unexpected keyword argument 'sead'"
            ):
                await client.create_text("a cat", sead=1)  # type: ignore[call-arg]

    anyio.run(main)
    assert sent[:3] == sent[3:]  # a mistyped option sends nothing
    assert [path for path, _ in sent[:3]] == [
        "/ent/v2/start-end2video",
        "/ent/v2/img2video",
        "/ent/v2/text2video",
    ]
    first_last, image, text = (body for _, body in sent[:3])
    assert {k: v for k, v in first_last.items() if k != "images"} == {
        "model": "viduq3-pro", "prompt": "push in", "duration": 2, "watermark": False, "callback_url": "https://cb",
    }  # fmt: skip
    assert (
        image["model"] == "viduq2"
        and image["seed"] == 0
        and "prompt" not in image
        and "resolution" not in image
    )
    assert text == {"model": "viduq3-pro", "prompt": "a cat", "movement_amplitude": "small"}


def test_states_map_from_vidu() -> None:
    def task(state: str, err: str = "") -> fc.Task:
        return fc.Task.from_vidu({"id": "1", "state": state, "err_code": err})

    assert [task(s).state.value for s in ("created", "queueing", "processing", "success", "failed")] == [
        "queued", "queued", "running", "succeeded", "failed",
    ]  # fmt: skip
    assert task("failed", "UserCancelled").state is fc.TaskState.CANCELLED
    assert task("failed", "UserCancelled").done


def test_public_surface() -> None:
    assert fc.__all__ == sorted(fc.__all__)
    assert framecast.Client is fc.Client and framecast.AsyncClient is fc.AsyncClient
    assert repr(fc.Task).endswith("framecast.client.Task'>")
    # `import framecast` stays light: the client (and httpx) load on first use
    code = (
        "import sys, framecast; assert 'httpx' not in sys.modules;"
        "framecast.Client; assert 'httpx' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError):
        _ = framecast.Nope  # type: ignore[attr-defined]
