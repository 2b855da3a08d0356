"""Vidu /ent/v2 over HTTP: shapes, auth, tenancy and every documented limit."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from framecast.dialects import vidu
from tests.conftest import Api, data_uri, image_bytes
from tests.dialects.contract import (
    DialectContract,
    ErrorWords,
    StateWords,
    assert_nothing_stored,
    error_asserter,
)

CREATE_KEYS = {
    "task_id",
    "type",
    "state",
    "model",
    "style",
    "prompt",
    "images",
    "duration",
    "seed",
    "aspect_ratio",
    "resolution",
    "movement_amplitude",
    "bgm",
    "audio",
    "payload",
    "off_peak",
    "credits",
    "watermark",
    "is_rec",
    "wm_position",
    "wm_url",
    "meta_data",
    "created_at",
    "cus_priority",
    "client_request_id",
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def start_end(pair: list[str], **extra: Any) -> dict[str, Any]:
    return {"model": "viduq3-pro", "images": pair, "prompt": "the camera follows", "duration": 2, **extra}


class TestViduContract(DialectContract):
    @staticmethod
    def envelope(body: dict[str, Any], status: int) -> object:
        """Vidu's ``{code: <HTTP status>, reason, message, metadata: {trace_id}}``; the word is ``reason``."""
        assert set(body) == {"code", "reason", "message", "metadata"}
        assert body["code"] == status
        assert body["message"]
        assert body["metadata"]["trace_id"]
        return body["reason"]

    dialect = vidu.DIALECT
    create_path = "/ent/v2/start-end2video"
    query_path = "/ent/v2/tasks/{id}/creations"
    id_at, state_at, urls_at = "task_id", "state", "creations.*.url"
    scheme = "Token"
    errors = ErrorWords("Unauthorized", "TaskNotFound", "NotFound", "FieldInvalid", "BadRequest")
    states = StateWords("queueing", "processing", "success", "failed", "failed")

    def create_body(self, pair: list[str]) -> dict[str, Any]:
        return start_end(pair)


assert_error = error_asserter(TestViduContract.envelope)


# --- create ----------------------------------------------------------------------------------------


def test_start_end2video_create_shape(api: Api, pair: list[str]) -> None:
    resp = api.post("/ent/v2/start-end2video", start_end(pair, payload="my-ref", seed=0, unknown_field=1))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == CREATE_KEYS
    assert body["type"] == "headtailimg2video"
    assert body["state"] == "created"
    assert body["model"] == "viduq3-pro"
    assert body["payload"] == "my-ref"
    assert body["duration"] == 2
    assert body["resolution"] == "720p"  # model default
    assert body["seed"] > 0  # 0 means random; the used seed is echoed
    assert body["credits"] > 0
    assert body["task_id"].isdigit() and len(body["task_id"]) >= 16
    assert RFC3339.match(body["created_at"])
    assert body["wm_position"] == "bottom_right"


def test_seed_is_kept_when_given(api: Api, pair: list[str]) -> None:
    assert api.post("/ent/v2/start-end2video", start_end(pair, seed=1234)).json()["seed"] == 1234


@pytest.mark.parametrize(("path", "vidu_type", "n"), [("img2video", "img2video", 1)])
def test_img2video_create(api: Api, pair: list[str], path: str, vidu_type: str, n: int) -> None:
    body = api.post(f"/ent/v2/{path}", {"model": "viduq2-pro", "images": pair[:n], "duration": 4}).json()
    assert body["type"] == vidu_type
    assert body["state"] == "created"


def test_bearer_and_token_both_work(api: Api, pair: list[str]) -> None:
    assert api.post("/ent/v2/start-end2video", start_end(pair), scheme="Bearer").status_code == 200
    assert api.post("/ent/v2/start-end2video", start_end(pair), scheme="Token").status_code == 200


def test_other_tenant_can_neither_cancel_nor_list(api: Api, pair: list[str]) -> None:
    task_id = api.post("/ent/v2/start-end2video", start_end(pair)).json()["task_id"]
    other = api.new_key()
    assert_error(other.post(f"/ent/v2/tasks/{task_id}/cancel", {}), 404, "TaskNotFound")
    assert other.get("/ent/v2/tasks").json()["tasks"] == []


