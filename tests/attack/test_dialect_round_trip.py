"""Property tests (Hypothesis): ``render(parse(x))`` keeps every field the client sent. Each accepted
create answers with what was asked for, through the real app, so neither the parser nor the
service's defaults can drop or change a field; a refused one is refused in the dialect's envelope."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framecast.dialects.vidu import translate as vidu
from tests.conftest import Api

_unique = itertools.count()  # a client_request_id is an idempotency key: each example needs its own

WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60)
VIDU_FIELDS = st.fixed_dictionaries(
    {"model": st.sampled_from(["viduq3-pro", "viduq3-turbo", "viduq2-pro"])},
    optional={
        "prompt": WORDS,
        "style": st.sampled_from(["general", "anime"]),
        "duration": st.integers(1, 8),
        "seed": st.integers(1, 2**31 - 1),
        "aspect_ratio": st.sampled_from(["16:9", "9:16", "1:1"]),
        "resolution": st.sampled_from(["540p", "720p", "1080p"]),
        "movement_amplitude": st.sampled_from(["auto", "small", "medium", "large"]),
        "bgm": st.booleans(),
        "payload": WORDS,
        "off_peak": st.booleans(),
        "watermark": st.booleans(),
        "wm_position": st.integers(1, 4),
        "meta_data": st.dictionaries(WORDS, WORDS, max_size=2).map(json.dumps),
        "client_request_id": st.text("abcdef0123456789-", min_size=1, max_size=32),
        "cus_priority": st.integers(0, 5),
    },
)


EXAMPLES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_every_accepted(
    fields: st.SearchStrategy[dict[str, Any]], create: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> None:
    """Run ``create`` on generated requests; it returns the answer of an accepted create (after checking
    it) or None for a refused one. Fails when too few were accepted for the property to mean anything."""
    accepted = 0

    @EXAMPLES
    @given(sent=fields)
    def check(sent: dict[str, Any]) -> None:
        nonlocal accepted
        if create(sent) is not None:
            accepted += 1

    check()
    assert accepted >= 3, f"only {accepted} accepted creates: the property was hardly checked"


def test_vidu_create_answers_with_every_field_sent(api: Api, pair: list[str]) -> None:
    def create(sent: dict[str, Any]) -> dict[str, Any] | None:
        if "client_request_id" in sent:
            sent = {**sent, "client_request_id": f"{sent['client_request_id']}-{next(_unique)}"}
        resp = api.post("/ent/v2/start-end2video", {**sent, "images": pair})
        if resp.status_code != 200:  # a duration the model does not offer...: refused in Vidu's words
            assert resp.status_code == 400 and resp.json()["reason"], resp.text
            return None
        echoed: dict[str, Any] = resp.json()
        # inline images are echoed elided (a create answer carrying megabytes of base64 helps nobody)
        assert len(echoed["images"]) == 2
        assert all(i.startswith("data:") and len(i) < 64 for i in echoed["images"]), echoed["images"]
        expected = dict(sent)
        if "wm_position" in sent:
            expected["wm_position"] = vidu.WM_WORDS[sent["wm_position"]]
        for field, value in expected.items():
            assert echoed[field] == value, (field, value, echoed[field])
        return echoed

    _check_every_accepted(VIDU_FIELDS, create)


OPENAI_FIELDS = st.fixed_dictionaries(
    {"model": st.sampled_from(["sora-2", "sora-2-pro"]), "prompt": WORDS},
    optional={
        "seconds": st.sampled_from(["4", "8", "12"]),
        "size": st.sampled_from(["1280x720", "720x1280", "1792x1024"]),
    },
)


def test_openai_create_answers_with_every_field_sent(api: Api, pair: list[str]) -> None:
    def create(sent: dict[str, Any]) -> dict[str, Any] | None:
        resp = api.post("/v1/videos", {**sent, "input_reference": {"image_url": pair[0]}}, scheme="Bearer")
        if resp.status_code != 200:
            assert resp.status_code == 400 and resp.json()["error"]["message"], resp.text
            return None
        echoed: dict[str, Any] = resp.json()
        for field, value in sent.items():
            assert echoed[field] == value, (field, value, echoed[field])
        return echoed

    _check_every_accepted(OPENAI_FIELDS, create)
