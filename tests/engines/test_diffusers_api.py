"""Tasks on the diffusers engines through the HTTP API: a catalog maps model names to tiny saved
pipelines, clients of two dialects (Vidu and OpenAI) ask for videos and get MP4s of the frame count,
fps and size they asked for; missing or broken weights answer "model unavailable" naming the folder."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("diffusers")

from tests.conftest import Api
from tests.engines import tiny
from tests.waiting import wait_until


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def catalog(
    tmp_path: Path,
    models: dict[str, tuple[str, dict[str, Any]]],
    resolutions: tuple[str, ...] = ("360p", "128x128"),
) -> Path:
    """A catalog file: name -> (engine, options); 8 fps output, 1-2 s, 360p or 128x128 by default."""
    lines = []
    for name, (engine, options) in models.items():
        inline = ", ".join(f"{k} = {toml_value(v)}" for k, v in options.items())
        lines += [
            f'[models."{name}"]',
            f'engine = "{engine}"',
            "fps = 8",
            "min_duration = 1",
            "max_duration = 2",
            "default_duration = 1",
            f"resolutions = [{', '.join(toml_value(r) for r in resolutions)}]",
            f"default_resolution = {toml_value(resolutions[0])}",
            f"options = {{ {inline} }}",
            "",
        ]
    path = tmp_path / "catalog.toml"
    path.write_text("\n".join(lines))
    return path


def api_for(make_api: Callable[..., Api], tmp_path: Path, weights: Callable[[str], Path], family: str) -> Api:
    path = catalog(tmp_path, {"tiny": (tiny.ENGINES[family], tiny.options(family, weights(family)))})
    return make_api(workers=1, catalog_file=path)


def probe(data: bytes) -> tuple[int, float, int, int]:
    """(frames, fps, width, height) of an MP4, decoded."""
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, float(stream.average_rate or 0), stream.width, stream.height


def vidu(api: Api, route: str, body: dict[str, Any]) -> tuple[int, float, int, int]:
    resp = api.post(f"/ent/v2/{route}", {"model": "tiny", "prompt": "a cat walking", "duration": 1, **body})
    assert resp.status_code == 200, resp.text
    done = api.wait(resp.json()["task_id"], timeout=120)
    assert done["state"] == "success", done
    (creation,) = done["creations"]
    return probe(api.client.get(creation["url"]).content)


def openai(api: Api, body: dict[str, Any]) -> tuple[int, float, int, int]:
    resp = api.post(
        "/v1/videos", {"model": "tiny", "prompt": "a cat walking", "seconds": "1", **body}, "Bearer"
    )
    assert resp.status_code == 200, resp.text
    vid = resp.json()["id"]
    done = wait_until(
        lambda: (
            (b := api.get(f"/v1/videos/{vid}", "Bearer").json())["status"] in ("completed", "failed") and b
        ),
        120,
        f"video {vid}",
    )
    assert done["status"] == "completed", done
    return probe(api.get(f"/v1/videos/{vid}/content", "Bearer").content)


def ref(uri: str) -> dict[str, str]:
    return {"image_url": uri}


# 1 s at 8 fps; 360p from the 16:9 test pair is 640x360
VIDU_360P = (8, 8.0, 640, 360)
OPENAI_128 = (8, 8.0, 128, 128)


def test_wan_flf2v_first_last(make_api: Any, tmp_path: Path, tiny_weights: Any, pair: list[str]) -> None:
    api = api_for(make_api, tmp_path, tiny_weights, "wan_flf2v")
    assert vidu(api, "start-end2video", {"images": pair, "resolution": "360p"}) == VIDU_360P
    flf = {"input_reference": ref(pair[0]), "last_frame": ref(pair[1]), "size": "128x128"}
    assert openai(api, flf) == OPENAI_128
    # what this model cannot make is refused at submit, in each dialect's words
    resp = api.post("/ent/v2/text2video", {"model": "tiny", "prompt": "a cat"})
    assert resp.status_code == 400 and resp.json()["reason"] == "ModelUnavailable"


def test_wan_vace_references_and_first_last(
    make_api: Any, tmp_path: Path, tiny_weights: Any, pair: list[str]
) -> None:
    api = api_for(make_api, tmp_path, tiny_weights, "wan_vace")
    assert vidu(api, "reference2video", {"images": pair, "resolution": "360p"}) == VIDU_360P
    refs = {"reference_images": [ref(pair[0]), ref(pair[1])], "size": "128x128"}
    assert openai(api, refs) == OPENAI_128
    assert vidu(api, "start-end2video", {"images": pair, "resolution": "360p"}) == VIDU_360P


def test_wan22_ti2v_text_and_image(make_api: Any, tmp_path: Path, tiny_weights: Any, pair: list[str]) -> None:
    api = api_for(make_api, tmp_path, tiny_weights, "wan22_ti2v")
    assert vidu(api, "text2video", {"resolution": "360p", "aspect_ratio": "16:9"}) == VIDU_360P
    assert openai(api, {"input_reference": ref(pair[0]), "size": "128x128"}) == OPENAI_128


def test_ltx_first_last_and_text(make_api: Any, tmp_path: Path, tiny_weights: Any, pair: list[str]) -> None:
    api = api_for(make_api, tmp_path, tiny_weights, "ltx")
    assert vidu(api, "start-end2video", {"images": pair, "resolution": "360p"}) == VIDU_360P
    assert openai(api, {"size": "128x128"}) == OPENAI_128


def test_missing_weights_are_refused_at_submit_naming_the_folder(
    make_api: Any, tmp_path: Path, pair: list[str]
) -> None:
    gone = tmp_path / "weights" / "wan2.1-flf2v"
    api = make_api(workers=1, catalog_file=catalog(tmp_path, {"tiny": ("wan", {"weights": str(gone)})}))
    resp = api.post(
        "/ent/v2/start-end2video", {"model": "tiny", "images": pair, "prompt": "p", "duration": 1}
    )
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["reason"] == "ModelUnavailable" and str(gone) in body["message"]
    resp = api.post("/v1/videos", {"model": "tiny", "prompt": "p", "input_reference": ref(pair[0])}, "Bearer")
    err = resp.json()["error"]
    assert resp.status_code == 400 and err["code"] == "model_unavailable" and str(gone) in err["message"]
    assert api.get("/ent/v2/tasks").json()["tasks"] == []


def test_broken_weights_fail_the_task_then_refuse_at_submit(
    make_api: Any, tmp_path: Path, tiny_weights: Any, pair: list[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_weights("wan_flf2v"), broken)
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 64)
    api = make_api(
        workers=1, catalog_file=catalog(tmp_path, {"tiny": ("wan", tiny.options("wan_flf2v", broken))})
    )
    body = {"model": "tiny", "images": pair, "prompt": "p", "duration": 1}
    resp = api.post("/ent/v2/start-end2video", body)
    assert resp.status_code == 200, resp.text  # the folder looks right until the worker loads it
    done = api.wait(resp.json()["task_id"], timeout=120)
    assert done["state"] == "failed" and done["err_code"], done
    from framecast.store import tasks as task_store

    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        task = task_store.load_task(s, task_id=resp.json()["task_id"])
    assert task is not None and task.error is not None
    assert task.error.code.value == "model_unavailable" and str(broken) in task.error.message
    again = api.post("/ent/v2/start-end2video", body)
    assert again.status_code == 400 and again.json()["reason"] == "ModelUnavailable"
    assert str(broken) in again.json()["message"]


def video_api(
    make_api: Callable[..., Api], tmp_path: Path, weights: Callable[[str], Path], workers: int
) -> Api:
    """Two models at Kling std's 720p: one that takes video inputs (VACE), one that cannot (FLF2V)."""
    models = {
        "vace": ("wan", tiny.options("wan_vace", weights("wan_vace"))),
        "flf2v": ("wan", tiny.options("wan_flf2v", weights("wan_flf2v"))),
    }
    return make_api(workers=workers, catalog_file=catalog(tmp_path, models, resolutions=("720p",)))


