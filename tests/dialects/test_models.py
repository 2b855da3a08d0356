"""GET /v1/models and /v1/models/{id}: the model list the unknown-model error points at."""

from __future__ import annotations

from tests.conftest import Api
from tests.dialects.test_openai_videos import assert_error

MODEL_KEYS = {
    "id",
    "object",
    "created",
    "owned_by",
    "engine",
    "family",
    "kinds",
    "durations",
    "default_duration",
    "resolutions",
    "default_resolution",
    "fps",
}


def test_unknown_model_error_points_at_a_route_that_lists_models(api: Api, pair: list[str]) -> None:
    resp = api.post("/ent/v2/start-end2video", {"model": "no-such-model", "images": pair})
    assert resp.status_code == 400 and "GET /v1/models" in resp.json()["message"]
    listed = api.get("/v1/models", scheme="Bearer")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert set(body) == {"object", "data"} and body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert {"viduq3-pro", "sora-2", "viduq1"} <= set(ids)
    for model in body["data"]:
        assert set(model) == MODEL_KEYS
        assert model["object"] == "model" and isinstance(model["created"], int)
        assert isinstance(model["owned_by"], str) and model["owned_by"]
        assert all(isinstance(d, int) for d in model["durations"]) and model["durations"]
        assert model["default_resolution"] in model["resolutions"]


def test_models_show_what_the_builtin_engine_serves(api: Api) -> None:
    model = api.get("/v1/models/viduq3-pro", scheme="Bearer").json()
    assert model["id"] == "viduq3-pro" and model["engine"] == "builtin"
    # the built-in engine makes image and first/last videos, not text-to-video
    assert "first_last" in model["kinds"] and "text" not in model["kinds"]
    assert model["durations"] == list(range(1, 17))
    viduq1 = api.get("/v1/models/viduq1", scheme="Bearer").json()
    assert viduq1["durations"] == [5] and viduq1["resolutions"] == ["1080p"]


def test_unknown_model_is_404_in_openai_envelope(api: Api) -> None:
    body = assert_error(api.get("/v1/models/no-such-model", scheme="Bearer"), 404, "not_found", "model")
    assert "no-such-model" in body["message"]


def test_models_need_a_key(api: Api) -> None:
    assert_error(api.client.get("/v1/models"), 401, "invalid_api_key")
    assert_error(api.client.get("/v1/models/sora-2"), 401, "invalid_api_key")
