"""Each app serves the dialects it was given, and only those: two apps in one process share nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from framecast.app import DEFAULT_DIALECTS, create_app
from framecast.dialects import kling, newapi, openai_videos, vidu
from framecast.dialects.common import default_error
from framecast.dialects.dialect import Dialect, fixed
from framecast.engines.registry import EngineRegistry
from framecast.store.keys import create_key
from tests.conftest import Api, make_settings


@pytest.fixture
def two_apps(tmp_path: Path) -> Iterator[tuple[Api, Api]]:
    """A Vidu-only app and a Kling + OpenAI app, both running at once."""
    apps = [
        create_app(make_settings(tmp_path / "a"), dialects=[vidu.DIALECT]),
        create_app(make_settings(tmp_path / "b"), dialects=[kling.DIALECT, openai_videos.DIALECT]),
    ]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        apis = []
        for client in (first, second):
            with client.app.state.db.session() as s:  # type: ignore[attr-defined]
                row, token = create_key(s, name="test")
            apis.append(Api(client, token, row.tenant))
        yield apis[0], apis[1]


def test_each_app_answers_only_its_own_dialects(two_apps: tuple[Api, Api], pair: list[str]) -> None:
    vidu_only, kling_openai = two_apps
    body = {"model": "viduq3-pro", "images": pair}
    assert vidu_only.post("/ent/v2/start-end2video", body).status_code == 200
    # the other app never mounted Vidu: an unknown route, in its fallback envelope
    missing = kling_openai.post("/ent/v2/start-end2video", body)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"

    # and the Vidu-only app knows neither OpenAI's routes nor its envelope
    resp = vidu_only.get("/v1/videos", scheme="Bearer")
    assert resp.status_code == 404
    assert "reason" not in resp.json() and resp.json()["error"]["code"] == "not_found"
    listed = kling_openai.get("/v1/videos", scheme="Bearer")
    assert listed.status_code == 200 and listed.json()["object"] == "list"


def test_errors_use_the_envelope_of_the_apps_own_dialects(two_apps: tuple[Api, Api]) -> None:
    vidu_only, kling_openai = two_apps
    # an unknown route under /v1/videos/: OpenAI's envelope where OpenAI is mounted, the fallback elsewhere
    openai = kling_openai.get("/v1/videos/nope/nope", scheme="Bearer").json()
    assert set(openai["error"]) == {"message", "type", "param", "code"}
    fallback = vidu_only.get("/v1/videos/nope/nope", scheme="Bearer").json()
    assert set(fallback["error"]) == {"code", "message", "param", "trace_id"}
    # Kling's numeric envelope under its own prefix, even though OpenAI's prefix also matches
    kling_body = kling_openai.client.get("/v1/videos/image2video/1").json()
    assert kling_body["code"] == 1001 and "request_id" in kling_body
    # Vidu's envelope exists only in the app that mounted Vidu
    assert vidu_only.client.get("/ent/v2/tasks/1/creations").json()["reason"] == "Unauthorized"
    assert "reason" not in kling_openai.client.get("/ent/v2/tasks/1/creations").json()
    # the native task routes belong to every app, in their own envelope
    for api in (vidu_only, kling_openai):
        native = api.get("/v1/tasks/1").json()
        assert set(native["error"]) == {"code", "message", "trace_id"}


def test_a_dialect_that_takes_callbacks_needs_a_callback_renderer(tmp_path: Path) -> None:
    mute = dataclasses.replace(newapi.DIALECT, render_callback=None)
    with pytest.raises(RuntimeError, match="newapi"):
        create_app(make_settings(tmp_path), dialects=[vidu.DIALECT, mute])
    # one that takes none may go without
    quiet = dataclasses.replace(newapi.DIALECT, render_callback=None, accepts_callbacks=False)
    app = create_app(make_settings(tmp_path), dialects=[quiet])
    assert "newapi" not in app.state.dialects.callbacks


def test_the_default_dialects_and_their_names() -> None:
    names = [d.name for d in DEFAULT_DIALECTS]
    assert names == ["vidu", "qianfan", "kling", "baicai", "newapi", "openai"]
    # openai last: its GET /v1/videos/{video_id} must not shadow Kling's and Baicai's routes
    assert DEFAULT_DIALECTS[-1] is openai_videos.DIALECT
    assert all(isinstance(d, Dialect) for d in DEFAULT_DIALECTS)


def test_a_dialects_defaults_come_from_its_router_and_renderer() -> None:
    """A declaration names only what differs: the prefixes are its router's, and a callback body
    means it takes callback URLs, unless it says otherwise."""
    router = APIRouter(prefix="/x/v1")
    plain = Dialect("x", router, default_error)
    assert plain.prefixes == ("/x/v1",) and plain.accepts_callbacks is False
    calling = Dialect("x", router, default_error, fixed(newapi.translate.render_query))
    assert calling.accepts_callbacks is True
    assert Dialect("x", router, default_error, prefixes=("/x/v1/a", "/x/v1/b")).prefixes == (
        "/x/v1/a",
        "/x/v1/b",
    )
    # nothing to fall back on: a router mounted at the root must say which paths it answers
    with pytest.raises(ValueError, match="explicit prefixes"):
        Dialect("x", APIRouter(), default_error)


def test_two_dialects_with_one_name_refuse_to_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="unique"):
        create_app(make_settings(tmp_path), dialects=[vidu.DIALECT, vidu.DIALECT])


def test_engines_registered_on_one_registry_stay_there() -> None:
    extra = EngineRegistry(extra={"twin": "framecast.engines.builtin:BuiltinEngine"})
    plain = EngineRegistry()
    assert extra.known("twin") and "twin" in extra.names()
    assert not plain.known("twin") and "twin" not in plain.names()
