"""Qianfan /beta/video/generations/qianfan-video: both model families, both error envelopes."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from framecast.dialects import qianfan
from tests.conftest import Api, data_uri, image_bytes
from tests.dialects.contract import (
    DialectContract,
    ErrorWords,
    StateWords,
    assert_nothing_stored,
    error_asserter,
)

URL = "/beta/video/generations/qianfan-video"
FIRST = data_uri(image_bytes(400, 300, seed=1))
LAST = data_uri(image_bytes(400, 300, seed=1, shift=10))
HTTP_LEVEL = {
    400: ("invalid_video_genration_argument", "invalid_request_error"),
    401: ("invalid_iam_token", "invalid_request_error"),
    403: ("video_genration_prompt_unsafe", "unsafe_request"),
    429: ("video_genration_concurrency_exceeded", "rate_limit_exceeded"),
}


def ko1(**params: Any) -> dict[str, Any]:
    """The seed page's KO1 example, with inline images instead of the vendor's URLs."""
    mp = {
        "mode": "pro",
        "duration": "5",
        "prompt": "The camera zooms in on the bird.",
        "image_list": [{"image_url": FIRST, "type": "first_frame"}, {"image_url": LAST, "type": "end_frame"}],
    }
    return {"model": "KO1", "type": "omni-video", "model_parameters": {**mp, **params}}


def vq(**params: Any) -> dict[str, Any]:
    mp = {"images": [FIRST, LAST], "prompt": "the bird flies", "duration": 2, "resolution": "540p"}
    return {"model": "VQ2-Pro", "type": "start-end2video", "model_parameters": {**mp, **params}}


def post(api: Api, body: Any) -> Any:
    return api.post(URL, body, scheme="Bearer")


def query(api: Api, task_id: str, **params: str) -> Any:
    return api.get(URL, params={"task_id": task_id, **params}, scheme="Bearer")


ARGUMENT = "invalid_video_genration_argument"  # the vendor's spelling


class TestQianfanContract(DialectContract):
    @staticmethod
    def envelope(body: dict[str, Any], status: int) -> object:
        """Either Qianfan envelope: HTTP-level ``{code: "<word>", message, type, request_id}`` or the
        Kling-family numeric ``{code: <int>, message, request_id}``; the word is ``code``."""
        if isinstance(body.get("code"), str):
            assert set(body) == {"code", "message", "type", "request_id"}
        else:
            assert set(body) == {"code", "message", "request_id"}
        assert body["message"] and body["request_id"]
        return body["code"]

    dialect = qianfan.DIALECT
    create_path = URL
    query_path = f"{URL}?task_id={{id}}"
    id_at, state_at = "data.task_id", "data.task_status"
    urls_at = "data.task_result.videos.*.url"
    # not found: the query route answers in the numeric envelope; too large: no 413 in Qianfan's table
    errors = ErrorWords("invalid_iam_token", 1203, "not_found", ARGUMENT, ARGUMENT, too_large_status=400)
    states = StateWords("submitted", "processing", "succeed", "failed", "failed")

    def create_body(self, pair: list[str]) -> dict[str, Any]:
        return ko1()


assert_numeric = error_asserter(TestQianfanContract.envelope)


def assert_http_level(resp: Any, status: int) -> dict[str, Any]:
    body = assert_numeric(resp, status, HTTP_LEVEL[status][0])
    assert body["type"] == HTTP_LEVEL[status][1]
    return body


# --- Kling family ------------------------------------------------------------------------------------


def test_ko1_create_and_query(api: Api) -> None:
    resp = post(api, ko1())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 0 and body["message"] == "" and body["request_id"]
    assert set(body["data"]) == {"task_id", "task_status", "created_at", "updated_at", "task_info"}
    assert body["data"]["task_status"] == "submitted" and body["data"]["task_info"] == {}
    task_id = body["data"]["task_id"]

    got = query(api, task_id, model="KO1").json()
    assert got["code"] == 0
    assert got["data"]["task_status"] == "submitted" and got["data"]["task_result"] == {"videos": []}
    assert got["usage"]["model_name"] == "KO1" and got["usage"]["mode"] == "pro"
    assert got["usage"]["duration"] == "5" and isinstance(got["usage"]["credits"], str)
    # the same task through the Vidu and Kling dialects
    assert api.get(f"/ent/v2/tasks/{task_id}/creations").json()["state"] == "queueing"
    assert api.get(f"/v1/videos/omni-video/{task_id}", scheme="Bearer").json()["data"]["task_id"] == task_id


def test_k3o_int_duration_and_first_frame_only(api: Api) -> None:
    body = ko1(duration=3, sound="off", image_list=[{"image_url": FIRST, "type": "first_frame"}])
    body["model"] = "K3O"
    assert post(api, body).status_code == 200


def test_kling_created_task_reads_in_kling_shape(api: Api) -> None:
    body = {"model_name": "kling-v1", "image": FIRST, "duration": "5"}
    task_id = api.post("/v1/videos/image2video", body, scheme="Bearer").json()["data"]["task_id"]
    got = query(api, task_id).json()
    assert got["code"] == 0 and got["data"]["task_status"] == "submitted"


KLING_BAD: list[tuple[Callable[[], dict[str, Any]], int, int]] = [
    (lambda: ko1(duration="11"), 400, 1201),
    (lambda: ko1(duration="2"), 400, 1201),
    (lambda: ko1(duration="five"), 400, 1201),
    (lambda: ko1(mode="ultra"), 400, 1201),
    (lambda: ko1(prompt=""), 400, 1201),
    (lambda: ko1(prompt="x" * 2501), 400, 1201),
    (lambda: ko1(aspect_ratio="4:3"), 400, 1201),
    (lambda: ko1(element_list=[{"element_id": 1}]), 400, 1201),
    (lambda: ko1(video_list=[{"video_url": "https://e.com/a.mp4", "refer_type": "feature"}]), 400, 1203),
    (
        lambda: ko1(video_list=[{"video_url": "https://e.com/a.mp4", "keep_original_sound": "maybe"}]),
        400,
        1201,
    ),
    (lambda: ko1(image_list=[{"image_url": FIRST}] * 8), 400, 1201),
    (lambda: ko1(image_list=[{"image_url": LAST, "type": "end_frame"}]), 400, 1201),
    (
        lambda: ko1(image_list=[{"image_url": data_uri(image_bytes(299, 400)), "type": "first_frame"}]),
        400,
        1201,
    ),
    (lambda: ko1(image_list=[{"image_url": FIRST}]), 400, 1203),  # reference images: no engine for them
    (lambda: ko1(image_list=[]), 400, 1203),  # text-to-video: no engine for it
    (lambda: {**ko1(), "type": "start-end2video"}, 400, 1201),
    (lambda: {**ko1(), "type": "text2video", "model_parameters": {"prompt": "a cat"}}, 400, 1203),
    (lambda: {**ko1(), "type": "lip-sync"}, 400, 1203),
]


@pytest.mark.parametrize(("make", "status", "code"), KLING_BAD)
def test_kling_family_errors_are_numeric(
    api: Api, make: Callable[[], dict[str, Any]], status: int, code: int
) -> None:
    assert_numeric(post(api, make()), status, code)
    assert_nothing_stored(api)


# --- Vidu family -------------------------------------------------------------------------------------


def test_vq_create_and_query(api: Api) -> None:
    resp = post(api, vq(seed=42))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["task_id"] == body["id"] and body["status"] == body["state"] == "created"
    assert body["log_id"] and body["audio"] is False  # the engine makes silent video
    assert body["seed"] == 42 and body["resolution"] == "540p"
    got = query(api, body["task_id"], model="VQ2-Pro").json()
    assert set(got) == {"log_id", "id", "status", "err_code", "creations", "usage"}
    assert got["status"] == "queueing" and got["err_code"] == "" and got["creations"] == []
    assert got["usage"] == {
        "model": "VQ2-Pro",
        "duration": 2,
        "resolution": "540p",
        "credits": got["usage"]["credits"],
    }


def test_vidu_created_task_reads_in_vidu_family_shape(api: Api, pair: list[str]) -> None:
    vid = api.post("/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair, "duration": 2}).json()
    api.post(f"/ent/v2/tasks/{vid['task_id']}/cancel", {})
    got = query(api, vid["task_id"]).json()
    assert got["status"] == "failed" and got["err_code"] == "UserCancelled" and "state" not in got


VIDU_BAD: list[tuple[Callable[[], dict[str, Any]], int]] = [
    (lambda: vq(prompt=""), 400),
    (lambda: vq(prompt="x" * 1501), 400),
    (lambda: vq(duration=17), 400),
    (lambda: vq(duration=0), 400),
    (lambda: vq(resolution="360p"), 400),
    (lambda: vq(images=[FIRST]), 400),
    (lambda: vq(images=[FIRST, LAST, FIRST]), 400),
    (lambda: vq(images=[FIRST, data_uri(image_bytes(800, 600))]), 400),  # pixel ratio 0.25
    (lambda: {**vq(), "type": "omni-video"}, 400),
    (lambda: {**vq(), "type": "text2video", "model_parameters": {"prompt": "a cat"}}, 400),
    (lambda: {"type": "start-end2video", "model_parameters": {}}, 400),
    (lambda: {**vq(), "model": "no-such-model"}, 400),
    (lambda: {**vq(), "type": "fireseries"}, 400),
    (lambda: {"model": "VQ2-Pro", "type": "start-end2video"}, 400),
]


@pytest.mark.parametrize(("make", "status"), VIDU_BAD)
def test_http_level_errors(api: Api, make: Callable[[], dict[str, Any]], status: int) -> None:
    assert_http_level(post(api, make()), status)
    assert_nothing_stored(api)


def test_prompt_at_1500_is_accepted(api: Api) -> None:
    assert post(api, vq(prompt="镜" * 1500)).status_code == 200


def test_body_that_is_not_an_object_is_http_level(api: Api) -> None:
    resp = api.client.post(
        URL, content=b"[1]", headers={**api.headers("Bearer"), "content-type": "application/json"}
    )
    assert_http_level(resp, 400)


def test_prompt_policy_is_403(make_api: Callable[..., Api], tmp_path: Path) -> None:
    blocklist = tmp_path / "block.txt"
    blocklist.write_text("forbiddenword\n")
    api = make_api(blocklist_file=blocklist)
    assert_http_level(post(api, vq(prompt="a forbiddenword here")), 403)
    assert_numeric(post(api, ko1(prompt="a forbiddenword here")), 400, 1301)


def test_query_errors_are_numeric(api: Api) -> None:
    assert_numeric(api.get(URL, scheme="Bearer"), 400, 1201)


def test_bare_base64_accepted_for_kling_family(api: Api) -> None:
    bare = base64.b64encode(image_bytes(400, 300)).decode()
    assert post(api, ko1(image_list=[{"image_url": bare, "type": "first_frame"}])).status_code == 200


# --- real runs ---------------------------------------------------------------------------------------


def _wait(api: Api, task_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = query(api, task_id).json()
        if done(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish")


def test_both_families_run_to_completion(make_api: Callable[..., Api], tmp_path: Path) -> None:
    catalog = tmp_path / "fast.toml"
    catalog.write_text('[models."KO1"]\nfps = 2\n[models."VQ2-Pro"]\nfps = 4\n')
    api = make_api(workers=1, catalog_file=catalog)
    k_id = post(api, ko1(mode="std", duration="3")).json()["data"]["task_id"]
    v_id = post(api, vq(duration=1)).json()["task_id"]
    k = _wait(api, k_id, lambda b: b["data"]["task_status"] in ("succeed", "failed"))
    assert k["data"]["task_status"] == "succeed", k
    assert k["data"]["task_result"]["videos"][0]["duration"] == "3"
    v = _wait(api, v_id, lambda b: b["status"] in ("success", "failed"))
    assert v["status"] == "success", v
    assert v["creations"][0]["url"] and v["creations"][0]["cover_url"]
