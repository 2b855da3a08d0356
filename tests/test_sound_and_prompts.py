"""bgm, audio, is_rec and need_expand_prompt through the dialects, all the way to the MP4."""

from __future__ import annotations

import io
from typing import Any

import av
import pytest

from framecast.audio import mix
from tests.conftest import Api, data_uri, image_bytes
from tests.test_end_to_end import fetch


@pytest.fixture
def panned() -> list[str]:
    """A pair whose camera pans left: the content moves 24 px right in a 256 px frame."""
    return [data_uri(image_bytes(seed=3)), data_uri(image_bytes(seed=3, shift=24))]


def start_end(api: Api, images: list[str], **fields: Any) -> Any:
    """A Vidu start-end2video create: a short 540p viduq2-pro video unless ``fields`` say otherwise."""
    body = {"model": "viduq2-pro", "images": images, "duration": 2, "resolution": "540p", **fields}
    return api.post("/ent/v2/start-end2video", body)


def native(api: Api, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/v1/tasks/{task_id}", scheme="Bearer").json()
    return body


def test_vidu_bgm_puts_a_mood_track_in_the_mp4(api_with_workers: Api, panned: list[str]) -> None:
    api = api_with_workers
    created = start_end(api, panned, bgm=True, prompt="A calm lake, gentle breeze", watermark=True)
    assert created.status_code == 200, created.text
    assert created.json()["bgm"] is True
    body = api.wait(created.json()["task_id"])
    assert body["state"] == "success", body
    assert body["bgm"] is True
    (creation,) = body["creations"]
    for url in (creation["url"], creation["watermarked_url"]):
        with av.open(io.BytesIO(fetch(api, url).content)) as c:
            v, a = c.streams.video[0], c.streams.audio[0]
            assert a.codec_context.name == "aac"
            assert v.duration is not None and v.time_base is not None
            assert a.duration is not None and a.time_base is not None
            assert abs(float(a.duration * a.time_base) - float(v.duration * v.time_base)) <= 1 / 24
    record = native(api, body["id"])["soundtrack"]
    assert record == "bgm calm (mood words: calm, lake, gentle, breeze)"


def test_gateway_extra_body_bgm(api_with_workers: Api, panned: list[str]) -> None:
    api = api_with_workers
    resp = api.client.post(
        "/v1/video/generations",
        json={
            "model": "viduq2-pro",
            "image": panned[0],
            "prompt": "a red box",
            "duration": 2,
            "extra_body": {"bgm": True, "seed": 5},
        },
        headers=api.headers("Bearer"),
    )
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["task_id"].removeprefix("task_")  # the gateway's public id
    done = api.wait(task_id)
    assert done["state"] == "success", done
    record = native(api, task_id)["soundtrack"]
    assert record.startswith("bgm ") and "chosen by seed 5" in record


def test_vidu_q3_default_sound_is_silent_and_says_so(api: Api, pair: list[str]) -> None:
    q3 = start_end(api, pair, model="viduq3-pro").json()
    assert q3["audio"] is True  # the vendor's default, echoed as the client would expect it
    record = native(api, q3["task_id"])["soundtrack"]
    assert record.startswith("silent: viduq3-pro makes sound by default") and "docs/audio.md" in record
    off = start_end(api, pair, model="viduq3-pro", audio=False).json()
    q2 = start_end(api, pair).json()
    assert native(api, off["task_id"])["soundtrack"] == "" == native(api, q2["task_id"])["soundtrack"]


def test_audio_true_is_refused_naming_what_to_configure(api: Api, pair: list[str]) -> None:
    resp = start_end(api, pair, model="viduq3-pro", audio=True)
    assert resp.status_code == 400
    body = resp.json()
    assert body["reason"] == "FieldInvalid"
    assert "no audio model is configured" in body["message"] and "FRAMECAST_CATALOG_FILE" in body["message"]
    assert api.get("/ent/v2/tasks").json()["tasks"] == []


def test_vidu_audio_type_is_checked(api: Api, pair: list[str]) -> None:
    resp = start_end(api, pair, audio_type="music")
    assert resp.status_code == 400 and resp.json()["reason"] == "FieldInvalid"
    assert "speech_only" in resp.json()["message"]


def test_vidu_is_rec_writes_the_prompt_and_costs_ten_credits(
    api_with_workers: Api, panned: list[str]
) -> None:
    api = api_with_workers
    plain = start_end(api, panned, prompt="ignored words").json()
    rec = start_end(api, panned, prompt="ignored words", is_rec=True).json()
    assert rec["is_rec"] is True
    assert rec["credits"] == plain["credits"] + 10
    done = api.wait(rec["task_id"])
    assert done["state"] == "success", done
    used = native(api, rec["task_id"])["prompt_used"]
    assert used.startswith("Camera movement: pan left") and "ignored" not in used
    (item,) = [t for t in api.get("/ent/v2/tasks").json()["tasks"] if t["id"] == rec["task_id"]]
    assert item["prompt"] == used  # the list shows the prompt the video was made from
    assert native(api, plain["task_id"])["prompt_used"] is None


def test_vidu_is_rec_answers_in_the_clients_language(api_with_workers: Api, panned: list[str]) -> None:
    api = api_with_workers
    rec = start_end(api, panned, prompt="湖面", is_rec=True).json()
    assert api.wait(rec["task_id"])["state"] == "success"
    assert native(api, rec["task_id"])["prompt_used"].startswith("镜头向左平移")


def test_baicai_need_expand_prompt_keeps_the_prompt_and_adds_the_motion(
    api_with_workers: Api, panned: list[str]
) -> None:
    api = api_with_workers
    resp = api.client.post(
        "/v1/videos/generations",
        json={
            "selected_model": "Viduq2-pro-FLF2V-fast",
            "task_type": "flf2video",
            "need_expand_prompt": True,
            "input": {
                "image": panned[0],
                "last_image": panned[1],
                "prompt": "A garden",
                "resolution": "720p",
                "duration": 5,
            },
        },
        headers=api.headers("Bearer"),
    )
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["data"]["taskId"]
    assert api.wait(task_id)["state"] == "success"
    assert native(api, task_id)["prompt_used"].startswith("A garden. Camera movement: pan left")


def test_mixed_track_loudness_survives_the_aac_round_trip(api_with_workers: Api, panned: list[str]) -> None:
    api = api_with_workers
    created = start_end(api, panned, duration=4, bgm=True, prompt="epic mountains").json()
    body = api.wait(created["task_id"])
    path = api.client.app.state.settings.data_dir / "heard.mp4"  # type: ignore[attr-defined]
    path.write_bytes(fetch(api, body["creations"][0]["url"]).content)
    samples, rate = mix.decode(path)
    assert mix.loudness(samples, rate) == pytest.approx(mix.TARGET_LUFS, abs=1.0)
