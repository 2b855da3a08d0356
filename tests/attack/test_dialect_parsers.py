"""Property tests (Hypothesis): any JSON object, with the dialect's own field names and wrong types
mixed in, either parses or is refused with a ``ClientError`` (which the app renders in the dialect's
envelope): never an unhandled exception, which would be a 500. ``test_dialect_round_trip.py`` checks
that an accepted create answers with every field sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import tests.dialects.test_qianfan as qianfan_tests
from framecast.config import Catalog
from framecast.dialects.baicai import translate as baicai
from framecast.dialects.baicai.models import BaicaiCreate
from framecast.dialects.kling import translate as kling
from framecast.dialects.kling.models import Omni
from framecast.dialects.newapi import translate as newapi
from framecast.dialects.newapi.models import GenerationCreate
from framecast.dialects.openai_videos import translate as openai
from framecast.dialects.openai_videos.models import VideoCreate
from framecast.dialects.qianfan import translate as qianfan
from framecast.dialects.qianfan.models import QianfanCreate
from framecast.dialects.vidu import translate as vidu
from framecast.dialects.vidu.models import ViduCreate
from framecast.domain import ErrorCode, ImageRef, ImageRole
from framecast.errors import ClientError
from tests.conftest import Api

CATALOG = Catalog.load()
# lone surrogates cannot be sent as JSON; everything else (NUL, emoji, RTL marks) can
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
IMAGE = "data:image/png;base64,iVBORw0KGgo="  # parsers check the shape of an image field, not its bytes


def _bodies(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects using ``model``'s field names (and a few strangers) with values of any JSON type,
    plus plausible values for the fields that pick a code path (model names, image lists)."""
    names = [*sorted(model.model_fields), "surprise"]
    plausible = {
        "model": st.sampled_from(CATALOG.names()) | TEXT,
        "images": st.lists(st.just(IMAGE), max_size=3),
        "image": st.just(IMAGE),
        "type": st.sampled_from([*qianfan.VIDU_TYPES, *qianfan.KLING_TYPES]),
        "prompt": TEXT,
    }
    values = {n: plausible[n] | JSON_VALUES if n in plausible else JSON_VALUES for n in names}
    return st.fixed_dictionaries({}, optional=values)


def _baicai(raw: dict[str, Any]) -> object:
    return baicai.parse(raw, lambda role, source: ImageRef(role=role, source=source))


def _openai(raw: dict[str, Any]) -> object:
    def resolve_file(file_id: str, role: ImageRole, param: str) -> ImageRef:
        raise ClientError(ErrorCode.INVALID_FIELD, f"no file {file_id!r}", param=param)  # none uploaded

    return openai.parse(raw, catalog=CATALOG, resolve_file=resolve_file)  # type: ignore[arg-type]


def _qianfan(raw: dict[str, Any]) -> object:
    body = qianfan.parse_body(raw)
    return qianfan.parse(body, qianfan.family_of(CATALOG, body.model or ""))


PARSERS: dict[str, tuple[type[BaseModel], Callable[[dict[str, Any]], object]]] = {
    **{f"vidu {p}": (ViduCreate, lambda raw, e=e: vidu.parse(e, raw)) for p, e in vidu.ENDPOINTS.items()},
    "kling image2video": (Omni, kling.parse_image2video),
    "kling text2video": (Omni, kling.parse_text2video),
    "kling omni-video": (Omni, kling.parse_omni),
    "newapi": (GenerationCreate, newapi.parse),
    "openai": (VideoCreate, _openai),
    "qianfan": (QianfanCreate, _qianfan),
    "baicai": (BaicaiCreate, _baicai),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_parser_refuses_with_a_client_error_or_parses(name: str) -> None:
    model, parse = PARSERS[name]

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_bodies(model))
    def check(raw: dict[str, Any]) -> None:
        try:
            parse(raw)
        except ClientError as exc:
            assert exc.message, raw  # a person must be told what is wrong

    check()


def test_qianfan_kling_family_img2video_is_served(api: Api) -> None:
    """Found by the property above: Qianfan's ``img2video`` for a Kling-family model was looked up under
    its own name among Kling's endpoints (which call it ``image2video``) and answered 500."""
    body = {
        "model": "KO1",
        "type": "img2video",
        "model_parameters": {"image": qianfan_tests.FIRST, "prompt": "the bird takes off", "duration": "5"},
    }
    resp = api.post("/beta/video/generations/qianfan-video", body, scheme="Bearer")
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["task_status"] == "submitted"
