"""Leases held on a timer: slow engines finish in one attempt, cancels reach them mid-step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from framecast.store import billing
from tests.conftest import Api
from tests.jobs.engines import install
from tests.waiting import wait_until

LEASE = 1.0


@pytest.fixture
def sleepy_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_api: Callable[..., Api]
) -> Callable[..., Api]:
    """Builds an app with one worker whose model "viduq3-pro" runs the test-only sleepy engine."""
    monkeypatch.syspath_prepend(str(install(tmp_path / "site")))

    def factory(lease: float = LEASE, **engine: float) -> Api:
        options = ", ".join(f"{k} = {v}" for k, v in engine.items())
        catalog = tmp_path / "catalog.toml"
        catalog.write_text(f'[models."viduq3-pro"]\nengine = "sleepy"\noptions = {{ {options} }}\n')
        return make_api(workers=1, lease_seconds=lease, catalog_file=catalog)

    return factory


def submit(api: Api, pair: list[str], **extra: Any) -> str:
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", **extra}
    resp = api.post("/ent/v2/start-end2video", body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["task_id"])


def native(api: Api, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/v1/tasks/{task_id}").json()
    return body


def test_engine_slower_than_five_leases_finishes_in_one_attempt(
    sleepy_api: Callable[..., Api], pair: list[str]
) -> None:
    # five lease periods in each place where an engine writes nothing: the load, before the first
    # frame, and between two frames
    api = sleepy_api(load_s=5 * LEASE, first_s=5 * LEASE, middle_s=5 * LEASE)
    task_id = submit(api, pair)
    seen: list[dict[str, Any]] = []

    def finished() -> bool:
        seen.append(native(api, task_id))
        return seen[-1]["state"] in ("succeeded", "failed", "cancelled")

    wait_until(finished, timeout=120, what="the slow task to finish", poll=0.1)
    final = seen[-1]
    assert final["state"] == "succeeded", final
    assert final["attempt"] == 1 and final["lost_attempts"] == 0, final
    assert final["worker"] and final["claimed_at"]
    assert len(final["creations"]) == 1 and final["creations"][0]["frames"] == 24
    phases = [s["phase"] for s in seen if s["state"] == "running"]
    # the load is reported as such, not as 0% for its whole length
    assert "loading model" in phases and "generating" in phases, phases
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress), progress
    assert final["phase"] == "" and final["progress"] == 100


def test_cancel_reaches_an_engine_inside_a_long_step(sleepy_api: Callable[..., Api], pair: list[str]) -> None:
    lease = 3.0  # heartbeat every second
    api = sleepy_api(lease=lease, first_s=600.0)
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        billing.topup(s, tenant=api.tenant, amount=1000)
    task_id = submit(api, pair)
    wait_until(lambda: native(api, task_id)["phase"] == "generating", timeout=30, what="the engine to start")
    assert api.post(f"/ent/v2/tasks/{task_id}/cancel", {"id": task_id}).status_code == 200
    # the engine writes nothing for 600 s; only the heartbeat can carry the cancel to it
    final = wait_until(
        lambda: (b := native(api, task_id))["state"] == "cancelled" and b,
        timeout=4 * lease,
        what="the cancel to stop the engine",
    )
    assert final["attempt"] == 1 and final["error"]["reason"] == "UserCancelled"
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        assert billing.balance(s, tenant=api.tenant).credits == 1000  # refunded
