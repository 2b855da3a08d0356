"""`framecast submit` and `framecast tasks` against a real server in a thread."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from framecast.cli import app
from framecast.client import Client, Task, TaskFailed
from tests.conftest import image_bytes
from tests.test_client import Live, live  # noqa: F401 - the module-scoped server fixture

runner = CliRunner()


@pytest.fixture
def env(live: Live) -> dict[str, str]:  # noqa: F811
    return {"FRAMECAST_SERVER": live.url, "FRAMECAST_API_KEY": live.token}


@pytest.fixture
def frames(tmp_path: Path) -> tuple[str, str]:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(image_bytes(seed=2))
    b.write_bytes(image_bytes(seed=2, shift=10))
    return str(a), str(b)


def test_submit_wait_writes_a_playable_mp4(
    env: dict[str, str], frames: tuple[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out" / "clip.mp4"
    result = runner.invoke(
        app,
        ["submit", "--first", frames[0], "--last", frames[1], "--prompt", "slow push in", "--duration", "1",
         "--resolution", "540p", "--seed", "7", "--wait", "-o", str(out)],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and f"wrote {out}" in result.output
    assert "960x540, 1 s at 24 fps" in result.output
    with av.open(str(out)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == 24 and (decoded[0].width, decoded[0].height) == (960, 540)


def test_tasks_list_show_cancel(env: dict[str, str], frames: tuple[str, str], live: Live) -> None:  # noqa: F811
    args = ["submit", "--first", frames[0], "--last", frames[1], "--duration", "16", "--resolution", "1080p"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    task_id = result.output.split()[1]
    assert result.output.startswith(f"task {task_id} queued")

    listed = runner.invoke(app, ["tasks", "list", "--limit", "50"], env=env)
    assert listed.exit_code == 0 and task_id in listed.output

    shown = runner.invoke(app, ["tasks", "show", task_id], env=env)
    assert shown.exit_code == 0 and task_id in shown.output and "progress" in shown.output

    cancelled = runner.invoke(app, ["tasks", "cancel", task_id], env=env)
    assert cancelled.exit_code == 0 and f"cancel requested for {task_id}" in cancelled.output

    with Client(live.url, live.token) as client, pytest.raises(TaskFailed):
        client.wait(task_id, timeout=30)  # a running task stops at its next frame
    only = runner.invoke(app, ["tasks", "list", "--state", "cancelled"], env=env)
    assert only.exit_code == 0 and task_id in only.output

    # flags work as well as the environment
    flags = ["--server", live.url, "--key", live.token]
    missing = runner.invoke(app, ["tasks", "show", "123", *flags])
    assert missing.exit_code == 1
    assert "task 123 not found" in missing.output and "HTTP 404" in missing.output


def test_errors_print_the_service_code_and_exit_nonzero(env: dict[str, str], frames: tuple[str, str]) -> None:
    bad_key = runner.invoke(app, ["tasks", "list"], env={**env, "FRAMECAST_API_KEY": "nope"})
    assert bad_key.exit_code == 1 and "Unauthorized" in bad_key.output

    refused = runner.invoke(app, ["submit", "--first", frames[0], "--duration", "99"], env=env)
    assert refused.exit_code == 1
    assert "FieldInvalid" in refused.output and "duration" in refused.output

    no_file = runner.invoke(app, ["submit", "--first", "/nonexistent/x.png"], env=env)
    assert no_file.exit_code == 2 and "No such file" in no_file.output

    nothing = runner.invoke(app, ["submit"], env=env)
    assert nothing.exit_code != 0


def test_server_defaults_to_env_then_the_local_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --server: FRAMECAST_SERVER, then http://127.0.0.1:8000 (where `framecast serve` listens)."""
    import framecast.client

    seen: list[str] = []

    class Recorder:
        def __init__(self, server: str, key: str, **_: object) -> None:
            seen.append(server)
            raise OSError("not connecting in this test")

    monkeypatch.setattr(framecast.client, "Client", Recorder)
    monkeypatch.delenv("FRAMECAST_SERVER", raising=False)
    env = {"FRAMECAST_API_KEY": "fc-test"}
    for args in (
        ["submit", "--prompt", "a cat"],
        ["tasks", "list"],
        ["tasks", "show", "1"],
        ["tasks", "cancel", "1"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2 and "not connecting" in result.output, result.output
    assert seen == ["http://127.0.0.1:8000"] * 4
    result = runner.invoke(
        app, ["submit", "--prompt", "a cat"], env={**env, "FRAMECAST_SERVER": "http://gpu-box:8000"}
    )
    assert seen[-1] == "http://gpu-box:8000"
    result = runner.invoke(
        app, ["tasks", "list", "--server", "http://flag:1"], env={**env, "FRAMECAST_SERVER": "http://env:2"}
    )
    assert seen[-1] == "http://flag:1"


def whole_url(url: str, text: str) -> bool:
    """Whether ``text`` holds ``url`` whole; a signed URL is re-signed on every read (its expiry moves
    with the clock), so the expiry may differ but the signature must be there at full length."""
    base, sig = re.fullmatch(r"(.*)\?expires=\d+&sig=([\w-]+)", url).groups()  # type: ignore[union-attr]
    pattern = re.escape(base) + rf"\?expires=\d+&sig=[\w-]{{{len(sig)}}}(?![\w-])"
    return re.search(pattern, text) is not None


def test_tasks_show_and_list_never_cut_ids_or_urls(env: dict[str, str], frames: tuple[str, str]) -> None:
    """At 40 columns and not on a terminal the id and every result URL appear whole; --json dumps the
    client's whole task record."""
    narrow = {**env, "COLUMNS": "40"}
    args = ["submit", "--first", frames[0], "--last", frames[1], "--duration", "1", "--resolution", "540p"]
    result = runner.invoke(app, [*args, "--wait"], env=narrow)
    assert result.exit_code == 0, result.output
    task_id = result.output.split()[1]
    with Client(env["FRAMECAST_SERVER"], env["FRAMECAST_API_KEY"]) as client:
        task = client.get(task_id)
    (creation,) = task.creations
    assert len(creation.url) > 80

    shown = runner.invoke(app, ["tasks", "show", task_id], env=narrow)
    assert shown.exit_code == 0, shown.output
    assert task_id in shown.output
    assert whole_url(creation.url, shown.output) and whole_url(creation.cover_url, shown.output)
    listed = runner.invoke(app, ["tasks", "list"], env=narrow)
    assert listed.exit_code == 0 and task_id in listed.output

    as_json = runner.invoke(app, ["tasks", "show", task_id, "--json"], env=narrow)
    assert as_json.exit_code == 0, as_json.output
    record = json.loads(as_json.output)
    fields = {f.name for f in dataclasses.fields(Task) if f.repr}
    assert fields <= set(record), "every field of the client's Task is dumped"
    assert record["id"] == task_id and record["state"] == "succeeded" and record["progress"] == 100
    assert whole_url(creation.url, record["creations"][0]["url"])
    assert record["creations"][0]["width"] == 960

    listed_json = runner.invoke(app, ["tasks", "list", "--json", "--limit", "100"], env=narrow)
    assert listed_json.exit_code == 0, listed_json.output
    by_id = {r["id"]: r for r in json.loads(listed_json.output)}
    assert by_id[task_id]["state"] == "succeeded" and set(by_id[task_id]) >= fields
