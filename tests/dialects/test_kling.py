"""Kling /v1/videos/{image2video|omni-video|text2video} over HTTP: shapes, limits, envelopes, tenancy."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from framecast.dialects import kling
from tests.conftest import Api, data_uri, image_bytes
from tests.dialects.contract import (
    DialectContract,
    ErrorWords,
    StateWords,
    assert_nothing_stored,
    error_asserter,
)


def b64(width: int = 400, height: int = 300, fmt: str = "PNG", **kw: Any) -> str:
    """Bare base64, as Kling wants it."""
    return base64.b64encode(image_bytes(width, height, fmt=fmt, **kw)).decode()


FIRST = b64(seed=1)
LAST = b64(seed=1, shift=10)


def i2v(**extra: Any) -> dict[str, Any]:
    return {
        "model_name": "kling-v1",
        "image": FIRST,
        "image_tail": LAST,
        "prompt": "a bird",
        "duration": "5",
        **extra,
    }


def omni(**extra: Any) -> dict[str, Any]:
    images = [{"image_url": FIRST, "type": "first_frame"}, {"image_url": LAST, "type": "end_frame"}]
    return {
        "model_name": "kling-video-o1",
        "prompt": "the bird flies",
        "image_list": images,
        "duration": "3",
        **extra,
    }


class TestKlingContract(DialectContract):
    @staticmethod
    def envelope(body: dict[str, Any], status: int) -> object:
        """Kling's ``{code: <service code>, message, request_id}``; the word is the numeric code."""
        assert set(body) == {"code", "message", "request_id"}
        assert body["message"] and body["request_id"]
        return body["code"]

    dialect = kling.DIALECT
    create_path = "/v1/videos/image2video"
    query_path = "/v1/videos/image2video/{id}"
    id_at, state_at = "data.task_id", "data.task_status"
    urls_at = "data.task_result.videos.*.url"
    # Kling documents no 413: 1200 is its "bad request body"
    errors = ErrorWords(1001, 1203, 1203, 1201, 1200, wrong_key=1002, too_large_status=400)
    states = StateWords("submitted", "processing", "succeed", "failed", "failed")

    def create_body(self, pair: list[str]) -> dict[str, Any]:
        return i2v()

    def callback_as_query(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"data": body}  # the callback sends the task itself, without the response envelope


assert_error = error_asserter(TestKlingContract.envelope)


def create(api: Api, path: str, body: dict[str, Any], **kw: Any) -> Any:
    return api.post(f"/v1/videos/{path}", body, scheme="Bearer", **kw)


# --- create and query --------------------------------------------------------------------------------


def test_image2video_with_tail_create_and_query(api: Api) -> None:
    resp = create(api, "image2video", i2v(external_task_id="my-1", watermark_info={"enabled": True}))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED" and body["request_id"]
    data = body["data"]
    assert set(data) == {"task_id", "task_status", "task_info", "created_at", "updated_at"}
    assert data["task_status"] == "submitted"
    assert data["task_info"] == {"external_task_id": "my-1"}
    assert isinstance(data["created_at"], int) and data["created_at"] > 1_700_000_000_000
    task_id = data["task_id"]

    got = api.get(f"/v1/videos/image2video/{task_id}", scheme="Bearer").json()
    assert got["code"] == 0
    assert set(got["data"]) == {
        "task_id",
        "task_status",
        "task_status_msg",
        "task_info",
        "task_result",
        "created_at",
        "updated_at",
    }
    assert got["data"]["task_status"] == "submitted"
    assert got["data"]["task_result"] == {"videos": []}
    # the external id addresses the same task
    assert api.get("/v1/videos/image2video/my-1", scheme="Bearer").json()["data"]["task_id"] == task_id
    # and the Vidu dialect sees the same task
    vidu = api.get(f"/ent/v2/tasks/{task_id}/creations").json()
    assert vidu["state"] == "queueing" and vidu["creations"] == []
    # the stored task never echoes the bare base64 back
    listed = api.get("/ent/v2/tasks").json()["tasks"][0]
    assert all(len(src) < 100 for src in listed["images"])


def test_image_only_and_data_uri_accepted(api: Api) -> None:
    body = {"model": "kling-v1-6", "image": data_uri(image_bytes(400, 300)), "mode": "pro", "duration": 10}
    resp = create(api, "image2video", body)
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["data"]["task_id"]
    vidu = api.get("/ent/v2/tasks").json()["tasks"][0]
    assert vidu["id"] == task_id and vidu["resolution"] == "1080p" and vidu["duration"] == 10


