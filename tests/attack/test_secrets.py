"""Secrets stay secret: keys stored hashed and never logged, logs name the request, files owner-only."""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from framecast.logs import FORMAT, RequestIdFilter
from tests.conftest import Api


def _state(api: Api) -> Any:
    return api.client.app.state  # type: ignore[attr-defined]


def test_api_keys_are_stored_as_hashes_only(api: Api, pair: list[str]) -> None:
    assert api.post("/ent/v2/start-end2video", {"model": "viduq1", "images": pair}).status_code == 200
    with _state(api).db.session() as s:
        rows = [dict(r._mapping) for r in s.execute(text("SELECT * FROM api_keys"))]
    mine = [r for r in rows if r["key_hash"] == hashlib.sha256(api.token.encode()).hexdigest()]
    assert len(mine) == 1
    # no column of any key row holds the key, and only its 10-character prefix is kept for display
    assert not any(api.token in str(v) for r in rows for v in r.values())
    assert mine[0]["prefix"] == api.token[:10]
    # nor do the database's own files (the WAL included), whatever table a bug might have written it to
    data_dir = Path(_state(api).settings.data_dir)
    for f in data_dir.glob("framecast.db*"):
        assert api.token.encode() not in f.read_bytes(), f.name


@pytest.fixture
def captured() -> Any:
    """Every record of every logger, at DEBUG, through the filter and format the CLI installs."""
    handler = logging.Handler()
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_keys_never_reach_the_log(api: Api, pair: list[str], captured: list[logging.LogRecord]) -> None:
    wrong = "fc-" + "x" * 43
    calls = [
        api.post("/ent/v2/start-end2video", {"model": "viduq1", "images": pair, "surprise": 1}),
        api.post("/ent/v2/start-end2video", {"model": "viduq1", "images": ["data:image/png;base64,AA"]}),
        api.get("/ent/v2/tasks/nope/creations"),
        api.get("/v1/videos", scheme="Bearer"),
        api.client.get("/v1/videos", headers={"Authorization": f"Bearer {wrong}"}),
        api.client.post("/v1/videos", content=b"{nope", headers={**api.headers("Bearer"), "x": api.token}),
    ]
    assert [c.status_code for c in calls] == [200, 400, 404, 200, 401, 400]
    assert captured, "nothing was logged: the check below would prove nothing"
    formatter = logging.Formatter(FORMAT)
    for record in captured:
        line = formatter.format(record)
        assert api.token not in line and wrong not in line, line


def test_log_lines_carry_the_request_id(api: Api, pair: list[str], captured: list[logging.LogRecord]) -> None:
    # an ignored field is logged while the request is handled: that line names the request
    resp = api.client.post(
        "/ent/v2/start-end2video",
        json={"model": "viduq1", "images": pair, "surprise": 1},
        headers={**api.headers(), "x-request-id": "req-7f3a"},
    )
    assert resp.status_code == 200 and resp.headers["x-request-id"] == "req-7f3a"
    ignored = [r for r in captured if "surprise" in r.getMessage()]
    assert ignored and all(getattr(r, "request_id", None) == "req-7f3a" for r in ignored), ignored
    # without a header the service makes one up, answers with it, and logs under it
    captured.clear()
    resp = api.post("/ent/v2/start-end2video", {"model": "viduq1", "images": pair, "surprise": 2})
    made_up = resp.headers["x-request-id"]
    ignored = [r for r in captured if "surprise" in r.getMessage()]
    assert len(made_up) >= 16 and ignored and all(r.request_id == made_up for r in ignored)  # type: ignore[attr-defined]
    assert "[" + made_up + "]" in logging.Formatter(FORMAT).format(ignored[0])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_directory_and_database_are_owner_only(api: Api, pair: list[str]) -> None:
    assert api.post("/ent/v2/start-end2video", {"model": "viduq1", "images": pair}).status_code == 200
    settings = _state(api).settings
    data_dir = Path(settings.data_dir)
    assert _mode(data_dir) == 0o700
    assert _mode(Path(settings.blob_dir)) == 0o700
    db_files = sorted(data_dir.glob("framecast.db*"))
    assert any(f.name == "framecast.db" for f in db_files), db_files
    for f in [*db_files, data_dir / "secret.key"]:
        assert _mode(f) == 0o600, f"{f.name}: {oct(_mode(f))}"