def kling_omni(
    api: Api, model: str, video: str, refer_type: str, duration: str = "1", keep_sound: str = "no"
) -> Any:
    item = {"video_url": video, "refer_type": refer_type, "keep_original_sound": keep_sound}
    body = {
        "model_name": model,
        "prompt": "the same street at night",
        "duration": duration,
        "video_list": [item],
    }
    return api.post("/v1/videos/omni-video", body, "Bearer")


def test_wan_vace_takes_kling_video_list_base_and_feature(
    make_api: Any, tmp_path: Path, tiny_weights: Any, calls: list[Any]
) -> None:
    from framecast.store import tasks as task_store
    from tests.conftest import data_uri, grey_ramp, mp4_bytes

    api = video_api(make_api, tmp_path, tiny_weights, workers=1)
    clip = data_uri(mp4_bytes(grey_ramp(12, 224, 128), fps=8), "video/mp4")  # 1.5 s, grey level = index
    resp = kling_omni(api, "vace", clip, "base")
    assert resp.status_code == 200 and resp.json()["code"] == 0, resp.text
    task_id = resp.json()["data"]["task_id"]
    done = api.wait(task_id, timeout=120)
    assert done["state"] == "success", done
    # the output takes the input video's aspect at Kling std's 720p, 1 s at 8 fps
    assert probe(api.client.get(done["creations"][0]["url"]).content) == (8, 8.0, 1260, 720)
    ((_, kw),) = calls
    # 1 s at 8 fps (instants 0 to 0.875 s) is 5 native frames at 4 fps (0 to 1 s): the clip's frames 0, 2,
    # 4, 6 at the render size, then the task's last one (frame 7) held
    assert kw["num_frames"] == len(kw["video"]) == len(kw["mask"]) == 5
    assert {v.size for v in kw["video"]} == {(kw["width"], kw["height"])} and kw["height"] == 32
    levels = [int(np.median(np.asarray(v))) for v in kw["video"]]
    assert levels == pytest.approx([10, 50, 90, 130, 150], abs=3)
    assert {int(np.asarray(m).min()) for m in kw["mask"]} == {255}
    # the stored request keeps the video in blob storage, not megabytes of base64 in the row
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        task = task_store.load_task(s, task_id=task_id)
    assert task is not None and task.request.videos[0].source == "data:...;base64 (inline video)"
    assert task.input_videos[0].width == 224 and task.input_videos[0].seconds == pytest.approx(1.5)

    resp = kling_omni(api, "vace", clip, "feature")
    assert resp.status_code == 200, resp.text
    assert api.wait(resp.json()["data"]["task_id"], timeout=120)["state"] == "success"
    _, feature = calls[1]
    # only the motion passes: the clip is flat grey frames, so its flow pictures are plain white
    assert {int(np.asarray(v).min()) for v in feature["video"]} == {255}


