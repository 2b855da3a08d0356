"""The prompt writers: the built-in one names the measured motion; the chat one falls back to it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from framecast.engines.base import Frame
from framecast.prompts.base import ExpandRequest, language_of
from framecast.prompts.chat import ChatExpander
from framecast.prompts.motion import MotionExpander, measure

DATA = Path(__file__).parents[1] / "data"


def frame(name: str) -> Frame:
    bgr = cv2.imread(str(DATA / name))
    assert bgr is not None
    return np.ascontiguousarray(bgr[:, :, ::-1])


def zoomed(img: Frame, factor: float) -> Frame:
    """``img`` scaled up about its centre and cropped back to its size: what a zoom-in ends on."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, factor)
    return np.ascontiguousarray(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC))


def shifted_pair(img: Frame, dx: int) -> tuple[Frame, Frame]:
    """Two windows of ``img``, the second ``dx`` px to the right of the first: the camera pans right."""
    w = img.shape[1] - abs(dx)
    a, b = (0, dx) if dx > 0 else (-dx, 0)
    return np.ascontiguousarray(img[:, a : a + w]), np.ascontiguousarray(img[:, b : b + w])


@pytest.mark.parametrize("name", ["bbb_040.jpg", "bikes_110.jpg"])
def test_zoom_in_and_out(name: str) -> None:
    img = frame(name)
    expander = MotionExpander()
    text = expander.expand(ExpandRequest("", "en", img, zoomed(img, 1.3)))
    assert text == "Camera movement: zoom in."  # no pan, and no subject motion made up from the camera's
    assert expander.expand(ExpandRequest("", "en", zoomed(img, 1.3), img)) == "Camera movement: zoom out."
    assert "镜头推近" in expander.expand(ExpandRequest("", "zh", img, zoomed(img, 1.3)))


@pytest.mark.parametrize("name", ["bbb_040.jpg", "bikes_110.jpg"])
def test_pan_left_and_right(name: str) -> None:
    img = frame(name)
    expander = MotionExpander()
    right = expander.expand(ExpandRequest("", "en", *shifted_pair(img, 32)))
    left = expander.expand(ExpandRequest("", "en", *shifted_pair(img, -32)))
    assert right == "Camera movement: pan right.", right
    assert "pan left" in left, left
    assert "镜头向左平移" in expander.expand(ExpandRequest("", "zh", *shifted_pair(img, -32)))


def test_still_pair_brightness_and_subject() -> None:
    img = frame("bbb_040.jpg")
    assert measure(img, img.copy()).pan is None
    text = MotionExpander().expand(ExpandRequest("", "en", img, img.copy()))
    assert "static shot" in text
    brighter = np.clip(img.astype(int) + 40, 0, 255).astype(np.uint8)
    assert "brighter" in MotionExpander().expand(ExpandRequest("", "en", img, brighter))
    # a block moved 8 px right inside a still frame is the subject, not the camera
    moved = img.copy()
    moved[30:100, 108:178] = img[30:100, 100:170]
    motion = measure(img, moved)
    assert motion.pan is None and motion.zoom is None
    assert (motion.subject_region, motion.subject_direction) == ("centre", "right")
    assert "The subject in the centre moves to the right." in MotionExpander().expand(
        ExpandRequest("", "en", img, moved)
    )


def test_expand_keeps_the_clients_prompt_in_front() -> None:
    img = frame("bikes_110.jpg")
    text = MotionExpander().expand(ExpandRequest("Bikes on a street", "en", *shifted_pair(img, 32)))
    assert text.startswith("Bikes on a street. Camera movement: pan right")
    zh = MotionExpander().expand(ExpandRequest("街上的自行车", "zh", img))
    assert zh.startswith("街上的自行车。镜头推近")  # one picture: the gentle push-in


def test_language_of() -> None:
    assert language_of("一只猫") == "zh" and language_of("a cat 猫") == "zh"
    assert language_of("a cat") == "en" and language_of("") == "en"


def chat_reply(content: str) -> dict[str, object]:
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


def test_chat_endpoint_is_asked_with_the_measured_motion() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(
            {
                "url": str(request.url),
                "auth": request.headers.get("authorization"),
                **json.loads(request.content),
            }
        )
        return httpx.Response(200, json=chat_reply("  A cyclist rides past as the camera pans right.  "))

    img = frame("bikes_110.jpg")
    expander = ChatExpander(
        base_url="http://llm.test/v1/", model="qwen", api_key="k", transport=httpx.MockTransport(handler)
    )
    text = expander.expand(ExpandRequest("bikes", "en", *shifted_pair(img, 32)))
    assert text == "A cyclist rides past as the camera pans right."
    (call,) = seen
    assert call["url"] == "http://llm.test/v1/chat/completions" and call["auth"] == "Bearer k"
    assert call["model"] == "qwen"
    messages = call["messages"]
    assert isinstance(messages, list) and "pan right" in messages[1]["content"]


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json=chat_reply("   ")),
    ],
)
def test_bad_answers_fall_back_to_the_built_in_description(reply: httpx.Response) -> None:
    img = frame("bbb_040.jpg")
    expander = ChatExpander(
        base_url="http://llm.test/v1", model="m", transport=httpx.MockTransport(lambda r: reply)
    )
    text = expander.expand(ExpandRequest("", "en", img, zoomed(img, 1.3)))
    assert "zoom in" in text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a hung LLM endpoint."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    t.join()
    for conn in held:
        conn.close()
    sock.close()


def test_hung_endpoint_falls_back_within_the_timeout(silent_server: str) -> None:
    img = frame("bbb_040.jpg")
    expander = ChatExpander(base_url=silent_server, model="m", timeout=0.5)
    began = time.monotonic()
    text = expander.expand(ExpandRequest("", "en", img, zoomed(img, 1.3)))
    elapsed = time.monotonic() - began
    assert "zoom in" in text
    # the wait is the timeout plus the built-in measurement (CPU work, slow on a busy machine), never more
    assert 0.5 <= elapsed < 0.5 + 10


def test_refused_connection_falls_back() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    img = frame("bbb_040.jpg")
    text = ChatExpander(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=2).expand(
        ExpandRequest("一只兔子", "zh", img, zoomed(img, 1.3))
    )
    assert text.startswith("一只兔子。镜头推近")
