"""Signed callbacks from a durable outbox: Vidu HMAC, Standard Webhooks, retries, restarts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from framecast.callbacks import standard_webhook_headers, vidu_signing_string
from framecast.store import outbox
from tests.conftest import Api, _api, data_uri, image_bytes, make_settings
from tests.receiver import Received, Receiver
from tests.waiting import wait_until


def independent_vidu_verify(req: Received, method: str, url: str, token: str) -> bool:
    """Written from the reference's section 1.5 text, not from framecast's code."""
    parts = urlsplit(url)
    signed = req.headers["X-HMAC-SIGNED-HEADERS"].split(";")
    lines = [method, parts.path or "/", parts.query, req.headers["X-HMAC-ACCESS-KEY"], req.headers["Date"]]
    lines += [f"{name}:{req.headers[name]}" for name in signed]
    message = "".join(line + "\n" for line in lines)
    expected = base64.b64encode(hmac.new(token.encode(), message.encode(), hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, req.headers["X-HMAC-SIGNATURE"])


def test_vidu_signing_string_matches_the_worked_example() -> None:
    date = "Tue, 06 May 2025 12:09:42 GMT"
    got = vidu_signing_string(
        method="post", url="http://127.0.0.1:8080/vidu/callback?name=james&age=36", date=date, nonce="abc123"
    )
    assert got == (
        f"POST\n/vidu/callback\nname=james&age=36\nvidu\n{date}\nDate:{date}\nx-request-nonce:abc123\n"
    )
    assert vidu_signing_string(method="POST", url="http://h", date=date, nonce="n").startswith(
        "POST\n/\n\nvidu\n"
    )


def test_standard_webhooks_signature() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    headers = standard_webhook_headers(msg_id="msg_1", body=b'{"a":1}', secret=secret, timestamp=1700000000)
    mac = hmac.new(b"k" * 32, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


FAST = {"allow_private_urls": True, "callback_backoff_seconds": 0.2, "workers": 1}


def settled_history(api: Api, task_id: str, timeout: float = 10.0) -> list[tuple[Any, list[Any]]]:
    """The task's outbox rows and attempts once none is mid-send: the receiver sees a request before
    the sender has recorded its answer."""

    def settled() -> list[tuple[Any, list[Any]]] | None:
        with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
            history = outbox.history(s, task_id=task_id)
        return history if all(row.status != "sending" for row, _ in history) else None

    return wait_until(settled, timeout, what="the callbacks to settle", poll=0.02)


def finished_delivering(api: Api, task_id: str, events: int, timeout: float = 30.0) -> None:
    """Wait until ``events`` callbacks of the task are delivered or given up: nothing more will be sent."""

    def done() -> bool:
        with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
            history = outbox.history(s, task_id=task_id)
        return len(history) == events and all(row.status in ("delivered", "dead") for row, _ in history)

    wait_until(done, timeout, what=f"{events} callbacks to be delivered or given up")


def create(api: Api, pair: list[str], **extra: Any) -> str:
    resp = api.post(
        "/ent/v2/start-end2video",
        {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", **extra},
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["task_id"])


def test_vidu_callbacks_signed_and_retried(
    make_api: Callable[..., Api], pair: list[str], receiver: Receiver
) -> None:
    api = make_api(**FAST)
    receiver.fail_first = 3  # the processing event fails twice (its limit), then success fails once
    task_id = create(api, pair, callback_url=receiver.url, payload="ref-1")
    finished_delivering(api, task_id, events=2)  # running and succeeded: nothing more will be sent
    got = list(receiver.received)
    states = [r.json()["state"] for r in got]
    # the first three requests fail: processing is tried twice and given up, success once then delivered
    assert sorted(states) == ["processing", "processing", "success", "success"]
    assert states[0] == "processing"
    for r in got:
        assert r.path == "/hooks/framecast?name=james&age=36"
        assert independent_vidu_verify(r, "POST", receiver.url, api.token)
        assert abs(parsedate_to_datetime(r.headers["Date"]).timestamp() - time.time()) < 60
        assert r.headers["X-HMAC-ALGORITHM"] == "hmac-sha256"
    final = got[-1].json()
    query = api.get(f"/ent/v2/tasks/{task_id}/creations").json()
    assert set(final) == set(query)
    assert final["id"] == task_id and final["payload"] == "ref-1" and len(final["creations"]) == 1
    assert got[0].json()["creations"] == []
    # every attempt is on record for the operator
    history = settled_history(api, task_id)
    by_event = {row.event: ([a.status_code for a in attempts], row.status) for row, attempts in history}
    assert by_event["running"] == ([500, 500], "dead")
    assert by_event["succeeded"] == ([500, 200], "delivered")
    assert all(a.latency_ms >= 0 for _, attempts in history for a in attempts)


def test_failed_callback_for_cancelled_task(
    make_api: Callable[..., Api], pair: list[str], receiver: Receiver
) -> None:
    api = make_api(**{**FAST, "workers": 0})
    task_id = create(api, pair, callback_url=receiver.url)
    api.post(f"/ent/v2/tasks/{task_id}/cancel", {})
    (got,) = receiver.wait_for(lambda rs: len(rs) == 1)
    body = got.json()
    assert body["state"] == "failed" and body["err_code"] == "UserCancelled"


def test_tampered_signature_does_not_verify(
    make_api: Callable[..., Api], pair: list[str], receiver: Receiver
) -> None:
    api = make_api(**{**FAST, "workers": 0})
    create(api, pair, callback_url=receiver.url)
    task_id = create(api, pair, callback_url=receiver.url)
    api.post(f"/ent/v2/tasks/{task_id}/cancel", {})
    (got,) = receiver.wait_for(lambda rs: len(rs) == 1)
    assert independent_vidu_verify(got, "POST", receiver.url, api.token)
    assert not independent_vidu_verify(got, "POST", receiver.url, api.token + "x")
    assert not independent_vidu_verify(got, "POST", receiver.url.replace("age=36", "age=37"), api.token)


def test_callback_url_obeys_fetch_rules(api: Api, pair: list[str]) -> None:
    resp = api.post(
        "/ent/v2/start-end2video",
        {"model": "viduq3-pro", "images": pair, "callback_url": "http://127.0.0.1:9/hook"},
    )
    assert resp.status_code == 400 and resp.json()["reason"] == "FieldInvalid"
    assert "callback_url" in resp.json()["message"]
    for bad in ("ftp://example.com/x", "http://169.254.169.254/latest"):
        resp = api.post(
            "/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair, "callback_url": bad}
        )
        assert resp.status_code == 400
    assert api.get("/ent/v2/tasks").json()["tasks"] == []


def test_undelivered_callbacks_survive_a_restart(tmp_path: Path, pair: list[str], receiver: Receiver) -> None:
    receiver.fail_first = 10**6
    receiver.status_when_failing = 503
    settings = make_settings(tmp_path, **{**FAST, "workers": 0, "callback_backoff_seconds": 0.2})
    gen = _api(settings)
    api = next(gen)
    task_id = create(api, pair, callback_url=receiver.url)
    api.post(f"/ent/v2/tasks/{task_id}/cancel", {})
    receiver.wait_for(lambda rs: len(rs) >= 1)
    for _ in gen:  # stop the first service while the callback is still undelivered
        pass
    seen = len(receiver.received)
    receiver.fail_first = 0
    gen2 = _api(settings)
    api2 = next(gen2)
    try:
        got = receiver.wait_for(lambda rs: len(rs) > seen, timeout=30)
        assert got[-1].json()["id"] == task_id
        ((row, attempts),) = settled_history(api2, task_id)
        assert row.status == "delivered" and attempts[-1].status_code == 200
        assert [a.status_code for a in attempts[:-1]] == [503] * (len(attempts) - 1)
    finally:
        for _ in gen2:
            pass


def test_other_dialects_sign_with_standard_webhooks(make_api: Callable[..., Api], receiver: Receiver) -> None:
    api = make_api(**{**FAST, "workers": 0})
    pair = [data_uri(image_bytes(400, 300)), data_uri(image_bytes(400, 300, shift=6))]  # Kling: >= 300 px
    resp = api.post(
        "/v1/videos/image2video",
        {"model_name": "kling-v2-1", "image": pair[0], "image_tail": pair[1], "callback_url": receiver.url},
        scheme="Bearer",
    )
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["data"]["task_id"]
    api.post(f"/ent/v2/tasks/{task_id}/cancel", {})
    (got,) = receiver.wait_for(lambda rs: len(rs) == 1)
    body = got.json()
    assert body["task_id"] == task_id and body["task_status"] == "failed"  # Kling's own callback shape
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        from framecast.store.keys import list_keys

        secret = next(k.webhook_secret for k in list_keys(s) if k.tenant == api.tenant)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert got.headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60


def test_operator_sees_attempts_in_the_cli(
    make_api: Callable[..., Api], pair: list[str], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from framecast.cli import app as cli

    api = make_api(**{**FAST, "workers": 0})
    receiver.fail_first = 1
    task_id = create(api, pair, callback_url=receiver.url)
    api.post(f"/ent/v2/tasks/{task_id}/cancel", {})
    receiver.wait_for(lambda rs: len(rs) == 2)
    settled_history(api, task_id)
    monkeypatch.setenv("FRAMECAST_DATA_DIR", str(api.client.app.state.settings.data_dir))  # type: ignore[attr-defined]
    monkeypatch.setenv("COLUMNS", "250")
    out = CliRunner().invoke(cli, ["callbacks", task_id])
    assert out.exit_code == 0, out.output
    assert "cancelled" in out.output and "delivered" in out.output
    assert "500" in out.output and "200" in out.output


def test_newapi_callback_sends_newapi_task_body(make_api: Callable[..., Api], receiver: Receiver) -> None:
    api = make_api(**{**FAST, "workers": 0})
    pair = [data_uri(image_bytes()), data_uri(image_bytes(shift=6))]
    resp = api.post(
        "/v1/video/generations",
        {"model": "viduq3-pro", "images": pair, "metadata": {"callback_url": receiver.url}},
        scheme="Bearer",
    )
    assert resp.status_code == 200, resp.text
    public_id = resp.json()["id"]
    api.post(f"/ent/v2/tasks/{public_id.removeprefix('task_')}/cancel", {})
    (got,) = receiver.wait_for(lambda rs: len(rs) == 1)
    body = got.json()
    # new-api's own task answer (the query shape), not Vidu's {id, state, err_code, creations}
    query = api.get(f"/v1/video/generations/{public_id}", scheme="Bearer").json()
    assert set(body) == set(query)
    assert body["code"] == "success" and body["task_id"] == public_id
    assert body["data"]["status"] == "FAILURE" and body["status"] == "failed"
    assert "state" not in body and "err_code" not in body
    assert "webhook-signature" in got.headers