@pytest.mark.parametrize(
    ("model", "video", "duration", "keep_sound", "code", "words"),
    [
        ("vace", "short", "2", "no", 1201, "video 1 lasts 1.00 s, shorter than the 2 s asked for"),
        ("vace", "png", "1", "no", 1201, "video 1: the file is not an MP4/MOV or WebM video"),
        ("flf2v", "short", "1", "no", 1203, "cannot do video-to-video"),
    ],
)
def test_video_inputs_the_model_cannot_use_are_refused_in_klings_envelope(
    make_api: Any,
    tmp_path: Path,
    tiny_weights: Any,
    model: str,
    video: str,
    duration: str,
    keep_sound: str,
    code: int,
    words: str,
) -> None:
    from tests.conftest import data_uri, grey_ramp, image_bytes, mp4_bytes

    api = video_api(make_api, tmp_path, tiny_weights, workers=0)
    sources = {
        "short": data_uri(mp4_bytes(grey_ramp(8), fps=8), "video/mp4"),  # 1 s
        "png": data_uri(image_bytes(), "video/mp4"),
    }
    resp = kling_omni(api, model, sources[video], "base", duration, keep_sound)
    body = resp.json()
    assert resp.status_code == 400 and body["code"] == code and words in body["message"], body
    assert api.get("/ent/v2/tasks").json()["tasks"] == []