def test_query_before_run(api: Api, pair: list[str]) -> None:
    task_id = api.post("/ent/v2/start-end2video", start_end(pair, payload="p")).json()["task_id"]
    body = api.get(f"/ent/v2/tasks/{task_id}/creations").json()
    assert body["id"] == task_id
    assert body["state"] == "queueing"
    assert body["err_code"] == ""
    assert body["creations"] == []
    assert body["payload"] == "p"


# --- limits: each bad input gets the right reason, and nothing is stored ------------------------------

BadCase = tuple[str, Callable[[list[str]], dict[str, Any]], int, str]
BAD: list[BadCase] = [
    ("start-end2video", lambda p: {"images": p}, 400, "FieldLacking"),
    ("start-end2video", lambda p: start_end(p[:1]), 400, "FieldItemCountOutOfRange"),
    ("start-end2video", lambda p: start_end([*p, p[0]]), 400, "FieldItemCountOutOfRange"),
    ("start-end2video", lambda p: start_end([]), 400, "FieldLacking"),
    ("img2video", lambda p: {"model": "viduq3-pro", "images": p}, 400, "FieldItemCountOutOfRange"),
    ("start-end2video", lambda p: start_end(p, prompt="x" * 5001), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, payload="x" * 1_048_577), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, wm_position=5, watermark=True), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, wm_position=0), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, duration=17), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, duration=0), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, duration="five"), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, model="viduq1", duration=4), 400, "FieldInvalid"),
    (
        "start-end2video",
        lambda p: start_end(p, model="viduq1", duration=5, resolution="720p"),
        400,
        "FieldInvalid",
    ),
    (
        "start-end2video",
        lambda p: start_end(p, model="vidu2.0", duration=8, resolution="1080p"),
        400,
        "FieldInvalid",
    ),
    ("start-end2video", lambda p: start_end(p, model="viduq2-pro", duration=9), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, resolution="4k"), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, model="no-such-model"), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, movement_amplitude="huge"), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, meta_data="{not json"), 400, "FieldInvalid"),
    ("start-end2video", lambda p: start_end(p, audio=True), 400, "FieldInvalid"),  # silent engine
    ("text2video", lambda p: {"model": "viduq3-pro", "prompt": "a cat"}, 400, "ModelUnavailable"),
    ("text2video", lambda p: {"model": "viduq3-pro"}, 400, "FieldLacking"),
    ("text2video", lambda p: {"model": "viduq3-pro", "prompt": "a", "images": p[:1]}, 400, "FieldUnwanted"),
    ("reference2video", lambda p: {"model": "viduq2", "images": p, "prompt": "two"}, 400, "ModelUnavailable"),
    (
        "reference2video",
        lambda p: {"model": "viduq2", "images": p * 4, "prompt": "x"},
        400,
        "FieldItemCountOutOfRange",
    ),
]


@pytest.mark.parametrize(("path", "make", "status", "reason"), BAD)
def test_bad_input(
    api: Api,
    pair: list[str],
    path: str,
    make: Callable[[list[str]], dict[str, Any]],
    status: int,
    reason: str,
) -> None:
    assert_error(api.post(f"/ent/v2/{path}", make(pair)), status, reason)
    assert_nothing_stored(api)


def test_prompt_at_limit_is_accepted(api: Api, pair: list[str]) -> None:
    assert api.post("/ent/v2/start-end2video", start_end(pair, prompt="镜" * 5000)).status_code == 200


def uri(width: int, height: int, fmt: str = "PNG", mime: str = "image/png", **kw: Any) -> str:
    return data_uri(image_bytes(width, height, fmt=fmt, **kw), mime)


