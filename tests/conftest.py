"""Shared fixtures: a fresh data directory and database per test, an app, API keys, test images."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import time_machine
from fastapi.testclient import TestClient
from PIL import Image

from framecast.app import create_app
from framecast.config import Settings
from framecast.store.keys import create_key
from tests.waiting import wait_until


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    # worker threads in the test process: tests reach into them (engines, the reaper); a render process
    # of its own is tested where it is the point (tests/jobs/test_render_process.py, tests/e2e)
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "workers": 0,
        "lease_seconds": 5.0,
        "worker_process": False,
    }
    values.update(overrides)
    return Settings(**values)


class Api:
    """A TestClient with a key, and helpers for the calls every API test makes."""

    def __init__(self, client: TestClient, token: str, tenant: str) -> None:
        self.client = client
        self.token = token
        self.tenant = tenant

    def headers(self, scheme: str = "Token") -> dict[str, str]:
        return {"Authorization": f"{scheme} {self.token}"}

    def post(self, path: str, json: Any = None, scheme: str = "Token", **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers(scheme), **kw)

    def get(self, path: str, scheme: str = "Token", **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(scheme), **kw)

    def new_key(self, tenant: str | None = None) -> Api:
        with self.client.app.state.db.session() as s:  # type: ignore[attr-defined]
            row, token = create_key(s, name="other", tenant=tenant)
        return Api(self.client, token, row.tenant)

    def wait(self, task_id: str, timeout: float = 60.0) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = self.get(f"/ent/v2/tasks/{task_id}/creations").json()
            return body if body.get("state") in ("success", "failed") else None

        return wait_until(finished, timeout, what=f"task {task_id} to finish")


# (method, route template, status) of every request the tests made; see pytest_sessionfinish
ROUTES_SEEN: set[tuple[str, str, str]] = set()


def _api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.db.session() as s:
            row, token = create_key(s, name="test")
        yield Api(client, token, row.tenant)
    for metric in app.state.metrics.http_requests.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.value:
                ROUTES_SEEN.add((sample.labels["method"], sample.labels["route"], sample.labels["status"]))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With FRAMECAST_ROUTE_TABLE=<file>, write which statuses the tests saw on every route (docs/api)."""
    target = os.environ.get("FRAMECAST_ROUTE_TABLE")
    if not target or not ROUTES_SEEN:
        return
    from tests.route_table import render

    Path(target).write_text(render(ROUTES_SEEN), encoding="utf-8")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """API only: no workers, so tasks stay queued (validation and shape tests)."""
    yield from _api(make_settings(tmp_path))


@pytest.fixture
def api_with_workers(tmp_path: Path) -> Iterator[Api]:
    yield from _api(make_settings(tmp_path, workers=1))


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Build an app with custom settings (the generator keeps its TestClient open until teardown)."""
    gens: list[Iterator[Api]] = []

    def factory(**overrides: Any) -> Api:
        gen = _api(make_settings(tmp_path, **overrides))
        gens.append(gen)
        return next(gen)

    yield factory
    for gen in gens:
        for _ in gen:
            pass


def image_bytes(
    width: int = 256, height: int = 144, fmt: str = "PNG", seed: int = 0, shift: int = 0
) -> bytes:
    """A smooth, textured test picture (gradients + discs), optionally shifted right by ``shift`` px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xx = xx - shift
    img = np.stack(
        [128 + 100 * np.sin(xx / 17.0), 128 + 100 * np.cos(yy / 13.0), 128 + 60 * np.sin((xx + yy) / 23.0)],
        axis=-1,
    )
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, 30)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def mp4_bytes(frames: list[Any], fps: int, tone_seconds: float = 0.0) -> bytes:
    """An H.264 MP4 of ``frames`` (RGB uint8 arrays, even sides) at ``fps``, encoded in memory; with
    ``tone_seconds``, also an AAC track of a 440 Hz tone that long."""
    from fractions import Fraction

    import av

    rate = 48000
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        audio = container.add_stream("aac", rate=rate, layout="mono") if tone_seconds else None
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
        if audio is not None:
            t = np.arange(round(tone_seconds * rate)) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            for at in range(0, tone.shape[1], 1024):
                sound = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, at : at + 1024]), format="fltp", layout="mono"
                )
                sound.sample_rate, sound.pts, sound.time_base = rate, at, Fraction(1, rate)
                container.mux(audio.encode(sound))
            container.mux(audio.encode(None))
    return buf.getvalue()


def grey_ramp(count: int, width: int = 160, height: int = 128) -> list[Any]:
    """``count`` flat frames whose grey level tells their index (10, 30, 50, ...)."""
    return [np.full((height, width, 3), 10 + 20 * i, np.uint8) for i in range(count)]


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """The wall clock, under the test's control: ``clock.shift(timedelta(hours=2))`` moves every
    ``datetime.now()`` (the store's timestamps, windows, expiries) forward without waiting."""
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        yield traveller


@pytest.fixture
def pair() -> list[str]:
    return [data_uri(image_bytes(seed=1)), data_uri(image_bytes(seed=1, shift=12))]
