"""The official ``openai`` package, unchanged, against framecast over real HTTP.

The SDK ships its own HTTP stack (httpx2), so rather than bridging transports the
app runs under uvicorn on a free loopback port in a background thread.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import uvicorn
from PIL import Image

from framecast.app import create_app
from framecast.store.keys import create_key
from tests.conftest import data_uri, image_bytes, make_settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks Sora calls deprecated


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    catalog = tmp_path / "fast.toml"
    catalog.write_text('[models."sora-2"]\nfps = 6\n')  # 24 frames for 4 s keeps the test quick
    app = create_app(make_settings(tmp_path, workers=1, catalog_file=catalog))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    with app.state.db.session() as s:
        _, token = create_key(s, name="sdk")
    yield f"http://127.0.0.1:{port}/v1", token
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(served: tuple[str, str]) -> openai.OpenAI:
    base_url, token = served
    return openai.OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=30)


def _wait(client: openai.OpenAI, video_id: str) -> openai.types.Video:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        time.sleep(0.1)
    raise AssertionError(f"{video_id} did not finish")


def test_sdk_create_retrieve_list_download_delete(client: openai.OpenAI) -> None:
    first = image_bytes(seed=1)
    last = image_bytes(seed=1, shift=12)
    uploaded = client.files.create(file=("first.png", first, "image/png"), purpose="vision")
    assert uploaded.id.startswith("file_") and uploaded.bytes == len(first)

    # a multipart upload plus the last-frame extension through extra_body (the SDK sends extra_body
    # as form fields, not files, so the last frame goes as a data URL: last_frame[image_url])
    video = client.videos.create(
        prompt="the camera drifts right",
        model="sora-2",
        seconds="4",
        size="1280x720",
        input_reference=("first.png", first, "image/png"),
        extra_body={"last_frame": {"image_url": data_uri(last)}},
    )
    assert video.object == "video" and video.status == "queued" and video.seconds == "4"
    # this SDK only uploads input_reference as a file; a {file_id} object travels in extra_body
    by_file_id = client.videos.create(
        prompt="push in", size="1280x720", extra_body={"input_reference": {"file_id": uploaded.id}}
    )
    done = _wait(client, video.id)
    assert done.status == "completed" and done.progress == 100 and done.size == "1280x720"
    assert _wait(client, by_file_id.id).status == "completed"

    page = client.videos.list(limit=1)
    assert [v.id for v in page.data] == [by_file_id.id] and page.has_more
    assert [v.id for v in client.videos.list(limit=1, order="asc").data] == [video.id]
    # iterating a page follows last_id through has_more
    assert {v.id for v in client.videos.list(limit=1)} == {video.id, by_file_id.id}

    content = client.videos.download_content(video.id)
    assert content.content[4:8] == b"ftyp"
    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"
    sheet = client.videos.download_content(video.id, variant="spritesheet")
    assert Image.open(io.BytesIO(sheet.content)).format == "WEBP"

    remix = client.videos.remix(video.id, prompt="again, slower")
    assert remix.remixed_from_video_id == video.id

    deleted = client.videos.delete(by_file_id.id)
    assert deleted.deleted and deleted.id == by_file_id.id and deleted.object == "video.deleted"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(by_file_id.id)


def test_sdk_errors_are_typed(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(prompt="a cat surfing")  # text-to-video on the built-in engine
    assert bad.value.code == "model_unavailable"
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(prompt="p", seconds="5", input_reference=("a.png", image_bytes(), "image/png"))
    assert bad.value.param == "seconds"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_1")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=str(client.base_url), api_key="fc-wrong", max_retries=0).videos.list()