@pytest.mark.parametrize("tone_seconds", [0.4, 0.0])
def test_keep_original_sound_carries_the_reference_videos_track(
    make_api: Any, tmp_path: Path, tiny_weights: Any, tone_seconds: float
) -> None:
    import av

    from framecast.store import tasks as task_store
    from tests.conftest import data_uri, grey_ramp, mp4_bytes

    api = video_api(make_api, tmp_path, tiny_weights, workers=1)
    clip = mp4_bytes(grey_ramp(12, 224, 128), fps=8, tone_seconds=tone_seconds)  # 1.5 s of video
    resp = kling_omni(api, "vace", data_uri(clip, "video/mp4"), "base", "1", "yes")
    assert resp.status_code == 200 and resp.json()["code"] == 0, resp.text
    task_id = resp.json()["data"]["task_id"]
    done = api.wait(task_id, timeout=120)
    assert done["state"] == "success", done
    with av.open(io.BytesIO(api.client.get(done["creations"][0]["url"]).content)) as out:
        video = out.streams.video[0]
        assert video.duration is not None and video.time_base is not None
        video_seconds = float(video.duration * video.time_base)
        sounds = list(out.streams.audio)
        if tone_seconds:
            # the 0.4 s tone is looped to the 1 s video, its AAC packets copied, ending with the video
            (sound,) = sounds
            assert sound.codec_context.name == "aac"
            packets = [p for p in out.demux(sound) if p.pts is not None]
            tb = sound.time_base
            assert tb is not None
            end = float((packets[-1].pts + (packets[-1].duration or 0)) * tb)
            assert abs(end - video_seconds) <= 1 / 8 + 0.03
        else:
            assert sounds == []
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        task = task_store.load_task(s, task_id=task_id)
    assert task is not None
    expected = "original sound" if tone_seconds else "silent: keep_original_sound was asked"
    assert (task.soundtrack or "").startswith(expected), task.soundtrack


def test_keep_original_sound_with_generated_sound_is_refused(
    make_api: Any, tmp_path: Path, tiny_weights: Any
) -> None:
    from tests.conftest import data_uri, grey_ramp, mp4_bytes

    api = video_api(make_api, tmp_path, tiny_weights, workers=0)
    clip = data_uri(mp4_bytes(grey_ramp(8), fps=8, tone_seconds=0.5), "video/mp4")
    item = {"video_url": clip, "refer_type": "base", "keep_original_sound": "yes"}
    body = {"model_name": "vace", "prompt": "a street", "duration": "1", "sound": "on", "video_list": [item]}
    resp = api.post("/v1/videos/omni-video", body, "Bearer")
    assert resp.status_code == 400 and "cannot be combined" in resp.json()["message"], resp.text
    assert api.get("/ent/v2/tasks").json()["tasks"] == []


def test_a_missing_lora_file_is_refused_at_submit_naming_it(
    make_api: Any, tmp_path: Path, tiny_weights: Any
) -> None:
    gone = tmp_path / "loras" / "wan-4step.safetensors"
    options = tiny.options("wan22_ti2v", tiny_weights("wan22_ti2v"), lora=str(gone), lora_weight=1.0)
    api = make_api(workers=1, catalog_file=catalog(tmp_path, {"tiny": ("wan", options)}))
    resp = api.post("/ent/v2/text2video", {"model": "tiny", "prompt": "a cat", "duration": 1})
    body = resp.json()
    assert resp.status_code == 400 and body["reason"] == "ModelUnavailable", body
    assert f"LoRA file {gone} does not exist" in body["message"]


def test_the_server_refuses_to_start_on_an_invalid_switch(
    make_api: Any, tmp_path: Path, tiny_weights: Any
) -> None:
    options = tiny.options("wan_vace", tiny_weights("wan_vace"), attention_backend="flashy")
    with pytest.raises(RuntimeError, match=r"model tiny \(wan\): option attention_backend = 'flashy'"):
        make_api(workers=1, catalog_file=catalog(tmp_path, {"tiny": ("wan", options)}))