IMAGE_BAD = [
    ([uri(256, 144, "GIF", "image/gif"), uri(256, 144)], "ImageFormatInvalid"),
    ([uri(256, 144, "BMP", "image/png"), uri(256, 144)], "ImageFormatInvalid"),
    (["data:image/png;base64,not-base64!!", uri(256, 144)], "ImageFormatInvalid"),
    ([image_bytes(256, 144).hex(), uri(256, 144)], "ImageFormatInvalid"),  # neither URL nor data URI
    ([uri(127, 200), uri(127, 200)], "PageSizeOutOfRange"),  # below 128 px
    ([uri(650, 128), uri(650, 128)], "PageSizeOutOfRange"),  # 5.08:1
    ([uri(256, 144), uri(512, 288)], "PageSizeOutOfRange"),  # first/last pixel ratio 0.25
]


@pytest.mark.parametrize(("images", "reason"), IMAGE_BAD)
def test_bad_images(api: Api, images: list[str], reason: str) -> None:
    assert_error(api.post("/ent/v2/start-end2video", start_end(images)), 400, reason)
    assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("JPEG", "image/jpg"), ("WEBP", "image/webp")],
)
def test_accepted_formats(api: Api, fmt: str, mime: str) -> None:
    images = [uri(256, 144, fmt, mime), uri(256, 144, fmt, mime, shift=5)]
    assert api.post("/ent/v2/start-end2video", start_end(images)).status_code == 200


def test_aspect_bounds_accepted(api: Api) -> None:
    images = [uri(512, 128), uri(512, 128, shift=4)]  # exactly 4:1
    assert api.post("/ent/v2/start-end2video", start_end(images)).status_code == 200
    images = [uri(256, 144), uri(280, 158, shift=4)]  # pixel ratio ~0.83, inside 0.8-1.25
    assert api.post("/ent/v2/start-end2video", start_end(images)).status_code == 200


# --- URL inputs ------------------------------------------------------------------------------------


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "a.png").write_bytes(image_bytes(256, 144, seed=3))
    (root / "b.jpg").write_bytes(image_bytes(256, 144, fmt="JPEG", seed=3, shift=8))
    with open(root / "huge.png", "wb") as f:
        f.write(image_bytes(256, 144))
        f.truncate(51 * 1024 * 1024)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_private_url_refused_by_default(api: Api, image_server: str) -> None:
    body = assert_error(
        api.post("/ent/v2/start-end2video", start_end([f"{image_server}/a.png"] * 2)),
        400,
        "ImageDownloadFailure",
    )
    assert "127.0.0.1" not in body["message"] or "not allowed" in body["message"].lower() or body["message"]
    assert_nothing_stored(api)


def test_urls_fetched_at_submit_when_private_allowed(make_api: Callable[..., Api], image_server: str) -> None:
    api = make_api(allow_private_urls=True)
    images = [f"{image_server}/a.png", f"{image_server}/b.jpg"]
    resp = api.post("/ent/v2/start-end2video", start_end(images))
    assert resp.status_code == 200, resp.text
    assert resp.json()["images"] == images
    assert_error(
        api.post("/ent/v2/start-end2video", start_end([f"{image_server}/missing.png"] * 2)),
        400,
        "ImageDownloadFailure",
    )
    assert_error(
        api.post("/ent/v2/start-end2video", start_end([f"{image_server}/huge.png"] * 2)),
        400,
        "ImageDownloadFailure",
    )


def test_unreachable_url(make_api: Callable[..., Api]) -> None:
    api = make_api(allow_private_urls=True)
    assert_error(
        api.post("/ent/v2/start-end2video", start_end(["http://127.0.0.1:9/x.png"] * 2)),
        400,
        "ImageDownloadFailure",
    )
    assert_nothing_stored(api)


# --- cancel and list ---------------------------------------------------------------------------------


def test_cancel_queued(api: Api, pair: list[str]) -> None:
    task_id = api.post("/ent/v2/start-end2video", start_end(pair)).json()["task_id"]
    resp = api.post(f"/ent/v2/tasks/{task_id}/cancel", {"id": task_id})
    assert resp.status_code == 200 and resp.json() == {}
    body = api.get(f"/ent/v2/tasks/{task_id}/creations").json()
    assert body["state"] == "failed" and body["err_code"] == "UserCancelled"
    body = assert_error(api.post(f"/ent/v2/tasks/{task_id}/cancel", {}), 400, "BadRequest")
    # the task reads failed/UserCancelled: the refusal says it was cancelled, not just "failed"
    assert body["message"] == (
        "task state is failed (err_code UserCancelled): it was already cancelled, can not cancel"
    )
    assert_error(api.post("/ent/v2/tasks/123/cancel", {}), 404, "TaskNotFound")


