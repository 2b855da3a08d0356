"""Baicai /v1/videos/generations, /v1/resources and /v1/comfyui/tasks over HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from framecast.dialects import baicai
from tests.conftest import Api, data_uri, image_bytes
from tests.dialects.contract import (
    DialectContract,
    ErrorWords,
    StateWords,
    assert_nothing_stored,
    error_asserter,
)

FIRST = data_uri(image_bytes(320, 180, seed=1))
LAST = data_uri(image_bytes(320, 180, seed=1, shift=10))
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z\[UTC\]$")


def flf(**inp: Any) -> dict[str, Any]:
    base = {"image": FIRST, "last_image": LAST, "prompt": "小狗起身轻嗅", "resolution": "720p", "duration": 5}
    return {"selected_model": "Viduq2-pro-FLF2V-fast", "task_type": "flf2video", "input": {**base, **inp}}


def post(api: Api, body: Any) -> Any:
    return api.post("/v1/videos/generations", body, scheme="Bearer")


def assert_error(resp: Any, status: int) -> dict[str, Any]:
    return error_asserter(TestBaicaiContract.envelope)(resp, status, status)


class TestBaicaiContract(DialectContract):
    @staticmethod
    def envelope(body: dict[str, Any], status: int) -> object:
        """Baicai's ``{code: <HTTP status>, message, data: null}``; the word is ``code``."""
        assert body == {"code": status, "message": body["message"], "data": None}
        assert body["message"]
        return body["code"]

    dialect = baicai.DIALECT
    create_path = "/v1/videos/generations"
    query_path = "/v1/comfyui/tasks/{id}/status"
    id_at, state_at, urls_at = "data.taskId", "data.0.status", "result.data.urls"
    # Baicai documents only 200, 400 and 500
    errors = ErrorWords(401, 404, 404, 400, 400, too_large_status=400)
    states = StateWords("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELED")

    def create_body(self, pair: list[str]) -> dict[str, Any]:
        return flf()

    def read(self, api: Api, public_id: str) -> dict[str, Any]:
        """Status and result together: the shape Baicai's callback body has."""
        result = api.get(f"/v1/comfyui/tasks/{public_id}/result", scheme="Bearer").json()
        return {**super().read(api, public_id), "result": result}


