"""new-api / UniAll /v1/video/generations over HTTP: query shapes, kinds, limits, the task envelope."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import av
import pytest

from framecast.dialects import newapi
from tests.conftest import Api, data_uri, image_bytes
from tests.dialects.contract import (
    DialectContract,
    ErrorWords,
    StateWords,
    assert_nothing_stored,
    error_asserter,
)

CREATE_KEYS = {"id", "task_id", "object", "model", "status", "progress", "created_at"}
CODE_DATA_KEYS = {
    "id",
    "task_id",
    "platform",
    "action",
    "status",
    "fail_reason",
    "result_url",
    "progress",
    "submit_time",
    "start_time",
    "finish_time",
    "created_at",
    "updated_at",
    "quota",
    "properties",
    "data",
}
DOC_FLAT_KEYS = {"task_id", "status", "url", "format", "metadata", "error"}
UNIALL_KEYS = {
    "id",
    "model",
    "object",
    "prompt",
    "status",
    "progress",
    "video_url",
    "thumbnail_url",
    "created_at",
    "duration",
    "metadata",
}
PATH = "/v1/video/generations"


def flf(pair: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "model": "viduq3p-540p",
        "prompt": "turns to the side",
        "image": pair[0],
        "last_image": pair[1],
        "duration": 2,
        **extra,
    }


def post(api: Api, body: Any) -> Any:
    return api.post(PATH, body, scheme="Bearer")


class TestNewApiContract(DialectContract):
    @staticmethod
    def envelope(body: dict[str, Any], status: int) -> object:
        """new-api's task error ``{code: "<string>", message, data: null}``; the word is ``code``."""
        assert set(body) == {"code", "message", "data"}
        assert body["message"] and body["data"] is None
        return body["code"]

    dialect = newapi.DIALECT
    create_path = PATH
    query_path = f"{PATH}/{{id}}"
    id_at, id_prefix, state_at = "id", "task_", "data.status"
    errors = ErrorWords(
        "unauthorized", "task_not_exist", "task_not_exist", "invalid_request", "request_body_too_large"
    )
    states = StateWords("QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE", "FAILURE")

    def create_body(self, pair: list[str]) -> dict[str, Any]:
        return flf(pair)

    def urls_of(self, body: dict[str, Any]) -> list[str] | None:
        return [body["url"]] if body["url"] else []


assert_error = error_asserter(TestNewApiContract.envelope)


def vidu_task(api: Api) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = api.get("/ent/v2/tasks").json()["tasks"]
    return tasks[0]


# --- create ----------------------------------------------------------------------------------------


def test_create_first_last_shape(api: Api, pair: list[str]) -> None:
    resp = post(api, flf(pair, unknown_field=1))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == CREATE_KEYS
    assert body["id"] == body["task_id"] and body["id"].startswith("task_") and body["id"][5:].isdigit()
    assert body["object"] == "video.generation.job"
    assert (body["model"], body["status"], body["progress"]) == ("viduq3p-540p", "queued", 0)
    assert isinstance(body["created_at"], int)
    task = vidu_task(api)
    assert task["type"] == "headtailimg2video" and task["resolution"] == "540p" and task["duration"] == 2


def test_uniall_seed_doc_examples(api: Api, pair: list[str]) -> None:
    # image only -> image-to-video, extra_body applies
    body = post(
        api,
        {
            "model": "viduq3t-540p",
            "prompt": "looks up",
            "image": pair[0],
            "duration": 5,
            "extra_body": {"seed": 42},
        },
    ).json()
    assert body["status"] == "queued"
    task = vidu_task(api)
    assert task["type"] == "img2video" and task["seed"] == 42
    # -offpeak: the base model, off_peak on; duration as a string; the client's name is echoed
    body = post(
        api,
        {
            "model": "viduq3p-1080p-offpeak",
            "prompt": "p",
            "image": pair[0],
            "last_image": pair[1],
            "duration": "6",
        },
    ).json()
    assert body["model"] == "viduq3p-1080p-offpeak"
    query = api.get(f"/ent/v2/tasks/{body['id'][5:]}/creations").json()
    assert query["off_peak"] is True
    task = vidu_task(api)
    assert (task["model"], task["resolution"], task["duration"]) == ("viduq3p-1080p", "1080p", 6)


def test_images_array_picks_kind_like_new_api(api: Api, pair: list[str]) -> None:
    post(api, {"model": "viduq2-pro", "images": pair, "duration": 4})  # two images -> first/last
    assert vidu_task(api)["type"] == "headtailimg2video"
    post(api, {"model": "viduq1", "images": pair[:1]})  # new-api's default model; duration 5
    task = vidu_task(api)
    assert task["type"] == "img2video" and task["duration"] == 5 and task["resolution"] == "1080p"
    post(api, {"images": pair[:1], "seconds": "5", "size": "1080p"})  # model defaults to viduq1
    assert vidu_task(api)["model"] == "viduq1"


