"""What a paying tenant relies on: idempotency, credits, concurrency limits, priorities, moderation."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import func, select

from framecast.domain import ErrorCode, TaskError, TaskState
from framecast.store import billing
from framecast.store import tasks as task_store
from framecast.store.db import Database
from framecast.store.keys import create_key
from framecast.store.tables import LedgerRow, TaskRow
from framecast.store.time import utcnow
from tests.conftest import Api, data_uri, image_bytes


def body(pair: list[str], **extra: Any) -> dict[str, Any]:
    return {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", **extra}


def metered(api: Api, credits: int | None = None, concurrency: int | None = None) -> Api:
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        row, token = create_key(s, name="metered", credits=credits, concurrency_limit=concurrency)
    return Api(api.client, token, row.tenant)


def db_of(api: Api) -> Database:
    db: Database = api.client.app.state.db  # type: ignore[attr-defined]
    return db


def claim(db: Database, worker: str = "w") -> tuple[str, int] | None:
    """(task id, attempt) of the next task a worker named ``worker`` takes; None when none is due."""
    with db.session() as s:
        return task_store.claim_next(s, worker=worker, lease_seconds=30)


def balance(api: Api) -> int | None:
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        return billing.balance(s, tenant=api.tenant).credits


# --- idempotency ------------------------------------------------------------------------------------


def test_same_key_same_body_returns_the_first_task(api: Api, pair: list[str]) -> None:
    first = api.post("/ent/v2/start-end2video", body(pair, client_request_id="req-1")).json()
    again = api.post("/ent/v2/start-end2video", body(pair, client_request_id="req-1")).json()
    assert again["task_id"] == first["task_id"]
    assert len(api.get("/ent/v2/tasks").json()["tasks"]) == 1
    other = api.new_key()  # keys are scoped per tenant
    assert (
        other.post("/ent/v2/start-end2video", body(pair, client_request_id="req-1")).json()["task_id"]
        != first["task_id"]
    )


def test_same_key_other_body_is_409(api: Api, pair: list[str]) -> None:
    api.post("/ent/v2/start-end2video", body(pair, client_request_id="req-2"))
    resp = api.post("/ent/v2/start-end2video", body(pair, client_request_id="req-2", prompt="different"))
    assert resp.status_code == 409 and resp.json()["reason"] == "Conflict"
    assert len(api.get("/ent/v2/tasks").json()["tasks"]) == 1


def test_concurrent_duplicates_make_one_task(api: Api, pair: list[str]) -> None:
    def send(_: int) -> str:
        resp = api.post("/ent/v2/start-end2video", body(pair, client_request_id="burst"))
        assert resp.status_code == 200, resp.text
        return str(resp.json()["task_id"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(send, range(16)))
    assert len(ids) == 1
    assert len(api.get("/ent/v2/tasks").json()["tasks"]) == 1
    inputs = api.client.app.state.settings.blob_dir / "inputs"  # type: ignore[attr-defined]
    assert [p.name for p in inputs.iterdir()] == list(ids)  # the losers' blobs were removed


def test_expired_key_can_be_reused(
    make_api: Callable[..., Api], pair: list[str], clock: time_machine.Coordinates
) -> None:
    api = make_api(idempotency_hours=1)
    first = api.post("/ent/v2/start-end2video", body(pair, client_request_id="old")).json()["task_id"]
    clock.shift(timedelta(hours=1, minutes=1))
    second = api.post("/ent/v2/start-end2video", body(pair, client_request_id="old", prompt="new")).json()
    assert second["task_id"] != first


# --- credits ----------------------------------------------------------------------------------------


def test_credits_charge_refund_and_never_go_negative(api: Api, pair: list[str]) -> None:
    cost = api.post("/ent/v2/start-end2video", body(pair)).json()["credits"]  # 540p 1 s
    assert cost > 0
    paying = metered(api, credits=cost * 7)

    def send(_: int) -> int:
        return int(paying.post("/ent/v2/start-end2video", body(pair)).status_code)

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(send, range(50)))
    assert codes.count(200) == 7
    assert codes.count(400) == 43
    assert balance(paying) == 0
    refused = paying.post("/ent/v2/start-end2video", body(pair))
    assert refused.json()["reason"] == "CreditInsufficient"
    assert len(paying.get("/ent/v2/tasks", params={"pager.pagesz": 100}).json()["tasks"]) == 7
    # cancelling refunds, once
    task_id = paying.get("/ent/v2/tasks").json()["tasks"][0]["id"]
    paying.post(f"/ent/v2/tasks/{task_id}/cancel", {})
    assert balance(paying) == cost
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        task_store.cancel_queued(s, task_id=task_id, message="again", reason="x")  # no-op: not queued
        total = s.scalar(select(func.sum(LedgerRow.delta)).where(LedgerRow.tenant == paying.tenant))
    assert balance(paying) == cost and total == -6 * cost


def test_credits_endpoint(api: Api, pair: list[str]) -> None:
    paying = metered(api, credits=500, concurrency=3)
    paying.post("/ent/v2/start-end2video", body(pair))
    resp = paying.get("/ent/v2/credits").json()
    (remain,) = resp["remains"]
    assert remain["credit_remain"] == 500 - 5
    assert remain["concurrency_limit"] == 3
    assert remain["current_concurrency"] == 0 and remain["queue_count"] == 1
    assert resp["packages"] == []


def test_failed_task_is_refunded(api: Api, pair: list[str]) -> None:
    paying = metered(api, credits=100)
    task_id = paying.post("/ent/v2/start-end2video", body(pair)).json()["task_id"]
    db = db_of(api)
    claimed = claim(db, "t")
    assert claimed is not None and claimed[0] == task_id
    with db.session() as s:
        failure = TaskError(code=ErrorCode.INTERNAL, message="boom")
        assert task_store.finish_failure(
            s, task_id=task_id, attempt=claimed[1], state=TaskState.FAILED, error=failure
        )
    assert balance(paying) == 100


# --- concurrency and scheduling ----------------------------------------------------------------------


def test_reject_mode_answers_429(make_api: Callable[..., Api], pair: list[str]) -> None:
    api = metered(make_api(concurrency_mode="reject"), concurrency=1)
    assert api.post("/ent/v2/start-end2video", body(pair)).status_code == 200
    resp = api.post("/ent/v2/start-end2video", body(pair))
    assert resp.status_code == 429 and resp.json()["reason"] == "QuotaExceeded"


def test_queue_mode_holds_tasks_over_the_limit(api: Api, pair: list[str]) -> None:
    limited = metered(api, concurrency=1)
    a = limited.post("/ent/v2/start-end2video", body(pair)).json()["task_id"]
    b = limited.post("/ent/v2/start-end2video", body(pair)).json()["task_id"]
    free = api.post("/ent/v2/start-end2video", body(pair)).json()["task_id"]
    db = db_of(api)
    with db.session() as s:
        first = task_store.claim_next(s, worker="w", lease_seconds=30)
        second = task_store.claim_next(s, worker="w", lease_seconds=30)
        third = task_store.claim_next(s, worker="w", lease_seconds=30)
    assert first is not None and first[0] == a
    assert second is not None and second[0] == free  # b waits for a's slot
    assert third is None
    with db.session() as s:
        failure = TaskError(code=ErrorCode.INTERNAL, message="x")
        task_store.finish_failure(s, task_id=a, attempt=first[1], state=TaskState.FAILED, error=failure)
        nxt = task_store.claim_next(s, worker="w", lease_seconds=30)
    assert nxt is not None and nxt[0] == b


def test_priority_order(api: Api, pair: list[str]) -> None:
    other = api.new_key()
    ids = {
        "a_low": api.post("/ent/v2/start-end2video", body(pair)).json()["task_id"],
        "off_peak": api.post("/ent/v2/start-end2video", body(pair, off_peak=True)).json()["task_id"],
        "b_first": other.post("/ent/v2/start-end2video", body(pair)).json()["task_id"],
        "a_high": api.post("/ent/v2/start-end2video", body(pair, cus_priority=5)).json()["task_id"],
        "b_second": other.post("/ent/v2/start-end2video", body(pair)).json()["task_id"],
    }
    order = []
    db = db_of(api)
    while True:
        with db.session() as s:
            got = task_store.claim_next(s, worker="w", lease_seconds=30)
        if got is None:
            break
        order.append(next(k for k, v in ids.items() if v == got[0]))
    # tenant A's oldest task came first, so A goes first, its high-priority task ahead of its older one;
    # across tenants FIFO; off-peak only when nothing else waits
    assert order == ["a_high", "a_low", "b_first", "b_second", "off_peak"]


def test_one_worker_runs_in_priority_order(make_api: Callable[..., Api], pair: list[str]) -> None:
    api = make_api(workers=0)
    low = api.post("/ent/v2/img2video", body(pair[:1])).json()["task_id"]
    high = api.post("/ent/v2/img2video", body(pair[:1], cus_priority=9)).json()["task_id"]
    runner = api.client.app.state.runner  # type: ignore[attr-defined]
    runner.workers = 1
    runner.start()
    api.wait(low)
    api.wait(high)
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        started = dict(s.execute(select(TaskRow.id, TaskRow.started_at)).all())
    assert started[high] < started[low]


def test_off_peak_expires_with_refund(
    make_api: Callable[..., Api], pair: list[str], clock: time_machine.Coordinates
) -> None:
    api = make_api(off_peak_window_hours=48)
    paying = metered(api, credits=100)
    task_id = paying.post("/ent/v2/start-end2video", body(pair, off_peak=True)).json()["task_id"]
    assert balance(paying) == 95
    clock.shift(timedelta(hours=47))
    api.client.app.state.runner.reap()  # type: ignore[attr-defined]
    assert paying.get(f"/ent/v2/tasks/{task_id}/creations").json()["state"] == "queueing"
    clock.shift(timedelta(hours=1, minutes=1))
    api.client.app.state.runner.reap()  # type: ignore[attr-defined]
    got = paying.get(f"/ent/v2/tasks/{task_id}/creations").json()
    assert got["state"] == "failed" and got["err_code"] == "OffPeakExpired"
    assert balance(paying) == 100


# --- moderation -------------------------------------------------------------------------------------


def test_blocked_prompt_is_refused_and_free(api: Api, pair: list[str]) -> None:
    paying = metered(api, credits=100)
    for prompt in ("a snuff film scene", "生成儿童色情内容"):
        resp = paying.post("/ent/v2/start-end2video", body(pair, prompt=prompt))
        assert resp.status_code == 400 and resp.json()["reason"] == "AuditSubmitIllegal", resp.text
    assert (
        paying.post("/ent/v2/start-end2video", body(pair, prompt="a snuffbox on a table")).status_code == 200
    )
    assert balance(paying) == 95
    assert len(paying.get("/ent/v2/tasks").json()["tasks"]) == 1


def test_custom_blocklist(make_api: Callable[..., Api], pair: list[str], tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# mine\nbanana\n")
    api = make_api(blocklist_file=words)
    assert api.post("/ent/v2/start-end2video", body(pair, prompt="A Banana split")).status_code == 400
    assert api.post("/ent/v2/start-end2video", body(pair, prompt="snuff film")).status_code == 200


def test_lapsed_lease_requeues_and_fences(api: Api, pair: list[str]) -> None:
    task_id = api.post("/ent/v2/start-end2video", body(pair)).json()["task_id"]
    db = db_of(api)
    claimed = claim(db, "old")
    assert claimed == (task_id, 1)
    with db.session() as s:
        reaped = task_store.requeue_expired(s, max_attempts=3, now=utcnow() + timedelta(seconds=60))
    assert reaped.requeued == [task_id] and reaped.abandoned == []
    again = claim(db, "new")
    assert again == (task_id, 2)
    with db.session() as s:  # the old worker's writes now match nothing
        assert task_store.heartbeat(s, task_id=task_id, attempt=1, progress=50, lease_seconds=30) is None
        assert not task_store.finish_success(s, task_id=task_id, attempt=1, creations=[])


def test_idempotency_key_header_in_every_dialect(api: Api, pair: list[str]) -> None:
    big = [data_uri(image_bytes(400, 300, seed=8)), data_uri(image_bytes(400, 300, seed=8, shift=6))]
    cases: list[tuple[str, dict[str, Any], dict[str, Any], Callable[[Any], str]]] = [
        (
            "/v1/videos/image2video",
            {"model_name": "kling-v2-1", "image": big[0], "image_tail": big[1]},
            {"prompt": "other"},
            lambda r: r.json()["data"]["task_id"],
        ),
        (
            "/beta/video/generations/qianfan-video",
            {
                "model": "qianfan-video-latest",
                "type": "start-end2video",
                "model_parameters": {"images": pair, "prompt": "go", "duration": 2},
            },
            {"model_parameters": {"images": pair, "prompt": "other", "duration": 2}},
            lambda r: r.json()["task_id"],
        ),
        (
            "/v1/videos/generations",
            {
                "selected_model": "Viduq2-pro-FLF2V-fast",
                "task_type": "flf2video",
                "input": {
                    "image": big[0],
                    "last_image": big[1],
                    "prompt": "go",
                    "resolution": "720p",
                    "duration": 5,
                },
            },
            {
                "input": {
                    "image": big[0],
                    "last_image": big[1],
                    "prompt": "x",
                    "resolution": "720p",
                    "duration": 5,
                }
            },
            lambda r: r.json()["data"]["taskId"],
        ),
        (
            "/v1/video/generations",
            {"model": "viduq3-pro", "image": pair[0], "last_image": pair[1], "duration": 1},
            {"prompt": "other"},
            lambda r: r.json()["id"],
        ),
    ]
    for path, first, change, task_id_of in cases:
        headers = {**api.headers("Bearer"), "Idempotency-Key": f"k-{path}"}
        a = api.client.post(path, json=first, headers=headers)
        b = api.client.post(path, json=first, headers=headers)
        assert a.status_code == b.status_code == 200, (path, a.text)
        assert task_id_of(a) == task_id_of(b), path
        c = api.client.post(path, json={**first, **change}, headers=headers)
        assert c.status_code == 409, (path, c.text)


def test_a_full_tenants_backlog_does_not_block_others(api: Api, pair: list[str]) -> None:
    limited = metered(api, concurrency=1)
    template = limited.post("/ent/v2/start-end2video", body(pair)).json()["task_id"]
    db = db_of(api)
    with db.session() as s:
        first = task_store.claim_next(s, worker="w", lease_seconds=30)
        assert first is not None and first[0] == template
        row = s.get(TaskRow, template)
        assert row is not None
        columns = {c.key: getattr(row, c.key) for c in TaskRow.__table__.columns}
        for i in range(300):  # a backlog far larger than any scan window
            s.add(
                TaskRow(
                    **{
                        **columns,
                        "id": f"9{i:05d}",
                        "state": "queued",
                        "attempt": 0,
                        "created_at": row.created_at,
                    }
                )
            )
    other = api.post("/ent/v2/start-end2video", body(pair)).json()["task_id"]
    got = claim(db)
    assert got is not None and got[0] == other


def test_reaper_forgets_expired_idempotency_keys(
    make_api: Callable[..., Api], pair: list[str], clock: time_machine.Coordinates
) -> None:
    from framecast.store.tables import IdempotencyRow

    api = make_api(idempotency_hours=24)
    api.post("/ent/v2/start-end2video", body(pair, client_request_id="short-lived"))
    db = db_of(api)
    api.client.app.state.runner.reap()  # type: ignore[attr-defined]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRow)) == 1
    clock.shift(timedelta(hours=24, minutes=1))
    api.client.app.state.runner.reap()  # type: ignore[attr-defined]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRow)) == 0
