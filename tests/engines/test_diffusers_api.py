"""Tasks on the diffusers engines through the HTTP API: a catalog maps model names to tiny saved
pipelines, clients of two dialects (Vidu and OpenAI) ask for videos and get MP4s of the frame count,
fps and size they asked for; missing or broken weights answer "model unavailable" naming the folder."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def catalog(tmp_path: Path, models: dict[str, tuple[str, dict[str, Any]]]) -> Path:
    """A catalog file: name -> (engine, options); 8 fps output, 1-2 s, 360p or 128x128."""
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
            'resolutions = ["360p", "128x128"]',
            'default_resolution = "360p"',
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