def test_metadata_object_and_string_override(api: Api, pair: list[str]) -> None:
    meta = {"seed": 7, "negative_prompt": "blur", "payload": "ref-1", "my_key": "kept"}
    body = post(api, flf(pair, seed=3, metadata=meta, extra_body={"seed": 5})).json()
    task_id = body["id"][5:]
    assert vidu_task(api)["seed"] == 7  # metadata wins over extra_body wins over the field
    query = api.get(f"{PATH}/{body['id']}").json()
    assert query["data"]["properties"]["metadata"] == meta
    assert api.get(f"/ent/v2/tasks/{task_id}/creations").json()["payload"] == "ref-1"
    # a JSON string works the same; image_tail (Kling's name) is the last frame
    post(api, {"model": "viduq3p-540p", "image": pair[0], "metadata": json.dumps({"image_tail": pair[1]})})
    assert vidu_task(api)["type"] == "headtailimg2video"


def test_text_and_reference_need_a_generative_model(api: Api, pair: list[str]) -> None:
    body = assert_error(
        post(api, {"model": "viduq3p-720p", "prompt": "a city at dawn", "aspect_ratio": "16:9"}),
        400,
        "model_unavailable",
    )
    assert "text" in body["message"] and "FRAMECAST_CATALOG_FILE" in body["message"]
    assert_error(
        post(
            api, {"model": "viduq3p-mix-720p", "prompt": "@Image1 on a beach", "reference_image_urls": pair}
        ),
        400,
        "model_unavailable",
    )
    assert_error(
        post(api, {"model": "viduq2", "prompt": "x", "images": [*pair, pair[0]]}), 400, "model_unavailable"
    )
    assert_nothing_stored(api)


# --- query ---------------------------------------------------------------------------------------------


def test_query_satisfies_every_shape(api: Api, pair: list[str]) -> None:
    created = post(api, flf(pair)).json()
    body = api.get(f"{PATH}/{created['id']}", scheme="Bearer").json()
    # new-api code envelope
    assert body["code"] == "success" and body["message"] == ""
    data = body["data"]
    assert set(data) >= CODE_DATA_KEYS
    assert data["id"] == int(created["id"][5:]) and data["task_id"] == created["id"]
    assert (data["status"], data["progress"], data["result_url"]) == ("QUEUED", "0%", "")
    assert data["action"] == "firstTailGenerate" and data["data"]["state"] == "queueing"
    assert data["properties"]["origin_model_name"] == "viduq3p-540p"
    # docs' flat keys (top level, and in data where they don't collide) and UniAll's
    assert set(body) >= DOC_FLAT_KEYS | UNIALL_KEYS
    assert body["status"] == "queued" and data["video_status"] == "queued"
    assert body["progress"] == 0 and body["error"] is None and body["format"] == "mp4"
    assert body["id"] == created["id"] and body["object"] == "video.generation.job"
    assert {"url", "format", "metadata", "error", "video_url", "thumbnail_url"} <= set(data)
    # bare ids work too
    assert api.get(f"{PATH}/{created['id'][5:]}").json()["id"] == created["id"]


def test_cross_dialect_queries(api: Api, pair: list[str]) -> None:
    vidu_id = api.post(
        "/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair, "duration": 2}
    ).json()["task_id"]
    body = api.get(f"{PATH}/task_{vidu_id}").json()
    assert body["data"]["action"] == "firstTailGenerate" and body["model"] == "viduq3-pro"
    created = post(api, flf(pair)).json()
    video = api.get(f"/v1/videos/{created['id']}", scheme="Bearer").json()
    assert video["id"] == f"video_{created['id'][5:]}" and video["status"] == "queued"
    assert api.get(f"/ent/v2/tasks/{created['id'][5:]}/creations").json()["state"] == "queueing"


def test_cancelled_task_reads_as_failure(api: Api, pair: list[str]) -> None:
    created = post(api, flf(pair)).json()
    api.post(f"/ent/v2/tasks/{created['id'][5:]}/cancel", {})
    body = api.get(f"{PATH}/{created['id']}").json()
    assert body["data"]["status"] == "FAILURE" and body["status"] == "failed"
    assert body["data"]["fail_reason"] and body["error"]["type"] == "cancelled"
    assert body["data"]["data"]["err_code"] == "UserCancelled"