def test_omni_first_and_end_frame(api: Api) -> None:
    resp = create(api, "omni-video", omni(aspect_ratio="16:9", mode="std"))
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["data"]["task_id"]
    assert (
        api.get(f"/v1/videos/omni-video/{task_id}", scheme="Bearer").json()["data"]["task_status"]
        == "submitted"
    )


def test_external_task_id_must_be_unique(api: Api) -> None:
    assert create(api, "image2video", i2v(external_task_id="dup")).status_code == 200
    assert_error(create(api, "image2video", i2v(external_task_id="dup")), 409, 1201)


def test_idempotency_key_returns_the_same_task(api: Api) -> None:
    headers = {**api.headers("Bearer"), "Idempotency-Key": "k-1"}
    first = api.client.post("/v1/videos/image2video", json=i2v(), headers=headers).json()["data"]["task_id"]
    again = api.client.post("/v1/videos/image2video", json=i2v(), headers=headers).json()["data"]["task_id"]
    assert first == again
    changed = api.client.post("/v1/videos/image2video", json=i2v(prompt="other"), headers=headers)
    assert_error(changed, 409, 1201)


def test_vidu_task_visible_and_cancelled_task_reads_failed(api: Api, pair: list[str]) -> None:
    vid = api.post("/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair, "duration": 2}).json()
    api.post(f"/ent/v2/tasks/{vid['task_id']}/cancel", {})
    data = api.get(f"/v1/videos/image2video/{vid['task_id']}", scheme="Bearer").json()["data"]
    assert data["task_status"] == "failed"
    assert "cancel" in data["task_status_msg"]


def test_list_paging(api: Api) -> None:
    ids = [create(api, "image2video", i2v()).json()["data"]["task_id"] for _ in range(3)]
    page = api.get("/v1/videos/image2video", params={"pageNum": 1, "pageSize": 2}, scheme="Bearer").json()
    assert page["code"] == 0 and [t["task_id"] for t in page["data"]] == ids[::-1][:2]
    page2 = api.get("/v1/videos/image2video", params={"pageNum": 2, "pageSize": 2}, scheme="Bearer").json()
    assert [t["task_id"] for t in page2["data"]] == [ids[0]]
    for params in ({"pageSize": 501}, {"pageSize": 0}, {"pageNum": 0}, {"pageNum": "x"}):
        assert_error(api.get("/v1/videos/image2video", params=params, scheme="Bearer"), 400, 1201)
    assert (
        len(api.get("/v1/videos/image2video", params={"pageSize": 500}, scheme="Bearer").json()["data"]) == 3
    )


def test_other_tenants_external_id_is_404(api: Api) -> None:
    create(api, "image2video", i2v(external_task_id="mine"))
    other = api.new_key()
    assert_error(other.get("/v1/videos/image2video/mine", scheme="Bearer"), 404, 1203)
    assert other.get("/v1/videos/image2video", scheme="Bearer").json()["data"] == []


# --- limits ------------------------------------------------------------------------------------------

BadCase = tuple[str, Callable[[], dict[str, Any]], int, int]
BAD: list[BadCase] = [
    ("image2video", lambda: i2v(image=None), 400, 1201),  # image_tail alone: engine needs a first frame
    ("image2video", lambda: i2v(image=None, image_tail=None), 400, 1201),
    ("image2video", lambda: i2v(camera_control={"type": "simple"}), 400, 1201),
    ("image2video", lambda: i2v(static_mask=FIRST), 400, 1201),
    ("image2video", lambda: i2v(image_tail=None, dynamic_masks=[{"mask": FIRST}]), 400, 1201),
    ("image2video", lambda: i2v(image_tail=None, camera_control={"type": "simple"}), 400, 1201),
    ("image2video", lambda: i2v(cfg_scale=1.5), 400, 1201),
    ("image2video", lambda: i2v(mode="ultra"), 400, 1201),
    ("image2video", lambda: i2v(duration="7"), 400, 1201),
    ("image2video", lambda: i2v(duration="five"), 400, 1201),
    ("image2video", lambda: i2v(sound="loud"), 400, 1201),
    ("image2video", lambda: i2v(prompt="x" * 2501), 400, 1201),
    ("image2video", lambda: i2v(negative_prompt="x" * 2501), 400, 1201),
    ("image2video", lambda: i2v(model_name="kling-v9"), 400, 1201),
    ("image2video", lambda: i2v(image=b64(299, 400)), 400, 1201),  # below 300 px
    ("image2video", lambda: i2v(image=b64(760, 300)), 400, 1201),  # 2.53:1
    ("image2video", lambda: i2v(image=b64(fmt="WEBP")), 400, 1201),  # Kling takes jpg/png only
    ("image2video", lambda: i2v(image="not base64!!"), 400, 1201),
    ("image2video", lambda: i2v(image=base64.b64encode(b"not an image").decode()), 400, 1201),
    ("image2video", lambda: i2v(image="data:;base64," + FIRST), 400, 1201),
    ("text2video", lambda: {"model_name": "kling-v1", "prompt": "a cat"}, 400, 1203),  # no t2v engine
    ("text2video", lambda: {"model_name": "kling-v1"}, 400, 1201),
    ("text2video", lambda: {"model_name": "kling-v1", "prompt": "a", "aspect_ratio": "4:3"}, 400, 1201),
    ("omni-video", lambda: omni(prompt=""), 400, 1201),
    ("omni-video", lambda: omni(duration="11"), 400, 1201),
    ("omni-video", lambda: omni(duration="2"), 400, 1201),
    ("omni-video", lambda: omni(aspect_ratio="4:3"), 400, 1201),
    (
        "omni-video",
        lambda: omni(video_list=[{"video_url": "https://example.com/v.mp4", "refer_type": "base"}]),
        400,
        1203,
    ),
    (
        "omni-video",
        lambda: omni(video_list=[{"video_url": "https://example.com/v.mp4", "keep_original_sound": "maybe"}]),
        400,
        1201,
    ),
    (
        "omni-video",
        lambda: omni(video_list=[{"video_url": "https://e.com/v.mp4", "refer_type": "x"}]),
        400,
        1201,
    ),
    ("omni-video", lambda: omni(element_list=[{"element_id": 1}]), 400, 1201),
    ("omni-video", lambda: omni(image_list=[{"image_url": FIRST}] * 8), 400, 1201),  # > 7 without video
    (
        "omni-video",
        lambda: omni(
            image_list=[{"image_url": FIRST}] * 5,  # > 4 with a video
            video_list=[{"video_url": "https://e.com/v.mp4"}],
        ),
        400,
        1201,
    ),
    ("omni-video", lambda: omni(image_list=[{"image_url": FIRST}]), 400, 1203),  # reference images
    ("omni-video", lambda: omni(image_list=[{"image_url": LAST, "type": "end_frame"}]), 400, 1201),
    ("omni-video", lambda: omni(image_list=[{"image_url": LAST, "type": "middle"}]), 400, 1201),
    ("omni-video", lambda: omni(image_list=[{"image_url": FIRST, "type": "first_frame"}] * 2), 400, 1201),
]


@pytest.mark.parametrize(("path", "make", "status", "code"), BAD)
def test_bad_input(api: Api, path: str, make: Callable[[], dict[str, Any]], status: int, code: int) -> None:
    assert_error(create(api, path, make()), status, code)
    assert_nothing_stored(api)


def test_image_tail_excludes_masks_and_camera(api: Api) -> None:
    for extra in ({"camera_control": {"type": "simple"}}, {"static_mask": FIRST}, {"dynamic_masks": [{}]}):
        body = assert_error(create(api, "image2video", i2v(**extra)), 400, 1201)
        assert body["message"].startswith("image_tail cannot be combined")


def test_limits_at_the_edge_are_accepted(api: Api) -> None:
    assert (
        create(
            api,
            "image2video",
            i2v(image=b64(750, 300), image_tail=b64(750, 300, shift=3), prompt="镜" * 2500, cfg_scale=1),
        ).status_code
        == 200
    )
    assert (
        create(
            api, "omni-video", omni(duration=10, image_list=[{"image_url": FIRST, "type": "first_frame"}])
        ).status_code
        == 200
    )


# --- a real run --------------------------------------------------------------------------------------


def test_runs_to_succeed(make_api: Callable[..., Api], tmp_path: Path) -> None:
    catalog = tmp_path / "fast.toml"
    catalog.write_text('[models."kling-v1"]\nfps = 2\n')  # 5 s at 2 fps keeps the render quick
    api = make_api(workers=1, catalog_file=catalog)
    small = {"image": b64(400, 300, seed=2), "image_tail": b64(400, 300, seed=2, shift=8)}
    task_id = create(api, "image2video", i2v(**small)).json()["data"]["task_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = api.get(f"/v1/videos/image2video/{task_id}", scheme="Bearer").json()["data"]
        if data["task_status"] in ("succeed", "failed"):
            break
        time.sleep(0.1)
    assert data["task_status"] == "succeed", data
    video = data["task_result"]["videos"][0]
    assert video["duration"] == "5" and video["id"]
    path = video["url"].split("://", 1)[1].split("/", 1)[1]
    assert api.client.get("/" + path).status_code == 200
