"""Every dialect's create, query and error bodies checked key by key against tests/dialects/schemas.py.

The schemas are written from the reference and the seed pages; a key the vendor
requires that framecast leaves out, or one framecast invents without documenting
it, fails here. Queued, cancelled and succeeded tasks are all checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Api, data_uri, image_bytes
from tests.dialects import schemas
from tests.dialects.schemas import check

KLING_FIRST = data_uri(image_bytes(400, 300, seed=1))
KLING_LAST = data_uri(image_bytes(400, 300, seed=1, shift=10))
QIANFAN = "/beta/video/generations/qianfan-video"


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(api: Api, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    return api.client.request(method, path, json=body, headers=api.headers("Bearer"), **kw)


def cancel(api: Api, task_id: str) -> None:
    assert api.post(f"/ent/v2/tasks/{task_id}/cancel", {}).status_code == 200


def create_query_cancel(
    api: Api, path: str, body: dict[str, Any], created: Any, query: Any, prefix: str
) -> str:
    """Create at ``path``, query the task queued and, once cancelled, again; returns its public id.

    ``created`` and ``query`` are the reference schemas of the answers; ``prefix`` is what the
    public id adds before framecast's task id.
    """
    answer = ok(bearer(api, "POST", path, body))
    check(answer, created, "create")
    public_id: str = answer["id"]
    check(ok(bearer(api, "GET", f"{path}/{public_id}")), query, "queued")
    cancel(api, public_id.removeprefix(prefix))
    check(ok(bearer(api, "GET", f"{path}/{public_id}")), query, "cancelled")
    return public_id


def test_vidu_responses_match_the_reference(api: Api, pair: list[str]) -> None:
    body = {
        "model": "viduq3-pro",
        "images": pair,
        "prompt": "the camera follows",
        "duration": 2,
        "cus_priority": 3,
        "client_request_id": "req-schema-1",
    }
    created = ok(api.post("/ent/v2/start-end2video", body))
    check(created, schemas.VIDU_CREATE, "start-end2video")
    # sent values come back: the seed page lists both as required response fields
    assert created["cus_priority"] == 3 and created["client_request_id"] == "req-schema-1"
    plain = ok(api.post("/ent/v2/img2video", {"model": "viduq3-pro", "images": pair[:1]}))
    check(plain, schemas.VIDU_CREATE, "img2video")
    assert plain["cus_priority"] == 0 and plain["client_request_id"] == ""
    task_id = created["task_id"]
    check(ok(api.get(f"/ent/v2/tasks/{task_id}/creations")), schemas.VIDU_QUERY, "queued")
    cancel(api, task_id)
    check(ok(api.get(f"/ent/v2/tasks/{task_id}/creations")), schemas.VIDU_QUERY, "cancelled")
    check(api.get("/ent/v2/tasks/1/creations").json(), schemas.VIDU_ERROR)
    check(api.post("/ent/v2/start-end2video", {"images": pair}).json(), schemas.VIDU_ERROR)


def test_kling_responses_match_the_reference(api: Api) -> None:
    body = {"model_name": "kling-v1", "image": KLING_FIRST, "image_tail": KLING_LAST, "duration": "5"}
    created = ok(bearer(api, "POST", "/v1/videos/image2video", {**body, "external_task_id": "ext-1"}))
    check(created, schemas.KLING_CREATE, "image2video")
    task_id = created["data"]["task_id"]
    check(ok(bearer(api, "GET", f"/v1/videos/image2video/{task_id}")), schemas.KLING_QUERY, "queued")
    check(ok(bearer(api, "GET", "/v1/videos/image2video")), schemas.KLING_LIST, "list")
    cancel(api, task_id)
    check(ok(bearer(api, "GET", f"/v1/videos/image2video/{task_id}")), schemas.KLING_QUERY, "cancelled")
    check(bearer(api, "GET", "/v1/videos/image2video/1").json(), schemas.KLING_ERROR)
    check(
        bearer(api, "POST", "/v1/videos/image2video", {"model_name": "kling-v1"}).json(), schemas.KLING_ERROR
    )


def test_qianfan_responses_match_the_reference(api: Api) -> None:
    images = [
        {"image_url": KLING_FIRST, "type": "first_frame"},
        {"image_url": KLING_LAST, "type": "end_frame"},
    ]
    ko1 = {
        "model": "KO1",
        "type": "omni-video",
        "model_parameters": {"mode": "pro", "duration": "5", "prompt": "the bird", "image_list": images},
    }
    created = ok(bearer(api, "POST", QIANFAN, ko1))
    check(created, schemas.QIANFAN_KLING_CREATE, "KO1 create")
    task_id = created["data"]["task_id"]
    query = ok(bearer(api, "GET", QIANFAN, params={"task_id": task_id}))
    check(query, schemas.QIANFAN_KLING_QUERY, "KO1 query")
    cancel(api, task_id)
    check(ok(bearer(api, "GET", QIANFAN, params={"task_id": task_id})), schemas.QIANFAN_KLING_QUERY)

    vq = {
        "model": "VQ2-Pro",
        "type": "start-end2video",
        "model_parameters": {"images": [KLING_FIRST, KLING_LAST], "prompt": "the bird", "duration": 2},
    }
    created = ok(bearer(api, "POST", QIANFAN, vq))
    check(created, schemas.QIANFAN_VIDU_CREATE, "VQ create")
    query = ok(bearer(api, "GET", QIANFAN, params={"task_id": created["id"]}))
    check(query, schemas.QIANFAN_VIDU_QUERY, "VQ query")
    check(bearer(api, "POST", QIANFAN, {"model": "nope", "type": "x"}).json(), schemas.QIANFAN_HTTP_ERROR)
    check(bearer(api, "GET", QIANFAN, params={"task_id": "1"}).json(), schemas.KLING_ERROR)


def test_openai_responses_match_the_reference(api: Api, pair: list[str]) -> None:
    body = {
        "prompt": "drifts",
        "input_reference": {"image_url": pair[0]},
        "last_frame": {"image_url": pair[1]},
    }
    video_id = create_query_cancel(
        api, "/v1/videos", body, schemas.OPENAI_VIDEO, schemas.OPENAI_VIDEO, "video_"
    )
    check(ok(bearer(api, "GET", "/v1/videos")), schemas.OPENAI_LIST, "list")
    check(ok(bearer(api, "DELETE", f"/v1/videos/{video_id}")), schemas.OPENAI_DELETED, "delete")
    check(bearer(api, "GET", "/v1/videos/video_1").json(), schemas.OPENAI_ERROR)
    check(bearer(api, "POST", "/v1/videos", {}).json(), schemas.OPENAI_ERROR)


def test_newapi_responses_match_the_reference(api: Api, pair: list[str]) -> None:
    body = {
        "model": "viduq3p-540p",
        "prompt": "turns",
        "image": pair[0],
        "last_image": pair[1],
        "duration": 2,
    }
    path = "/v1/video/generations"
    create_query_cancel(api, path, body, schemas.NEWAPI_CREATE, schemas.NEWAPI_QUERY, "task_")
    check(bearer(api, "GET", "/v1/video/generations/task_1").json(), schemas.NEWAPI_ERROR)
    check(bearer(api, "POST", "/v1/video/generations", {"images": [""]}).json(), schemas.NEWAPI_ERROR)


def test_baicai_responses_match_the_reference(api: Api) -> None:
    first, last = data_uri(image_bytes(320, 180, seed=1)), data_uri(image_bytes(320, 180, seed=1, shift=10))
    inp = {"image": first, "last_image": last, "prompt": "小狗起身轻嗅", "resolution": "720p", "duration": 5}
    body = {"selected_model": "Viduq2-pro-FLF2V-fast", "task_type": "flf2video", "input": inp}
    created = ok(bearer(api, "POST", "/v1/videos/generations", body))
    check(created, schemas.BAICAI_CREATE, "create")
    task_id = created["data"]["taskId"]
    check(ok(bearer(api, "GET", f"/v1/comfyui/tasks/{task_id}/status")), schemas.BAICAI_STATUS, "queued")
    check(ok(bearer(api, "GET", f"/v1/comfyui/tasks/{task_id}/result")), schemas.BAICAI_RESULT, "queued")
    cancel(api, task_id)
    check(ok(bearer(api, "GET", f"/v1/comfyui/tasks/{task_id}/status")), schemas.BAICAI_STATUS, "cancelled")
    check(bearer(api, "GET", "/v1/comfyui/tasks/1/status").json(), schemas.BAICAI_ERROR)
    check(bearer(api, "POST", "/v1/videos/generations", {}).json(), schemas.BAICAI_ERROR)


def test_a_finished_task_matches_every_dialects_query_schema(make_api: Callable[..., Api]) -> None:
    api = make_api(workers=1)
    pair = [data_uri(image_bytes(seed=1)), data_uri(image_bytes(seed=1, shift=12))]
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", "watermark": False}
    task_id = ok(api.post("/ent/v2/start-end2video", body))["task_id"]
    assert api.wait(task_id)["state"] == "success"
    vidu = ok(api.get(f"/ent/v2/tasks/{task_id}/creations"))
    check(vidu, schemas.VIDU_QUERY, "vidu")
    assert vidu["creations"] and vidu["creations"][0]["watermarked_url"] == ""
    check(ok(bearer(api, "GET", f"/v1/videos/image2video/{task_id}")), schemas.KLING_QUERY, "kling")
    check(ok(bearer(api, "GET", QIANFAN, params={"task_id": task_id})), schemas.QIANFAN_VIDU_QUERY, "qianfan")
    check(ok(bearer(api, "GET", f"/v1/videos/video_{task_id}")), schemas.OPENAI_VIDEO, "openai")
    check(ok(bearer(api, "GET", f"/v1/video/generations/task_{task_id}")), schemas.NEWAPI_QUERY, "newapi")
    check(ok(bearer(api, "GET", f"/v1/comfyui/tasks/{task_id}/status")), schemas.BAICAI_STATUS, "baicai")
    result = ok(bearer(api, "GET", f"/v1/comfyui/tasks/{task_id}/result"))
    check(result, schemas.BAICAI_RESULT, "baicai result")
    assert result["data"]["urls"]