def test_cancel_racing_a_worker_stops_the_task_it_claimed(
    api: Api, pair: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker claims the task after the cancel read it as queued: the cancel must still land."""
    from framecast.store import tasks as task_store

    task_id = api.post("/ent/v2/start-end2video", start_end(pair)).json()["task_id"]
    db = api.client.app.state.db  # type: ignore[attr-defined]
    cancel_queued = task_store.cancel_queued

    def worker_wins(session: Any, **kw: Any) -> bool:
        with db.session() as other:  # the worker's own transaction, committed first
            assert task_store.claim_next(other, worker="w", lease_seconds=30) is not None
        return cancel_queued(session, **kw)

    monkeypatch.setattr(task_store, "cancel_queued", worker_wins)
    resp = api.post(f"/ent/v2/tasks/{task_id}/cancel", {})
    assert resp.status_code == 200 and resp.json() == {}
    with db.session() as s:
        row = task_store.get_row(s, task_id=task_id)
        assert row is not None and row.state == "running" and row.cancel_requested
    assert api.get(f"/ent/v2/tasks/{task_id}/creations").json()["state"] == "processing"


def test_list_filters_and_paging(api: Api, pair: list[str]) -> None:
    ids = [
        api.post("/ent/v2/start-end2video", start_end(pair, model=m)).json()["task_id"]
        for m in ("viduq3-pro", "viduq3-pro", "viduq2-pro", "viduq3-turbo", "viduq3-pro")
    ]
    api.post(f"/ent/v2/tasks/{ids[0]}/cancel", {})
    listed = api.get("/ent/v2/tasks").json()
    assert [t["id"] for t in listed["tasks"]] == ids[::-1]  # newest first
    assert listed["next_page_token"] == ""
    item = listed["tasks"][0]
    assert {
        "id",
        "key_id",
        "model",
        "prompt",
        "images",
        "duration",
        "resolution",
        "aspect_ratio",
        "creations",
        "state",
    } <= set(item)
    page = api.get("/ent/v2/tasks", params={"pager.pagesz": 2}).json()
    assert [t["id"] for t in page["tasks"]] == ids[::-1][:2] and page["next_page_token"]
    nxt = api.get(
        "/ent/v2/tasks", params={"pager.pagesz": 2, "pager.page_token": page["next_page_token"]}
    ).json()
    assert [t["id"] for t in nxt["tasks"]] == ids[::-1][2:4]
    by_page = api.get("/ent/v2/tasks", params={"pager.pagesz": 2, "pager.page": 2}).json()
    assert [t["id"] for t in by_page["tasks"]] == [ids[0]]
    models = api.get(
        "/ent/v2/tasks", params=[("model_versions", "viduq2-pro"), ("model_versions", "viduq3-turbo")]
    )
    assert {t["id"] for t in models.json()["tasks"]} == {ids[2], ids[3]}
    failed = api.get("/ent/v2/tasks", params={"states": "failed"}).json()
    assert [t["id"] for t in failed["tasks"]] == [ids[0]]
    chosen = api.get("/ent/v2/tasks", params=[("task_ids[]", ids[1]), ("task_ids[]", ids[4])]).json()
    assert {t["id"] for t in chosen["tasks"]} == {ids[1], ids[4]}
    assert_error(api.get("/ent/v2/tasks", params={"pager.pagesz": 101}), 400, "PageSizeOutOfRange")
    assert_error(api.get("/ent/v2/tasks", params={"states": "bogus"}), 400, "FieldInvalid")
    assert_error(api.get("/ent/v2/tasks", params={"pager.page_token": "%%%"}), 400, "FieldInvalid")