# --- limits ----------------------------------------------------------------------------------------

BadCase = tuple[Callable[[list[str]], dict[str, Any]], int, str]
BAD: list[BadCase] = [
    (lambda p: {"model": "viduq3p-540p", "prompt": "p", "last_image": p[1]}, 400, "invalid_request"),
    (lambda p: flf(p, images=[p[0]]), 400, "invalid_request"),
    (lambda p: flf(p, prompt="x" * 5001), 400, "invalid_request"),
    (lambda p: {"model": "viduq3p-720p", "aspect_ratio": "16:9"}, 400, "invalid_request"),  # no prompt
    (lambda p: flf(p, duration=17), 400, "invalid_request"),
    (lambda p: flf(p, duration=0), 400, "invalid_request"),
    (lambda p: flf(p, duration="five"), 400, "invalid_request"),
    (lambda p: flf(p, duration="2.5"), 400, "invalid_request"),
    (lambda p: flf(p, duration=True), 400, "invalid_request"),
    (lambda p: flf(p, model="viduq1", duration=4), 400, "invalid_request"),
    (lambda p: flf(p, size="720p"), 400, "invalid_request"),  # viduq3p-540p is 540p only
    (lambda p: flf(p, size="huge"), 400, "invalid_request"),
    (lambda p: flf(p, size="1281x720"), 400, "invalid_request"),
    (lambda p: flf(p, model="no-such-model"), 400, "invalid_request"),
    (lambda p: flf(p, model="no-such-offpeak"), 400, "invalid_request"),
    (lambda p: flf(p, metadata="{not json"), 400, "invalid_request"),
    (lambda p: flf(p, metadata="[1]"), 400, "invalid_request"),
    (lambda p: flf(p, metadata={"seed": "abc"}), 400, "invalid_request"),
    (lambda p: flf(p, metadata={"action": "dance"}), 400, "invalid_request"),
    (lambda p: flf(p, metadata={"wm_position": 9, "watermark": True}), 400, "invalid_request"),
    (lambda p: flf(p, metadata={"movement_amplitude": "huge"}), 400, "invalid_request"),
    (lambda p: flf(p, extra_body={"seed": -1}), 400, "invalid_request"),
    (lambda p: flf(p, images=[""]), 400, "invalid_request"),
    (
        lambda p: {"model": "viduq3p-mix-720p", "prompt": "x", "reference_image_urls": p * 3},
        400,
        "invalid_request",
    ),
    (lambda p: {**flf(p), "reference_image_urls": p[:1]}, 400, "invalid_request"),
    (lambda p: {"model": "viduq2", "prompt": "x", "images": p * 4}, 400, "invalid_request"),
    (lambda p: flf(p, image="data:image/png;base64,AAAA"), 400, "invalid_image_format"),
    (lambda p: flf(p, image=data_uri(image_bytes(512, 288)), last_image=p[1]), 400, "invalid_image_size"),
    (lambda p: flf(p, image="http://127.0.0.1/a.png"), 400, "image_download_failed"),
]


@pytest.mark.parametrize(("make", "status", "code"), BAD)
def test_bad_input(
    api: Api, pair: list[str], make: Callable[[list[str]], dict[str, Any]], status: int, code: str
) -> None:
    assert_error(post(api, make(pair)), status, code)
    assert_nothing_stored(api)


def test_limits_at_the_edge_are_accepted(api: Api, pair: list[str]) -> None:
    assert post(api, flf(pair, prompt="镜" * 5000, duration=16)).status_code == 200
    assert post(api, flf(pair, duration=1)).status_code == 200


# --- a real task -------------------------------------------------------------------------------------


def test_run_to_completion_and_download(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    created = post(api, flf(pair, duration=1)).json()
    deadline = time.monotonic() + 30
    while True:
        body = api.get(f"{PATH}/{created['id']}").json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    data = body["data"]
    assert (body["status"], data["status"], data["progress"], body["progress"]) == (
        "completed",
        "SUCCESS",
        "100%",
        100,
    ), body
    assert data["result_url"] == body["video_url"] == body["url"] == data["url"]
    assert data["finish_time"] >= data["start_time"] >= data["submit_time"] > 0
    assert body["metadata"]["width"] == 960 and body["metadata"]["height"] == 540
    assert data["data"]["creations"][0]["url"] == data["result_url"]
    parts = urlsplit(data["result_url"])
    video = api.client.get(f"{parts.path}?{parts.query}")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        assert len(list(container.decode(video=0))) == 24
    parts = urlsplit(body["thumbnail_url"])
    assert api.client.get(f"{parts.path}?{parts.query}").headers["content-type"] == "image/jpeg"
