"""OpenAI Videos (/v1/videos, /v1/files) over HTTP: shapes, tenancy, limits and the error envelope."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from framecast.dialects import openai_videos
from tests.conftest import Api, data_uri, image_bytes
from tests.dialects.contract import (
    DialectContract,
    ErrorWords,
    StateWords,
    assert_nothing_stored,
    error_asserter,
)

VIDEO_KEYS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "seconds",
    "size",
    "remixed_from_video_id",
    "error",
}
FAST_CATALOG = '[models."sora-2"]\nfps = 6\n'  # 24 frames for 4 s keeps the worker tests quick


def ref(uri: str) -> dict[str, str]:
    return {"image_url": uri}


def flf(pair: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "prompt": "the camera drifts",
        "input_reference": ref(pair[0]),
        "last_frame": ref(pair[1]),
        **extra,
    }


def post(api: Api, path: str, body: Any = None, **kw: Any) -> Any:
    return api.post(path, body, scheme="Bearer", **kw)


def form(api: Api, path: str, data: dict[str, Any], files: Any = None) -> Any:
    return api.client.post(path, data=data, files=files, headers=api.headers("Bearer"))


def assert_error(resp: Any, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    """The error, and the field it names when ``param`` is given; returns the inner ``error``."""
    err: dict[str, Any] = error_asserter(TestOpenAIContract.envelope)(resp, status, code)["error"]
    if param is not None:
        assert err["param"] == param, err
    return err


class TestOpenAIContract(DialectContract):
    @staticmethod
    def envelope(body: dict[str, Any], status: int) -> object:
        """OpenAI's ``{error: {message, type, param, code}}``; the word is ``code``."""
        assert set(body) == {"error"}
        err = body["error"]
        assert set(err) == {"message", "type", "param", "code"}
        assert err["message"] and err["type"]
        return err["code"]

    dialect = openai_videos.DIALECT
    create_path = "/v1/videos"
    query_path = "/v1/videos/{id}"
    id_at, id_prefix, state_at = "id", "video_", "status"
    errors = ErrorWords("invalid_api_key", "not_found", "not_found", "invalid_value", "request_too_large")
    states = StateWords("queued", "in_progress", "completed", "failed", "failed")

    def create_body(self, pair: list[str]) -> dict[str, Any]:
        return flf(pair)


