"""The command line: keys (shown once, stored hashed), generate without a server, models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from framecast.cli import app
from framecast.media.labels import read_label
from framecast.store.db import Database
from framecast.store.tables import ApiKeyRow, TenantRow
from tests.conftest import Api, data_uri, image_bytes

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("FRAMECAST_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "250")  # Rich squeezes tables to the terminal width
    return data


def test_keys_create_list_topup_revoke(env: Path) -> None:
    out = runner.invoke(app, ["keys", "create", "--quiet"])
    assert out.exit_code == 0, out.output
    token = out.output.strip()
    assert token.startswith("fc-") and "\n" not in token
    db = Database(f"sqlite:///{env / 'framecast.db'}")
    with db.session() as s:
        (row,) = s.scalars(select(ApiKeyRow)).all()
        assert row.key_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str([row.id, row.name, row.prefix, row.tenant])  # only a prefix is kept
    out = runner.invoke(app, ["keys", "create", "--name", "ci", "--credits", "100", "--concurrency", "2"])
    assert out.exit_code == 0 and "shown only this once" in out.output and "whsec_" in out.output
    listed = runner.invoke(app, ["keys", "list"])
    assert "ci" in listed.output and "100" in listed.output and "unmetered" in listed.output
    with db.session() as s:
        metered = s.scalars(select(ApiKeyRow).where(ApiKeyRow.name == "ci")).one()
    top = runner.invoke(app, ["keys", "topup", metered.id, "--credits", "50"])
    assert top.exit_code == 0 and "150" in top.output
    with db.session() as s:
        assert s.get(TenantRow, metered.tenant).credits == 150  # type: ignore[union-attr]
    assert runner.invoke(app, ["keys", "revoke", metered.id]).exit_code == 0
    again = runner.invoke(app, ["keys", "revoke", metered.id])
    assert again.exit_code == 1
    with db.session() as s:
        assert s.get(ApiKeyRow, metered.id).revoked_at is not None  # type: ignore[union-attr]


def test_generate_without_server(env: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    a.write_bytes(image_bytes(320, 180, seed=2))
    b.write_bytes(image_bytes(320, 180, seed=2, shift=9, fmt="JPEG"))
    out_path = tmp_path / "out" / "clip.mp4"
    res = runner.invoke(
        app,
        [
            "generate",
            "--first",
            str(a),
            "--last",
            str(b),
            "--prompt",
            "slide",
            "--frames",
            "10",
            "--fps",
            "12",
            "--resolution",
            "540p",
            "--seed",
            "3",
            "-o",
            str(out_path),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "seed 3" in res.output
    with av.open(str(out_path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(c.decode(stream))
    assert len(frames) == 10 and (frames[0].width, frames[0].height) == (960, 540)
    assert read_label(out_path)


def test_generate_errors_are_clear(env: Path, tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    a.write_bytes(image_bytes(320, 180))
    res = runner.invoke(
        app, ["generate", "--first", str(a), "--duration", "99", "-o", str(tmp_path / "x.mp4")]
    )
    assert res.exit_code == 2 and "duration 99" in res.output
    res = runner.invoke(
        app, ["generate", "--first", str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.mp4")]
    )
    assert res.exit_code == 2


def test_models_lists_the_catalog(env: Path) -> None:
    res = runner.invoke(app, ["models"])
    assert res.exit_code == 0 and "viduq3-pro" in res.output and "builtin" in res.output


def test_generate_refuses_a_pair_the_server_refuses(env: Path, tmp_path: Path, api: Api) -> None:
    """First and last frames whose pixel counts differ fourfold: one rule, one message, in both."""
    small, large = image_bytes(320, 180, seed=4), image_bytes(640, 360, seed=4, shift=8)
    body = {"model": "viduq3-pro", "images": [data_uri(small), data_uri(large)], "duration": 1}
    resp = api.post("/ent/v2/start-end2video", body)
    assert resp.status_code == 400, resp.text
    message = resp.json()["message"]
    assert "pixel-count ratio is 0.25" in message
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(small)
    b.write_bytes(large)
    out = tmp_path / "x.mp4"
    res = runner.invoke(
        app, ["generate", "--first", str(a), "--last", str(b), "--frames", "4", "-o", str(out)]
    )
    assert res.exit_code == 2
    assert f"error: {message}" in res.output
    assert not out.exists()


def test_keys_list_never_cuts_ids(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow terminal (or none: CliRunner is not a tty) shows every key id and tenant in full."""
    monkeypatch.setenv("COLUMNS", "40")
    for name in ("a rather long name for a key", "ci"):
        assert runner.invoke(app, ["keys", "create", "--name", name, "--credits", "7"]).exit_code == 0
    db = Database(f"sqlite:///{env / 'framecast.db'}")
    with db.session() as s:
        rows = s.scalars(select(ApiKeyRow)).all()
        secrets = [r.webhook_secret for r in rows] + [r.key_hash for r in rows]
        expected = {r.id: (r.tenant, r.prefix) for r in rows}
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    for key_id, (tenant, prefix) in expected.items():
        assert key_id in listed.output and tenant in listed.output and prefix + "..." in listed.output
    assert "…" not in listed.output

    as_json = runner.invoke(app, ["keys", "list", "--json"])
    assert as_json.exit_code == 0, as_json.output
    records = json.loads(as_json.output)
    assert {r["id"]: (r["tenant"], r["prefix"]) for r in records} == expected
    assert {r["name"] for r in records} == {"a rather long name for a key", "ci"}
    assert all(r["credits"] == 7 and r["concurrency_limit"] is None for r in records)
    assert all(r["revoked_at"] is None and r["created_at"].endswith("+00:00") for r in records)
    assert not any(secret in as_json.output for secret in secrets)
