"""Hostile media through the API: each is a clear error in the dialect's envelope or a correct result."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.attack import hostile
from tests.conftest import Api, data_uri, image_bytes
from tests.dialects.contract import assert_nothing_stored
from tests.dialects.test_vidu import assert_error
from tests.test_billing_and_scheduling import balance, metered

IMG2VIDEO = "/ent/v2/img2video"
TINY_MODEL = """
[models."tiny"]
durations = [1]
resolutions = ["360p"]
default_resolution = "360p"
fps = 8
"""


@pytest.mark.parametrize("case", hostile.CASES, ids=lambda c: c.name)
def test_hostile_image_is_refused_clearly_or_accepted(api: Api, case: hostile.Case) -> None:
    resp = api.post(IMG2VIDEO, hostile.create_body(case.make()))
    if case.reason is None:
        assert resp.status_code == 200, resp.text
        assert resp.json()["state"] == "created"
        return
    body = assert_error(resp, case.status, case.reason)
    assert body["message"].startswith("image 1:") and case.says in body["message"], body["message"]
    assert_nothing_stored(api)


def _rgb(data: bytes) -> np.ndarray[Any, Any]:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def test_accepted_hostile_images_render_as_a_person_sees_them(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    """CMYK keeps its colours, 16 bit its greys, EXIF rotation its orientation, an animation its first
    frame."""
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(TINY_MODEL)
    api = make_api(workers=1, catalog_file=catalog)
    sources = {
        "cmyk": ("image/jpeg", hostile.cmyk_jpeg()),
        "png16": ("image/png", hostile.png16()),
        "exif": ("image/jpeg", hostile.exif_rotated_jpeg()),
        "webp": ("image/webp", hostile.animated("WEBP")),
    }
    ids = {}
    for name, (mime, data) in sources.items():
        body = {
            **hostile.create_body(data_uri(data, mime), model="tiny"),
            "duration": 1,
            "resolution": "360p",
        }
        resp = api.post(IMG2VIDEO, body)
        assert resp.status_code == 200, resp.text
        ids[name] = resp.json()["task_id"]
    covers = {}
    for name, task_id in ids.items():
        assert api.wait(task_id, timeout=180)["state"] == "success"
        task = api.get(f"/v1/tasks/{task_id}").json()
        (creation,) = task["creations"]
        covers[name] = (creation, _rgb(api.client.get(creation["cover_url"]).content))

    creation, cover = covers["exif"]
    assert creation["height"] > creation["width"], creation  # shown portrait, as the EXIF tag says
    expected = hostile.photo().transpose(Image.Transpose.ROTATE_270)
    _close(cover, expected, "EXIF-rotated")

    _close(covers["cmyk"][1], hostile.photo(), "CMYK")  # not inverted, not colour-shifted
    grey_cover = covers["png16"][1]
    assert np.abs(grey_cover[..., 0] - grey_cover[..., 2]).mean() < 3  # grey stays grey
    _close(grey_cover, hostile.photo().convert("L").convert("RGB"), "16-bit")
    _close(covers["webp"][1], hostile.photo(seed=4), "animated WebP (first frame)")


def test_forged_png_fails_its_task_clearly_and_is_refunded(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    """Submit checks a PNG's chunks, not its pixels: a PNG forged with valid checksums over a broken pixel
    stream is accepted, and its task fails at the worker's decode with a clear error and its credits back."""
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(TINY_MODEL)
    api = metered(make_api(workers=1, catalog_file=catalog), credits=1000)
    body = {**hostile.create_body(data_uri(hostile.forged_png()), model="tiny"), "duration": 1}
    resp = api.post(IMG2VIDEO, {**body, "resolution": "360p"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["credits"] > 0  # it was charged, so the balance below shows a refund
    done = api.wait(resp.json()["task_id"], timeout=120)
    assert done["state"] == "failed", done
    assert done["err_code"] == "ImageFormatInvalid", done
    assert balance(api) == 1000


def _close(cover: np.ndarray[Any, Any], source: Image.Image, what: str) -> None:
    """The cover is the source fitted to the output frame: compare at the cover's size, loosely (encoding)."""
    h, w = cover.shape[:2]
    fitted = np.asarray(source.resize((w, h), Image.Resampling.BILINEAR).convert("RGB"), dtype=np.float64)
    error = np.abs(cover - fitted).mean()
    assert error < 20, f"{what}: mean abs difference {error:.1f} from the source"


@pytest.fixture
def big_file_server() -> Iterator[str]:
    server, url = hostile.serve_big_file()
    yield url
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/declared", "/streamed"])
def test_image_url_of_50_mb_plus_one_byte_is_refused(
    make_api: Callable[..., Api], big_file_server: str, path: str
) -> None:
    api = make_api(allow_private_urls=True)
    body = assert_error(
        api.post(IMG2VIDEO, hostile.create_body(big_file_server + path)), 400, "ImageDownloadFailure"
    )
    assert "larger than the 50 MB limit" in body["message"], body["message"]
    assert_nothing_stored(api)


def test_body_over_20_mb_is_refused_with_or_without_content_length(api: Api, pair: list[str]) -> None:
    padded = {**hostile.create_body(pair[0]), "payload": "x" * (20 * 1024 * 1024)}
    body = assert_error(api.post(IMG2VIDEO, padded), 413, "BadRequest")
    assert "20 MB" in body["message"]

    raw = json.dumps(padded).encode()

    def chunks() -> Iterator[bytes]:  # sent chunked: no Content-Length to trust
        for i in range(0, len(raw), 1024 * 1024):
            yield raw[i : i + 1024 * 1024]

    headers = {**api.headers(), "content-type": "application/json"}
    assert_error(api.client.post(IMG2VIDEO, content=chunks(), headers=headers), 413, "BadRequest")
    assert_nothing_stored(api)


def test_chunked_upload_over_20_mb_is_refused(api: Api) -> None:
    """A multipart upload without Content-Length is bounded too (it used to be read whole)."""
    boundary = "framecastboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head + image_bytes(320, 180)
        for _ in range(21):
            yield b"\0" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**api.headers("Bearer"), "content-type": f"multipart/form-data; boundary={boundary}"}
    resp = api.client.post("/v1/resources/upload", content=chunks(), headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"code": 400, "message": resp.json()["message"], "data": None}
    assert "20 MB" in resp.json()["message"]