def wait(api: Api, video_id: str, timeout: float = 30.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = api.get(f"/v1/videos/{video_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{video_id} did not finish")


@pytest.fixture
def fast_api(make_api: Callable[..., Api], tmp_path: Path) -> Api:
    catalog = tmp_path / "fast.toml"
    catalog.write_text(FAST_CATALOG)
    return make_api(workers=1, catalog_file=catalog)


# --- create ----------------------------------------------------------------------------------------


def test_create_first_last_json(api: Api, pair: list[str]) -> None:
    resp = post(api, "/v1/videos", flf(pair, seconds="8", size="1280x720", unknown=1))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == VIDEO_KEYS
    assert body["id"].startswith("video_") and body["id"][6:].isdigit()
    assert body["object"] == "video" and body["model"] == "sora-2"
    assert body["status"] == "queued" and body["progress"] == 0
    assert body["seconds"] == "8" and body["size"] == "1280x720"
    assert body["completed_at"] is None and body["error"] is None and body["remixed_from_video_id"] is None
    assert isinstance(body["created_at"], int)
    # the same task, seen through the Vidu and new-api routes
    bare = body["id"][6:]
    vidu = api.get(f"/ent/v2/tasks/{bare}/creations").json()
    assert vidu["id"] == bare and vidu["state"] == "queueing"
    listed = api.get("/ent/v2/tasks").json()["tasks"][0]
    assert listed["type"] == "headtailimg2video" and listed["duration"] == 8
    newapi = api.get(f"/v1/video/generations/{body['id']}").json()
    assert newapi["code"] == "success" and newapi["data"]["action"] == "firstTailGenerate"


def test_defaults_and_int_seconds(api: Api, pair: list[str]) -> None:
    body = post(api, "/v1/videos", {"prompt": "p", "input_reference": ref(pair[0])}).json()
    assert (body["seconds"], body["size"], body["model"]) == ("4", "720x1280", "sora-2")
    body = post(api, "/v1/videos", {"prompt": "p", "input_reference": pair[0], "seconds": 12}).json()
    assert body["seconds"] == "12"  # an int is accepted, a string is always emitted
    for model in ("sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08"):
        resp = post(api, "/v1/videos", {"prompt": "p", "model": model, "input_reference": ref(pair[0])})
        assert resp.status_code == 200 and resp.json()["model"] == model


@pytest.mark.parametrize("size", ["720x1280", "1280x720", "1024x1792", "1792x1024"])
def test_every_documented_size(api: Api, pair: list[str], size: str) -> None:
    assert post(api, "/v1/videos", flf(pair, size=size)).json()["size"] == size


def test_multipart_file_part(api: Api) -> None:
    png = image_bytes(seed=4)
    resp = form(
        api,
        "/v1/videos",
        {"prompt": "push in", "seconds": "8", "size": "1280x720"},
        files={"input_reference": ("first.png", png, "image/png")},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["seconds"] == "8" and body["size"] == "1280x720"
    task = api.get(f"/ent/v2/tasks/{body['id'][6:]}/creations")
    assert task.status_code == 200


def test_multipart_first_and_last_files_and_nested_fields(api: Api, pair: list[str]) -> None:
    files = [
        ("input_reference", ("a.png", image_bytes(seed=1), "image/png")),
        ("last_frame", ("b.png", image_bytes(seed=1, shift=12), "application/octet-stream")),
    ]
    resp = form(api, "/v1/videos", {"prompt": "p"}, files=files)
    assert resp.status_code == 200, resp.text
    listed = api.get("/ent/v2/tasks").json()["tasks"][0]
    assert listed["type"] == "headtailimg2video"
    # the openai SDK flattens {"image_url": ...} to input_reference[image_url]
    resp = form(
        api,
        "/v1/videos",
        {"prompt": "p", "input_reference[image_url]": pair[0], "last_image[image_url]": pair[1]},
    )
    assert resp.status_code == 200, resp.text
    assert api.get("/ent/v2/tasks").json()["tasks"][0]["type"] == "headtailimg2video"


def test_reference_images_extension(api: Api, pair: list[str]) -> None:
    # the built-in engine cannot do reference-to-video: a clear refusal, in OpenAI's envelope
    err = assert_error(
        post(api, "/v1/videos", {"prompt": "p", "reference_images": [ref(pair[0])]}), 400, "model_unavailable"
    )
    assert "reference" in err["message"]
    assert_nothing_stored(api)


def test_text_to_video_needs_a_generative_model(api: Api) -> None:
    err = assert_error(post(api, "/v1/videos", {"prompt": "a cat surfing"}), 400, "model_unavailable")
    assert "FRAMECAST_CATALOG_FILE" in err["message"] and "text" in err["message"]
    assert err["type"] == "invalid_request_error"
    assert_nothing_stored(api)


# --- files -----------------------------------------------------------------------------------------


def test_file_upload_and_file_id(api: Api) -> None:
    png = image_bytes(seed=2)
    resp = form(api, "/v1/files", {"purpose": "vision"}, files={"file": ("frame.png", png, "image/png")})
    assert resp.status_code == 200, resp.text
    f = resp.json()
    assert f["object"] == "file" and f["id"].startswith("file_") and f["bytes"] == len(png)
    assert f["filename"] == "frame.png" and f["purpose"] == "vision" and isinstance(f["created_at"], int)
    created = post(api, "/v1/videos", {"prompt": "p", "input_reference": {"file_id": f["id"]}})
    assert created.status_code == 200, created.text
    # another tenant cannot use the id; an unknown id is not found either
    other = api.new_key()
    assert_error(
        post(other, "/v1/videos", {"prompt": "p", "input_reference": {"file_id": f["id"]}}),
        404,
        "not_found",
        "input_reference",
    )
    assert_error(
        post(api, "/v1/videos", {"prompt": "p", "input_reference": {"file_id": "file_nope"}}),
        404,
        "not_found",
        "input_reference",
    )
    assert other.get("/v1/videos").json()["data"] == []
    assert len(api.get("/v1/videos").json()["data"]) == 1


def test_file_upload_errors(api: Api) -> None:
    assert_error(form(api, "/v1/files", {"purpose": "vision"}), 400, "missing_required_parameter", "file")
    gif = image_bytes(fmt="GIF")
    assert_error(
        form(api, "/v1/files", {"purpose": "vision"}, files={"file": ("a.gif", gif, "image/gif")}),
        400,
        "invalid_image_format",
        "file",
    )
    assert_error(
        form(api, "/v1/files", {"purpose": "nope"}, files={"file": ("a.png", image_bytes())}),
        400,
        "invalid_value",
        "purpose",
    )
    assert_error(post(api, "/v1/files", {"file": "x"}), 400, "invalid_value", "file")


# --- limits: each bad input gets the right code and param, and nothing is stored -------------------

BadCase = tuple[Callable[[list[str]], dict[str, Any]], str, str]
BAD: list[BadCase] = [
    (lambda p: {"input_reference": ref(p[0])}, "missing_required_parameter", "prompt"),
    (lambda p: flf(p, prompt="   "), "missing_required_parameter", "prompt"),
    (lambda p: flf(p, prompt="x" * 5001), "invalid_value", "prompt"),
    (lambda p: flf(p, seconds="5"), "invalid_value", "seconds"),
    (lambda p: flf(p, seconds="16"), "invalid_value", "seconds"),
    (lambda p: flf(p, seconds="four"), "invalid_value", "seconds"),
    (lambda p: flf(p, seconds="4.5"), "invalid_value", "seconds"),
    (lambda p: flf(p, seconds=0), "invalid_value", "seconds"),
    (lambda p: flf(p, seconds=[4]), "invalid_value", "seconds"),
    (lambda p: flf(p, size="640x360"), "invalid_value", "size"),
    (lambda p: flf(p, size="720p"), "invalid_value", "size"),
    (lambda p: flf(p, model="sora-3"), "invalid_value", "model"),
    (lambda p: {"prompt": "p", "last_frame": ref(p[1])}, "missing_required_parameter", "input_reference"),
    (lambda p: flf(p, last_image=ref(p[1])), "invalid_value", "last_frame"),
    (lambda p: {"prompt": "p", "input_reference": {}}, "missing_required_parameter", "input_reference"),
    (
        lambda p: {"prompt": "p", "input_reference": {"file_id": "file_1", "image_url": p[0]}},
        "invalid_value",
        "input_reference",
    ),
    (
        lambda p: {"prompt": "p", "input_reference": ref("data:image/png;base64,AAAA")},
        "invalid_image_format",
        "input_reference",
    ),
    (
        lambda p: {"prompt": "p", "input_reference": ref(data_uri(image_bytes(100, 100)))},
        "invalid_image_size",
        "input_reference",
    ),
    (lambda p: {"prompt": "p", "input_reference": ref("http://127.0.0.1/x.png")}, "invalid_image_url", None),
    (lambda p: {"prompt": "p", "reference_images": [ref(p[0])] * 8}, "invalid_value", "reference_images"),
    (lambda p: {"prompt": "p", "reference_images": []}, "invalid_value", "reference_images"),
    (lambda p: {**flf(p), "reference_images": [ref(p[0])]}, "unsupported_parameter", "reference_images"),
    (lambda p: flf(p, seed=-1), "invalid_value", "seed"),
]


@pytest.mark.parametrize(("make", "code", "param"), BAD)
def test_bad_input(
    api: Api, pair: list[str], make: Callable[[list[str]], dict[str, Any]], code: str, param: str | None
) -> None:
    assert_error(post(api, "/v1/videos", make(pair)), 400, code, param)
    assert_nothing_stored(api)


def test_prompt_at_limit_is_accepted(api: Api, pair: list[str]) -> None:
    assert post(api, "/v1/videos", flf(pair, prompt="p" * 5000)).status_code == 200


def test_multipart_without_prompt(api: Api) -> None:
    resp = form(api, "/v1/videos", {"seconds": "4"}, files={"input_reference": ("a.png", image_bytes())})
    assert_error(resp, 400, "missing_required_parameter", "prompt")
    assert_nothing_stored(api)


def test_malformed_json_names_the_body(api: Api) -> None:
    resp = api.client.post(
        "/v1/videos", content=b"{nope", headers={**api.headers("Bearer"), "content-type": "application/json"}
    )
    assert_error(resp, 400, "invalid_value", "body")


# --- read, tenancy, list -----------------------------------------------------------------------------


def test_vidu_task_readable_here(api: Api, pair: list[str]) -> None:
    task_id = api.post(
        "/ent/v2/start-end2video",
        {"model": "viduq3-pro", "images": pair, "duration": 3, "resolution": "540p"},
    ).json()["task_id"]
    for form_of_id in (task_id, f"video_{task_id}", f"task_{task_id}"):
        body = api.get(f"/v1/videos/{form_of_id}", scheme="Bearer").json()
        assert body["id"] == f"video_{task_id}"
        assert (body["model"], body["seconds"], body["status"]) == ("viduq3-pro", "3", "queued")
        assert body["size"] == "960x540"  # what the runner will produce from a 16:9 first frame at 540p


def test_other_tenant_can_neither_delete_remix_nor_download(api: Api, pair: list[str]) -> None:
    vid = post(api, "/v1/videos", flf(pair)).json()["id"]
    other = api.new_key()
    assert_error(other.client.delete(f"/v1/videos/{vid}", headers=other.headers()), 404, "not_found")
    assert_error(other.get(f"/v1/videos/{vid}/content"), 404, "not_found")
    assert_error(post(other, f"/v1/videos/{vid}/remix", {"prompt": "x"}), 404, "not_found")
    assert other.get("/v1/videos").json()["data"] == []


def test_list_paging_and_limits(api: Api, pair: list[str]) -> None:
    ids = [post(api, "/v1/videos", flf(pair)).json()["id"] for _ in range(5)]
    page = api.get("/v1/videos").json()
    assert page["object"] == "list" and [v["id"] for v in page["data"]] == ids[::-1]
    assert page["first_id"] == ids[-1] and page["last_id"] == ids[0] and page["has_more"] is False
    page = api.get("/v1/videos", params={"limit": 2}).json()
    assert [v["id"] for v in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    page = api.get("/v1/videos", params={"limit": 2, "after": page["last_id"]}).json()
    assert [v["id"] for v in page["data"]] == ids[::-1][2:4]
    asc = api.get("/v1/videos", params={"order": "asc", "limit": 3}).json()
    assert [v["id"] for v in asc["data"]] == ids[:3]
    asc = api.get("/v1/videos", params={"order": "asc", "after": ids[2][6:]}).json()
    assert [v["id"] for v in asc["data"]] == ids[3:]
    empty = api.get("/v1/videos", params={"limit": 0}).json()
    assert empty["data"] == [] and empty["first_id"] is None and empty["has_more"] is True
    assert len(api.get("/v1/videos", params={"limit": 100}).json()["data"]) == 5
    for bad in ({"limit": 101}, {"limit": -1}, {"limit": "ten"}):
        assert_error(api.get("/v1/videos", params=bad), 400, "invalid_value", "limit")
    assert_error(api.get("/v1/videos", params={"order": "newest"}), 400, "invalid_value", "order")
    assert_error(api.get("/v1/videos", params={"after": "video_1"}), 400, "invalid_value", "after")


def test_delete_remix_content_need_a_finished_video(api: Api, pair: list[str]) -> None:
    vid = post(api, "/v1/videos", flf(pair)).json()["id"]
    err = assert_error(api.client.delete(f"/v1/videos/{vid}", headers=api.headers()), 409, "invalid_state")
    assert "queued" in err["message"]
    assert_error(post(api, f"/v1/videos/{vid}/remix", {"prompt": "again"}), 409, "invalid_state")
    assert_error(post(api, f"/v1/videos/{vid}/remix", {}), 400, "missing_required_parameter", "prompt")
    assert_error(api.get(f"/v1/videos/{vid}/content"), 409, "invalid_state")
    assert_error(
        api.get(f"/v1/videos/{vid}/content", params={"variant": "gif"}), 400, "invalid_value", "variant"
    )
    assert api.get(f"/v1/videos/{vid}").status_code == 200  # nothing was removed


def test_cancelled_renders_as_failed_and_can_be_deleted(api: Api, pair: list[str]) -> None:
    vid = post(api, "/v1/videos", flf(pair)).json()["id"]
    assert api.post(f"/ent/v2/tasks/{vid[6:]}/cancel", {}).status_code == 200
    body = api.get(f"/v1/videos/{vid}").json()
    assert body["status"] == "failed" and body["error"]["code"] == "cancelled"
    assert isinstance(body["completed_at"], int)
    resp = api.client.delete(f"/v1/videos/{vid}", headers=api.headers())
    assert resp.status_code == 200
    assert resp.json() == {"id": vid, "object": "video.deleted", "deleted": True}
    assert_error(api.get(f"/v1/videos/{vid}"), 404, "not_found")


def test_idempotency_key(api: Api, pair: list[str]) -> None:
    headers = {**api.headers("Bearer"), "Idempotency-Key": "k-1"}
    a = api.client.post("/v1/videos", json=flf(pair), headers=headers).json()
    b = api.client.post("/v1/videos", json=flf(pair), headers=headers).json()
    assert a["id"] == b["id"]
    assert len(api.get("/v1/videos").json()["data"]) == 1


# --- a real task -------------------------------------------------------------------------------------


def test_run_download_remix_delete(fast_api: Api, pair: list[str]) -> None:
    api = fast_api
    vid = post(api, "/v1/videos", flf(pair, size="1280x720")).json()["id"]
    done = wait(api, vid)
    assert done["status"] == "completed" and done["progress"] == 100, done
    assert done["size"] == "1280x720" and done["seconds"] == "4" and isinstance(done["completed_at"], int)

    video = api.get(f"/v1/videos/{vid}/content")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 24 and (frames[0].width, frames[0].height) == (1280, 720)
    thumb = api.get(f"/v1/videos/{vid}/content", params={"variant": "thumbnail"})
    assert thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (1280, 720)
    sheet = api.get(f"/v1/videos/{vid}/content", params={"variant": "spritesheet"})
    assert sheet.headers["content-type"] == "image/webp"
    img = Image.open(io.BytesIO(sheet.content))
    assert img.format == "WEBP" and img.size == (5 * 256, 5 * 144)
    again = api.get(f"/v1/videos/{vid}/content", params={"variant": "spritesheet"})
    assert again.content == sheet.content  # cached in blob storage

    remix = post(api, f"/v1/videos/{vid}/remix", {"prompt": "a different take"})
    assert remix.status_code == 200, remix.text
    remixed = remix.json()
    assert remixed["remixed_from_video_id"] == vid and remixed["prompt"] == "a different take"
    assert remixed["size"] == "1280x720" and remixed["seconds"] == "4"
    assert wait(api, remixed["id"])["status"] == "completed"

    resp = api.client.delete(f"/v1/videos/{vid}", headers=api.headers())
    assert resp.json() == {"id": vid, "object": "video.deleted", "deleted": True}
    assert_error(api.get(f"/v1/videos/{vid}/content"), 404, "not_found")
    # the remix kept its own copy of the inputs
    assert api.get(f"/v1/videos/{remixed['id']}/content").status_code == 200
