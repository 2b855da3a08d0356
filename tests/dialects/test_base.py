"""What every dialect shares (dialects/_base.py) and the canonical field rules (domain.py).

A rule written once must answer the same in every dialect, in the words of the field the
client sent; an unknown field is accepted and shows up in the debug log, once per request.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from framecast.config import Catalog
from framecast.dialects import _base
from framecast.dialects.baicai import translate as baicai
from framecast.dialects.kling import translate as kling
from framecast.dialects.newapi import translate as newapi
from framecast.dialects.openai_videos import translate as openai
from framecast.dialects.vidu import translate as vidu
from framecast.domain import ErrorCode, GenerationRequest, ImageRef, MovementAmplitude, TaskKind
from framecast.errors import ClientError
from framecast.service import SubmitLimits

URL = "https://example.com/a.png"


def refused(call: Any) -> ClientError:
    with pytest.raises(ClientError) as err:
        call()
    return err.value


def vidu_img(**extra: Any) -> GenerationRequest:
    req, _ = vidu.parse(vidu.ENDPOINTS["img2video"], {"model": "viduq2", "images": [URL], **extra})
    return req


def newapi_img(**extra: Any) -> GenerationRequest:
    req, _ = newapi.parse({"model": "viduq2", "image": URL, **extra})
    return req


def baicai_i2v(**inp: Any) -> GenerationRequest:
    body = {"selected_model": "wan", "task_type": "i2v", "input": {"image": URL, "prompt": "p", **inp}}
    req, _ = baicai.parse(body, lambda role, src: ImageRef(role=role, source=src))
    return req


# --- unknown fields: accepted, logged once per request ----------------------------------------------


def test_unknown_fields_are_accepted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="framecast.dialects._base")
    body = {"subjects": [{"name": "a", "images": [URL], "colour": "red"}], "prompt": "p", "sede": 7}
    req, _ = vidu.parse(vidu.ENDPOINTS["reference2video"], {"model": "viduq2", **body})
    assert req.seed is None  # the misspelt field changed nothing ...
    records = [r for r in caplog.records if r.name == "framecast.dialects._base"]
    assert len(records) == 1  # ... and the log says so, once, naming every ignored field
    assert "sede" in records[0].getMessage() and "subjects[0].colour" in records[0].getMessage()


def test_nested_unknown_fields_carry_their_prefix(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="framecast.dialects._base")
    newapi_img(metadata={"seed": 3, "colour": "red"}, extra_body={"sed": 1})
    text = " ".join(r.getMessage() for r in caplog.records if r.name == "framecast.dialects._base")
    assert "metadata.colour" in text and "extra_body.sed" in text


def test_a_known_body_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="framecast.dialects._base")
    vidu_img(prompt="p", seed=3)
    assert not [r for r in caplog.records if r.name == "framecast.dialects._base"]


# --- the canonical rules, one answer in every dialect ---------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: vidu_img(seed=-1),
        lambda: newapi_img(extra_body={"seed": -1}),
        lambda: newapi_img(metadata={"seed": -5}),
        lambda: openai.parse(
            {"prompt": "p", "seed": -1}, catalog=Catalog.load(), resolve_file=lambda file_id: file_id
        ),
    ],
)
def test_a_negative_seed_is_refused_alike(call: Any) -> None:
    err = refused(call)
    assert (err.code, err.param, err.message) == (
        ErrorCode.INVALID_FIELD,
        "seed",
        "seed must be a non-negative integer",
    )


def test_watermark_position_is_checked_even_when_zero() -> None:
    err = refused(lambda: vidu_img(wm_position=0))
    assert err.param == "wm_position" and "1, 2, 3 or 4" in err.message


def test_a_rule_names_the_field_the_client_sent() -> None:
    err = refused(lambda: newapi_img(metadata={"wm_position": 9, "watermark": True}))
    assert err.message == "metadata.wm_position must be 1, 2, 3 or 4"
    err = refused(lambda: newapi_img(metadata={"payload": "x" * 1_048_577}))
    assert err.message == "metadata.payload is 1048577 characters; the limit is 1048576"
    err = refused(lambda: baicai_i2v(number_of_videos=5))
    assert (err.param, err.message) == (
        "input.number_of_videos",
        "input.number_of_videos must be between 1 and 4",
    )
    err = refused(lambda: newapi_img(n=0))
    assert (err.param, err.message) == ("n", "n must be between 1 and 4")


def test_vocabularies_and_sizes_are_checked_once() -> None:
    assert vidu_img(movement_amplitude="LARGE").movement_amplitude is MovementAmplitude.LARGE
    err = refused(lambda: vidu_img(movement_amplitude="huge"))
    assert err.param == "movement_amplitude"
    err = refused(lambda: newapi_img(size="1281x720"))
    assert err.param == "size" and "even number of pixels between 128 and 3840" in err.message
    assert newapi_img(size="1280 x 720").size == (1280, 720)
    err = refused(lambda: vidu_img(meta_data="{not json"))
    assert (err.param, err.message) == ("meta_data", "meta_data must be a JSON string")


def test_the_canonical_model_refuses_bad_values_whoever_builds_it() -> None:
    err = refused(lambda: GenerationRequest(kind=TaskKind.TEXT, model="m", fps=61))
    assert (err.code, err.param) == (ErrorCode.INVALID_FIELD, "fps")
    err = refused(lambda: GenerationRequest(kind=TaskKind.TEXT, model="m", seed=2**63))
    assert err.param == "seed"


# --- durations several vendors spell alike ----------------------------------------------------------


def test_durations_as_ints_or_digit_strings() -> None:
    assert kling.parse_text2video({"prompt": "p", "duration": "10"}).request.duration == 10
    assert newapi_img(seconds="4").duration == 4
    for bad in ("2.5", "five", "-3"):
        err = refused(lambda bad=bad: newapi_img(duration=bad))
        assert err.param == "duration" and "whole number of seconds" in err.message
    err = refused(lambda: kling.parse_text2video({"prompt": "p", "duration": "5s"}))
    assert err.message == "duration must be a whole number of seconds like \"5\"; got '5s'"


# --- the limits a dialect overrides are only its own ------------------------------------------------


def test_dialect_limits_override_only_what_the_vendor_sets() -> None:
    default = SubmitLimits()
    assert vidu.LIMITS == newapi.LIMITS == openai.LIMITS == default
    assert baicai.LIMITS.max_prompt_chars == default.max_prompt_chars
    assert baicai.LIMITS.images.formats == frozenset({"png", "jpeg"})
    assert kling.LIMITS.pair_ratio is None and kling.LIMITS.max_prompt_chars == 2500


def test_build_request_leaves_unnamed_fields_alone() -> None:
    err = refused(lambda: _base.build_request(names={"n": "count"}, kind=TaskKind.TEXT, model="m", seed=-1))
    assert err.param == "seed"
