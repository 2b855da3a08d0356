"""One task all the way: submit over HTTP, a worker renders it, the signed result URLs serve the files."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import numpy as np
from PIL import Image

from framecast.storage import UrlSigner
from framecast.store.db import Database
from framecast.store.tables import TaskRow
from tests.conftest import Api, _api, data_uri, image_bytes, make_settings
from tests.waiting import wait_until


def fetch(api: Api, url: str, **kw: Any) -> Any:
    parts = urlsplit(url)
    return api.client.get(f"{parts.path}?{parts.query}", **kw)


def start_long_task(api: Api, pair: list[str]) -> str:
    """Submit a 16 s 1080p task and return once a worker is rendering it."""
    task_id = str(
        api.post(
            "/ent/v2/start-end2video",
            {"model": "viduq3-pro", "images": pair, "duration": 16, "resolution": "1080p"},
        ).json()["task_id"]
    )
    wait_until(
        lambda: api.get(f"/ent/v2/tasks/{task_id}/creations").json()["state"] == "processing",
        30,
        what="a worker to start the task",
        poll=0.02,
    )
    return task_id


def test_first_last_task_end_to_end(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    meta = json.dumps({"Label": "1", "ContentProducer": "tester", "ProduceID": "abc"})
    created = api.post(
        "/ent/v2/start-end2video",
        {
            "model": "viduq3-pro",
            "images": pair,
            "duration": 1,
            "resolution": "540p",
            "seed": 7,
            "watermark": True,
            "wm_position": 2,
            "meta_data": meta,
        },
    ).json()
    body = api.wait(created["task_id"])
    assert body["state"] == "success", body
    assert body["err_code"] == ""
    assert body["progress"] == 100
    (creation,) = body["creations"]
    assert creation["video"] == {"duration": 1.0, "fps": 24, "resolution": {"width": 960, "height": 540}}

    video = fetch(api, creation["url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert container.metadata.get("comment") == meta
        frames = list(container.decode(stream))
    assert len(frames) == 24
    assert (frames[0].width, frames[0].height) == (960, 540)

    cover = fetch(api, creation["cover_url"])
    assert cover.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(cover.content)).size == (960, 540)
    marked = fetch(api, creation["watermarked_url"])
    assert marked.status_code == 200 and marked.content != video.content

    # range requests (browsers seek with them)
    part = fetch(api, creation["url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == video.content[:100]


def test_signed_urls_refuse_tampering_and_expiry(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    task_id = api.post(
        "/ent/v2/img2video", {"model": "viduq3-pro", "images": pair[:1], "duration": 1, "resolution": "540p"}
    ).json()["task_id"]
    url = api.wait(task_id)["creations"][0]["url"]
    parts = urlsplit(url)
    q = parse_qs(parts.query)
    good = api.client.get(parts.path, params={"expires": q["expires"][0], "sig": q["sig"][0]})
    assert good.status_code == 200
    sig = q["sig"][0]
    tampered = ("y" if sig[0] == "x" else "x") + sig[1:]  # must differ from the real one
    assert api.client.get(parts.path, params={"expires": q["expires"][0], "sig": tampered}).status_code == 403
    assert (
        api.client.get(
            parts.path, params={"expires": int(q["expires"][0]) + 1, "sig": q["sig"][0]}
        ).status_code
        == 403
    )
    signer = api.client.app.state.signer  # type: ignore[attr-defined]
    stale = signer.path(parts.path.removeprefix("/files/"), now=time.time() - 2 * signer.ttl_seconds)
    assert api.client.get(stale).status_code == 403
    assert int(q["expires"][0]) - time.time() > 23 * 3600  # 24 h by default


def test_a_file_link_is_the_same_across_polls_within_its_step() -> None:
    signer = UrlSigner(b"k" * 32, ttl_seconds=86400)
    t0 = 1_800_000_000.0  # a step boundary (a multiple of 60)
    first = signer.path("tasks/1/0/video.mp4", now=t0 + 1)
    assert signer.path("tasks/1/0/video.mp4", now=t0 + 59) == first  # a client sees one URL, not one per poll
    later = signer.path("tasks/1/0/video.mp4", now=t0 + 61)
    assert later != first
    for made_at, path in ((t0 + 1, first), (t0 + 61, later)):
        expires = int(parse_qs(urlsplit(path).query)["expires"][0])
        # valid for at least the lifetime asked, at most a step more
        assert made_at + 86400 <= expires < made_at + 86400 + signer.step
        assert signer.verify("tasks/1/0/video.mp4", expires, parse_qs(urlsplit(path).query)["sig"][0], now=t0)
    assert signer.path("tasks/2/0/video.mp4", now=t0 + 1) != first
    short = UrlSigner(b"k" * 32, ttl_seconds=30)  # a short lifetime is not stretched
    expires = int(parse_qs(urlsplit(short.path("a", now=t0 + 1)).query)["expires"][0])
    assert expires == t0 + 31


def test_links_carry_the_host_each_request_named(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    task_id = api.post(
        "/ent/v2/img2video", {"model": "viduq3-pro", "images": pair[:1], "duration": 1, "resolution": "540p"}
    ).json()["task_id"]
    api.wait(task_id)
    for host in ("first.example:8000", "second.example", "first.example:8000"):
        headers = {**api.headers(), "Host": host}
        body = api.client.get(f"/ent/v2/tasks/{task_id}/creations", headers=headers).json()
        assert urlsplit(body["creations"][0]["url"]).netloc == host


def test_cancel_running_task_stops_it(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    task_id = start_long_task(api, pair)
    assert api.post(f"/ent/v2/tasks/{task_id}/cancel", {}).status_code == 200
    body = api.wait(task_id, timeout=30)
    assert body["state"] == "failed" and body["err_code"] == "UserCancelled"
    assert body["creations"] == []
    blobs = api.client.app.state.settings.blob_dir  # type: ignore[attr-defined]
    assert not list(blobs.rglob("*.mp4"))  # the cancelled attempt left no output behind


def test_seed_is_recorded_and_the_builtin_engine_is_deterministic(
    api_with_workers: Api, pair: list[str]
) -> None:
    """What a seed does: a seeded engine (a diffusion model) repeats a video exactly for the same seed,
    which tests/engines/contract.py checks for every engine that uses one. The built-in engine uses no
    randomness at all: the same inputs give the same frames whatever the seed. Either way the seed is
    recorded on the task (a random one when none was sent), so a client can replay it."""
    api = api_with_workers
    req = {
        "model": "viduq3-pro",
        "images": pair[:1],
        "duration": 1,
        "resolution": "540p",
        "prompt": "镜头缓慢推进",
    }
    created = [api.post("/ent/v2/img2video", {**req, "seed": seed}).json() for seed in (99, 99, 7, 0)]
    assert [c["seed"] for c in created[:3]] == [99, 99, 7]
    assert created[3]["seed"] > 0  # 0 means "pick one"; the one picked is recorded
    done = [api.wait(c["task_id"]) for c in created]

    def frames(body: dict[str, Any]) -> np.ndarray:
        with av.open(io.BytesIO(fetch(api, body["creations"][0]["url"]).content)) as c:
            return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])

    first = frames(done[0])
    assert all(np.array_equal(first, frames(d)) for d in done[1:])


def test_healthz(api_with_workers: Api) -> None:
    resp = api_with_workers.client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["database"] is True and resp.json()["workers"] is True


def test_graceful_stop_hands_running_task_back(tmp_path: Path, pair: list[str]) -> None:
    settings = make_settings(tmp_path, workers=1)
    gen = _api(settings)
    api = next(gen)
    task_id = start_long_task(api, pair)
    started = time.monotonic()
    for _ in gen:  # stop the service while the task renders
        pass
    assert time.monotonic() - started < 5  # it did not wait for the render to finish
    db = Database(settings.db_url)
    with db.session() as s:
        row = s.get(TaskRow, task_id)
        assert row is not None and row.state == "queued" and row.attempt == 1
    db.dispose()


def test_watermark_logo_from_wm_url(api_with_workers: Api, pair: list[str]) -> None:
    import numpy as np_

    logo = Image.new("RGBA", (64, 32), (255, 0, 0, 255))
    buf = io.BytesIO()
    logo.save(buf, format="PNG")
    api = api_with_workers
    body = api.wait(
        api.post(
            "/ent/v2/img2video",
            {
                "model": "viduq3-pro",
                "images": pair[:1],
                "duration": 1,
                "resolution": "540p",
                "watermark": True,
                "wm_position": 1,
                "wm_url": data_uri(buf.getvalue()),
            },
        ).json()["task_id"]
    )
    creation = body["creations"][0]

    def first_frame(url: str) -> np_.ndarray:
        with av.open(io.BytesIO(fetch(api, url).content)) as c:
            return next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)

    plain, marked = first_frame(creation["url"]), first_frame(creation["watermarked_url"])
    diff = np_.abs(plain - marked).sum(axis=2) > 30
    ys, xs = np_.nonzero(diff)
    assert len(ys) > 100
    assert ys.max() < 540 / 2 and xs.max() < 960 / 2  # only the top-left corner changed
    region = marked[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert region[..., 0].mean() > region[..., 1].mean() + 50  # and it is the red logo


def test_engines_listing(api: Api) -> None:
    body = api.client.get("/-/engines").json()
    (builtin,) = [e for e in body["engines"] if e["name"] == "builtin"]
    assert builtin["kinds"] == ["first_last", "image"]
    assert "viduq3-pro" in builtin["models"] and "sora-2" in builtin["models"]


def test_silent_engine_refuses_sound_in_every_dialect(api: Api, pair: list[str]) -> None:
    big = [data_uri(image_bytes(400, 300, seed=8)), data_uri(image_bytes(400, 300, seed=8, shift=6))]
    cases = [
        ("/v1/videos/image2video", {"model_name": "kling-v2-6", "image": big[0], "sound": "on"}),
        ("/v1/video/generations", {"model": "viduq3-pro", "image": pair[0], "extra_body": {"audio": True}}),
        (
            "/beta/video/generations/qianfan-video",
            {
                "model": "qianfan-video-latest",
                "type": "img2video",
                "model_parameters": {"images": pair[:1], "audio": True},
            },
        ),
        ("/ent/v2/img2video", {"model": "viduq3-pro", "images": pair[:1], "audio": True}),
    ]
    for path, payload in cases:
        resp = api.client.post(path, json=payload, headers=api.headers("Bearer"))
        assert resp.status_code == 400, (path, resp.text)
        assert "silent video" in resp.text, (path, resp.text)
    assert api.get("/ent/v2/tasks").json()["tasks"] == []
