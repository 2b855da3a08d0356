"""The OpenAPI document describes every request body and error envelope; 405 names the allowed methods."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
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