def upload(api: Api, data: bytes, name: str = "a.png") -> str:
    resp = api.client.post(
        "/v1/resources/upload", files={"file": (name, data, "image/png")}, headers=api.headers("Bearer")
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 0 and set(body["data"]) == {"fullPath"}
    path: str = body["data"]["fullPath"]
    return path


# --- create, status, result --------------------------------------------------------------------------


def test_create_status_result(api: Api) -> None:
    # aspect_ratio is documented as "no need to set" and is ignored
    resp = post(api, flf(aspect_ratio="9:16", negative_prompt="blur"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "data", "ts"}
    assert body["code"] == 0 and body["message"] == "任务提交成功" and TS.match(body["ts"])
    task_id = body["data"]["taskId"]

    status = api.get(f"/v1/comfyui/tasks/{task_id}/status", scheme="Bearer").json()
    assert status["code"] == 0
    assert status["data"] == [{"taskId": task_id, "status": "PENDING", "progress": "0"}]
    result = api.get(f"/v1/comfyui/tasks/{task_id}/result", scheme="Bearer").json()
    assert result["code"] == 0 and result["data"]["urls"] == []
    assert result["data"]["0"] == {"result": {"urls": []}}
    # through the Vidu and Kling dialects
    vidu = api.get(f"/ent/v2/tasks/{task_id}/creations").json()
    assert vidu["state"] == "queueing"
    assert (
        api.get(f"/v1/videos/image2video/{task_id}", scheme="Bearer").json()["data"]["task_status"]
        == "submitted"
    )
    listed = api.get("/ent/v2/tasks").json()["tasks"][0]
    assert listed["aspect_ratio"] == "" and listed["resolution"] == "720p" and listed["duration"] == 5


def test_vidu_task_cancelled_reads_canceled(api: Api, pair: list[str]) -> None:
    vid = api.post("/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair, "duration": 2}).json()
    api.post(f"/ent/v2/tasks/{vid['task_id']}/cancel", {})
    item = api.get(f"/v1/comfyui/tasks/{vid['task_id']}/status", scheme="Bearer").json()["data"][0]
    assert item["status"] == "CANCELED" and "cancel" in item["message"]


def test_upload_round_trip_without_fetch(api: Api) -> None:
    data = image_bytes(320, 180, seed=4)
    first = upload(api, data)
    last = upload(api, image_bytes(320, 180, seed=4, shift=6))
    assert re.search(r"/v1/resources/file_[0-9a-f]{24}$", first)
    got = api.client.get(first, headers=api.headers("Bearer"))
    assert got.status_code == 200 and got.content == data and got.headers["content-type"] == "image/png"
    # private addresses are never fetched; our own URL resolves to the stored file instead
    resp = post(api, flf(image=first, last_image=last))
    assert resp.status_code == 200, resp.text
    # the bare path and the bare id work too
    assert (
        post(api, flf(image=first.split("testserver", 1)[1], last_image=last.rsplit("/", 1)[1])).status_code
        == 200
    )
    other = api.new_key()
    assert_error(other.client.get(first, headers=other.headers("Bearer")), 404)
    assert_error(post(other, flf(image=first, last_image=last)), 400)
    assert other.get("/ent/v2/tasks").json()["tasks"] == []


def test_upload_errors(api: Api) -> None:
    resp = api.client.post(
        "/v1/resources/upload",
        files={"file": ("a.txt", b"hello", "text/plain")},
        headers=api.headers("Bearer"),
    )
    assert_error(resp, 400)
    resp = api.client.post(
        "/v1/resources/upload",
        files={"other": ("a.png", image_bytes(), "image/png")},
        headers=api.headers("Bearer"),
    )
    assert_error(resp, 400)
    assert_error(api.client.post("/v1/resources/upload", files={"file": ("a.png", image_bytes())}), 401)
    assert_error(api.get("/v1/resources/file_000000000000000000000000", scheme="Bearer"), 404)


def test_result_of_unknown_or_other_tenants_task_is_404(api: Api) -> None:
    assert_error(api.get("/v1/comfyui/tasks/123/result", scheme="Bearer"), 404)
    task_id = post(api, flf()).json()["data"]["taskId"]
    assert_error(api.new_key().get(f"/v1/comfyui/tasks/{task_id}/result", scheme="Bearer"), 404)


# --- limits ------------------------------------------------------------------------------------------


def _drop(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


BAD: list[Callable[[], dict[str, Any]]] = [
    lambda: _drop(flf(), "selected_model"),
    lambda: _drop(flf(), "task_type"),
    lambda: _drop(flf(), "input"),
    lambda: {**flf(), "task_type": "v2v"},
    lambda: {**flf(), "selected_model": "no-such-model"},
    lambda: flf(prompt=""),
    lambda: flf(resolution=None),
    lambda: flf(resolution="540p"),
    lambda: flf(duration=None),
    lambda: flf(duration=7),
    lambda: flf(duration="five"),
    lambda: flf(number_of_videos=0),
    lambda: flf(number_of_videos=5),
    lambda: flf(image=None),
    lambda: flf(last_image=""),
    lambda: flf(image=data_uri(image_bytes(320, 180, fmt="WEBP"), "image/webp")),  # png/jpg only
    lambda: flf(image="data:image/png;base64,@@@"),
    lambda: flf(image=data_uri(image_bytes(640, 360))),  # first/last pixel ratio 4
    lambda: flf(image=data_uri(image_bytes(100, 100)), last_image=data_uri(image_bytes(100, 100))),
    lambda: {**flf(), "async": False},
    lambda: {**flf(), "need_expand_prompt": "sometimes"},
    lambda: {**flf(), "task_type": "t2v", "input": {"prompt": "a cat", "resolution": "720p", "duration": 5}},
    lambda: {
        **flf(),
        "task_type": "i2v",
        "input": {"image": FIRST, "prompt": "x", "num_inference_steps": 28},
    },
    lambda: {
        **flf(),
        "task_type": "i2v",
        "input": {"image": FIRST, "prompt": "x", "num_inference_steps": 51},
    },
    lambda: {**flf(), "task_type": "i2v", "input": {"image": FIRST, "prompt": "x", "true_cfg_scale": 21}},
    lambda: {**flf(), "task_type": "i2v", "input": {"image": FIRST, "prompt": "x", "seed": -2}},
    lambda: {**flf(), "task_type": "i2v", "input": {"image": FIRST, "last_image": LAST, "prompt": "x"}},
    lambda: flf(mutil_reference=[{"type": "subject", "name": "dog", "urls": [FIRST]}]),
]


@pytest.mark.parametrize("make", BAD)
def test_bad_input(api: Api, make: Callable[[], dict[str, Any]]) -> None:
    assert_error(post(api, make()), 400)
    assert_nothing_stored(api)


def test_i2v_and_edge_values_accepted(api: Api) -> None:
    i2v = {
        **flf(),
        "task_type": "i2v",
        "input": {"image": FIRST, "prompt": "x", "seed": 7, "duration": 6, "resolution": "1080p"},
    }
    assert post(api, i2v).status_code == 200
    assert post(api, flf(number_of_videos=4, duration=8)).status_code == 200


# --- a real run: two videos, two seeds -----------------------------------------------------------------


def test_number_of_videos_two(make_api: Callable[..., Api], tmp_path: Path) -> None:
    catalog = tmp_path / "fast.toml"
    # 5 s is the model's minimum; 2 fps keeps the render quick
    catalog.write_text('[models."Viduq2-pro-FLF2V-fast"]\nfps = 2\n')
    api = make_api(workers=1, catalog_file=catalog)
    task_id = post(api, flf(number_of_videos=2)).json()["data"]["taskId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item = api.get(f"/v1/comfyui/tasks/{task_id}/status", scheme="Bearer").json()["data"][0]
        if item["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.1)
    assert item == {"taskId": task_id, "status": "COMPLETED", "progress": "100"}
    result = api.get(f"/v1/comfyui/tasks/{task_id}/result", scheme="Bearer").json()["data"]
    assert len(result["urls"]) == 2 and result["0"]["result"]["urls"] == result["urls"]
    creations = api.get(f"/ent/v2/tasks/{task_id}/creations").json()["creations"]
    assert len(creations) == 2
    listed = api.get("/ent/v2/tasks").json()["tasks"][0]
    assert listed["seed"] > 0
    assert len({c["id"] for c in creations}) == 2
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        from framecast.store.tasks import load_task

        task = load_task(s, task_id=task_id)
    assert task is not None and len({c.seed for c in task.creations}) == 2
