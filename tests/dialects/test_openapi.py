"""The OpenAPI document describes every request body and error envelope; 405 names the allowed methods."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

import framecast.app
import framecast.events
from framecast.app import create_app
from tests.conftest import Api, make_settings
from tests.dialects import schemas
from tests.dialects.schemas import check


@pytest.mark.parametrize(
    ("method", "path", "allow", "schema"),
    [
        ("PUT", "/ent/v2/tasks", "GET", schemas.VIDU_ERROR),
        ("GET", "/ent/v2/start-end2video", "POST", schemas.VIDU_ERROR),
        ("PUT", "/v1/videos", "GET, POST", schemas.OPENAI_ERROR),
        ("PUT", "/v1/models", "GET", schemas.OPENAI_ERROR),
        ("PATCH", "/v1/video/generations", "POST", schemas.NEWAPI_ERROR),
        ("PUT", "/beta/video/generations/qianfan-video", "GET, POST", schemas.QIANFAN_HTTP_ERROR),
        ("PUT", "/v1/videos/omni-video", "DELETE, GET, POST", schemas.KLING_ERROR),
        ("PUT", "/v1/comfyui/tasks/1/status", "GET", schemas.BAICAI_ERROR),
    ],
)
def test_405_has_allow_header_and_the_dialect_envelope(
    api: Api, method: str, path: str, allow: str, schema: Any
) -> None:
    resp = api.client.request(method, path, headers=api.headers("Bearer"))
    assert resp.status_code == 405, resp.text
    assert resp.headers["allow"] == allow
    check(resp.json(), schema)
    assert method in resp.text and allow.split(", ")[0] in resp.text


# every route that creates something, and the envelope its errors answer in
CREATE_ROUTES = {
    "/ent/v2/start-end2video": "ViduError",
    "/ent/v2/img2video": "ViduError",
    "/ent/v2/text2video": "ViduError",
    "/ent/v2/reference2video": "ViduError",
    "/beta/video/generations/qianfan-video": "QianfanError",
    "/v1/videos/image2video": "KlingError",
    "/v1/videos/omni-video": "KlingError",
    "/v1/videos/text2video": "KlingError",
    "/v1/videos": "OpenAIError",
    "/v1/videos/{video_id}/remix": "OpenAIError",
    "/v1/files": "OpenAIError",
    "/v1/video/generations": "NewApiError",
    "/v1/videos/generations": "BaicaiError",
    "/v1/resources/upload": "BaicaiError",
}


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_openapi_describes_request_bodies_and_error_envelopes(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    components = doc["components"]["schemas"]
    posts = {path for path, item in doc["paths"].items() if "post" in item}
    assert set(CREATE_ROUTES) <= posts
    for path in sorted(posts):
        op = doc["paths"][path]["post"]
        body = op.get("requestBody")
        assert body and body["content"], f"POST {path} declares no request body"
        for media in body["content"].values():
            schema = media["schema"]
            assert schema.get("properties") or schema.get("$ref"), f"POST {path}: empty body schema"
    for path, envelope in CREATE_ROUTES.items():
        op = doc["paths"][path]["post"]
        for status in ("400", "401", "404", "405", "500"):
            assert status in op["responses"], f"POST {path} does not describe {status}"
            assert envelope in str(op["responses"][status]["content"]), f"POST {path} {status}"
        assert "422" not in op["responses"]  # validation errors answer 400 in the dialect's envelope
    # the Vidu body is Vidu's wire model, with the fields the seed page lists
    vidu = doc["paths"]["/ent/v2/start-end2video"]["post"]["requestBody"]["content"]["application/json"]
    assert {"model", "images", "prompt", "callback_url", "cus_priority"} <= set(vidu["schema"]["properties"])
    openai = doc["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(openai)
    # every $ref in the document resolves
    for ref in _refs(doc):
        assert ref.removeprefix("#/components/schemas/") in components, ref
    # error envelopes match what the routes send
    assert set(components["ViduError"]["properties"]) == {"code", "reason", "message", "metadata"}
    assert set(components["OpenAIError"]["properties"]) == {"error"}
    assert set(components["KlingError"]["properties"]) == {"code", "message", "request_id"}


def test_routes_added_as_they_are_describe_what_include_router_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # flat_routes.add_routes skips FastAPI's per-request router wrappers; the document must not change
    flat = create_app(make_settings(tmp_path / "flat")).openapi()

    def include(app: FastAPI, router: APIRouter) -> None:
        app.include_router(router)

    monkeypatch.setattr(framecast.app, "add_routes", include)
    monkeypatch.setattr(framecast.events, "add_routes", include)
    included = create_app(make_settings(tmp_path / "included"))
    assert any(type(r).__name__ == "_IncludedRouter" for r in included.router.routes)
    assert json.dumps(included.openapi()) == json.dumps(flat)
