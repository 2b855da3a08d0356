"""What a create and a GET cost, piece by piece: the figures behind the create-path and read-path changes.

    python bench/request_costs.py              # micro timings, then GET one task inline vs thread pool
    python bench/request_costs.py --seconds 4  # a longer A/B

Micro timings (median of repeated calls, this process) on the body `bench/load.py` sends: two 512x512
PNGs of real frames as data URIs.
- PNG check: a full decode (`Image.load`) against `verify()` (every chunk's CRC, no inflate).
- base64: the standard library's validating decode after a whole-payload regex (the old check) against
  pybase64's validating decode.
- JSON: `json.loads` against `orjson.loads` of the whole create body.
- One task's read: `load_task` through a SQLAlchemy Connection, the driver's cursor on a connection from
  SQLAlchemy's pool, and `read_task` on the read path's own connection, over 2,000 stored tasks in
  random order.
- GET one task in the app itself (no server): answered with `json_answer` against the dict FastAPI
  validates and encodes, and with FastAPI's OpenTelemetry on.
- The same poll on SQLite and on PostgreSQL (its async read path), the same task every call against a
  random one of 20k, through the whole stack and from the poll fast path inward (PostgreSQL as for
  `bench/throughput.py`).
- Polls of tasks at random from a working set that fits the memo of built tasks and one that does not,
  with the memo and without: mean, 99.9th percentile, garbage-collection time.
- A result link's pieces: the request's base URL and the signed path, each done afresh and remembered.
- A full garbage collection over the service's heap, before and after startup freezes it.
- A create's writes: the balance charge and the task's insert, built per call and run through the ORM
  session (the code before) against statements built once and run on the session's connection.

The A/B: one `framecast serve` (SQLite, no workers) with GET one task read on the event loop (the shipped
behaviour), and one with `TaskService.inline_reads` forced off (the thread pool), alternating for three
rounds of `--seconds` each, 50 connections, the load generator of `bench/load.py`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pybase64
from PIL import Image

from framecast.dialects.common import read_one
from framecast.dialects.deps import LinksDep, PrincipalDep, ServiceDep
from framecast.dialects.vidu import translate as vidu_translate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load
from throughput import free_port

ROOT = Path(__file__).resolve().parent.parent
THREAD_POOL_SERVER = """
import framecast.service as service
from framecast.cli import main
init = service.TaskService.__init__
def thread_pool_reads(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.inline_reads = False
service.TaskService.__init__ = thread_pool_reads
main()
"""


@dataclass
class Served:
    """An app with a key and one created task (two 512x512 PNG data URIs), and a client on it."""

    app: Any
    client: Any
    tenant: str
    token: str
    created: str  # the created task's id

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


@contextmanager
def served(prefix: str, **settings: Any) -> Iterator[Served]:
    """A fresh app on SQLite in a temporary data folder (no workers), its lifespan running."""
    from fastapi.testclient import TestClient

    from framecast.app import create_app
    from framecast.config import Settings
    from framecast.store.keys import create_key

    with tempfile.TemporaryDirectory(prefix=f"framecast-{prefix}-") as tmp:
        app = create_app(Settings(data_dir=Path(tmp), workers=0, **settings))
        with TestClient(app) as client:
            with app.state.db.session() as s:
                key, token = create_key(s, name="bench")
            body = {"model": "viduq3-pro", "images": [load.png_data_uri(0), load.png_data_uri(1)]}
            resp = client.post(
                "/ent/v2/start-end2video", json=body, headers={"Authorization": f"Token {token}"}
            )
            yield Served(app, client, key.tenant, token, resp.json()["task_id"])


def median_ms(fn: Callable[[], object], repeat: int = 30) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def micro() -> None:
    uri = load.png_data_uri(0)
    payload = uri.split(",", 1)[1]
    png = base64.b64decode(payload)
    body = json.dumps({"model": "viduq3-pro", "images": [uri, load.png_data_uri(1)]}).encode()
    old_check = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")

    def decode() -> None:
        Image.open(io.BytesIO(png)).load()

    def verify() -> None:
        Image.open(io.BytesIO(png)).verify()

    def stdlib_b64() -> None:
        text = "".join(payload.split())
        assert old_check.match(text)
        base64.b64decode(text, validate=True)

    rows = [
        ("PNG: full decode", decode, "PNG: verify()", verify),
        (
            "base64: regex + stdlib validating decode",
            stdlib_b64,
            "base64: pybase64 validating decode",
            lambda: pybase64.b64decode(payload.encode("ascii"), validate=True),
        ),
        (
            "JSON: json.loads of the body",
            lambda: json.loads(body),
            "JSON: orjson.loads of the body",
            lambda: orjson.loads(body),
        ),
    ]
    sizes = f"{len(png) / 1e3:.0f} KB PNG, {len(payload) / 1e3:.0f} KB base64"
    print(f"one image: {sizes}; body {len(body) / 1e6:.2f} MB")
    print("| step | before | after |")
    print("| --- | ---: | ---: |")
    for old_name, old_fn, new_name, new_fn in rows:
        print(f"| {old_name} / {new_name} | {median_ms(old_fn):.2f} ms | {median_ms(new_fn):.2f} ms |")


def read_costs() -> None:
    """GET one task's read of a stored task (succeeded, one creation), over 2,000 stored tasks read in
    random order: through a SQLAlchemy Connection (``load_task``), on the driver's cursor
    (``store/prepared.py``) with a connection checked out of SQLAlchemy's pool and back (round four),
    and on a connection of the read path's own (``store/sqlite_reads.py``, round six)."""
    from framecast.store import tasks as task_store
    from framecast.store.prepared import prepared

    with served("reads") as env:
        db = env.app.state.db
        ids = load.populate(db.url, env.created, "other", 2000, 400)
        order = ids * 2

        def through_connection() -> None:
            for task_id in order:
                with db.engine.connect() as conn:
                    task_store.load_task(conn, task_id=task_id, tenant=env.tenant)

        def pooled_cursor() -> None:
            for task_id in order:
                stmt, values = task_store._task_statement(task_id, env.tenant)
                task_store._task_of(prepared(stmt, db.engine.dialect).rows(db.engine, values))

        def own_connection() -> None:
            for task_id in order:
                stmt, values = task_store._task_statement(task_id, env.tenant)
                select = prepared(stmt, db.engine.dialect)
                task_store._task_of(select.convert(db.fetch(select, values)))

        def remembered() -> None:
            for task_id in order:
                task_store.read_task(db, task_id=task_id, tenant=env.tenant)

        n = len(order)
        rows = (
            ("SQLAlchemy Connection, load_task", through_connection),
            ("driver cursor on a connection from SQLAlchemy's pool, task built", pooled_cursor),
            ("driver cursor on a read connection of its own, task built", own_connection),
            ("read_task (shipped): its own connection, the task built from that row before", remembered),
        )
        print("\n| one task's read (SQLite, 2,000 tasks) | per read |")
        print("| --- | ---: |")
        for name, fn in rows:
            print(f"| {name} | {median_ms(fn, repeat=5) * 1000 / n:.0f} us |")
        print(f"\nmemory of a remembered task: {memo_bytes(db, ids, env.tenant) / 1e3:.1f} KB each")


def memo_bytes(db: Any, ids: list[str], tenant: str) -> float:
    """What one more remembered task holds (its rows' values as the key, the task), over ``ids``."""
    import tracemalloc

    from framecast.store import tasks as task_store
    from framecast.store.prepared import prepared
    from framecast.store.row_memo import RowMemo

    memo: RowMemo[Any] = RowMemo(len(ids))
    selects = [task_store._task_statement(task_id, tenant) for task_id in ids]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for stmt, values in selects:
        select = prepared(stmt, db.engine.dialect)
        memo.made(db.fetch(select, values), lambda raw, s=select: task_store._task_of(s.convert(raw)))
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert len(memo) == len(ids)
    return grown / len(ids)


async def vidu_query_as_dict(
    task_id: str, principal: PrincipalDep, svc: ServiceDep, links: LinksDep
) -> dict[str, Any]:
    """The Vidu query route before ``json_answer``: the dict, for FastAPI to validate and encode."""
    return vidu_translate.render_query(await read_one(svc, svc.get, principal, task_id), links)


def get_scope(path: str, token: str) -> dict[str, Any]:
    """The ASGI scope of a GET of ``path`` with ``token``, as uvicorn would pass it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"authorization", f"Token {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


def answer_costs(rounds: int = 7, calls: int = 2000) -> None:
    """GET one task in the app itself (the ASGI app called directly: middleware, routing, dependencies,
    the read, the answer; no HTTP server, no network): the Vidu query route as shipped, answering with
    ``json_answer``, against the same route body returning the dict for FastAPI to validate against
    ``dict[str, Any]`` and encode (the code before), mounted beside it for this run, and the shipped
    route in an app with FastAPI's native OpenTelemetry on (``FRAMECAST_OPENTELEMETRY=true``, no provider
    configured: what every request paid before round six). Alternating rounds, the median round of each."""
    import asyncio

    from fastapi.testclient import TestClient

    from framecast.app import create_app
    from framecast.config import Settings
    from framecast.store.keys import create_key

    with tempfile.TemporaryDirectory(prefix="framecast-answer-") as tmp:
        app = create_app(Settings(data_dir=Path(tmp), workers=0))
        app.add_api_route("/bench/as-dict/{task_id}", vidu_query_as_dict, methods=["GET"])
        # the same database and key, FastAPI's OpenTelemetry on: its per-request look for a provider
        traced = create_app(Settings(data_dir=Path(tmp), workers=0, opentelemetry=True))
        with TestClient(app) as client, TestClient(traced):
            with app.state.db.session() as s:
                _, token = create_key(s, name="bench")
            body = {"model": "viduq3-pro", "images": [load.png_data_uri(0), load.png_data_uri(1)]}
            auth = {"Authorization": f"Token {token}"}
            created = client.post("/ent/v2/start-end2video", json=body, headers=auth).json()["task_id"]
            task_id = load.populate(app.state.db.url, created, "other", 10, 2)[0]  # succeeded, one creation
            query = f"/ent/v2/tasks/{task_id}/creations"
            paths = {
                "dict validated and encoded by FastAPI": (app, f"/bench/as-dict/{task_id}"),
                "json_answer, FRAMECAST_OPENTELEMETRY=true": (traced, query),
                "json_answer (shipped)": (app, query),
            }
            answers = {name: client.get(path, headers=auth).json() for name, (_, path) in paths.items()}
            assert answers["json_answer (shipped)"]["creations"], answers
            # the same answer, but for the signed URLs' expiry second
            unsigned = {
                re.sub(rb"\?expires=[^\"]*", b"", orjson.dumps(a, option=orjson.OPT_SORT_KEYS))
                for a in answers.values()
            }
            assert len(unsigned) == 1, answers

            times: dict[str, list[float]] = {name: [] for name in paths}

            async def run() -> None:
                for _ in range(rounds):
                    for name, (target, path) in paths.items():
                        scope = get_scope(path, token)
                        times[name].append(await time_calls(target, lambda s=scope: dict(s), calls))

            asyncio.run(run())
    title = f"GET one task in the app (Vidu query, SQLite), median of {rounds} x {calls} calls"
    print(f"\n| {title} | per request |")
    print("| --- | ---: |")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.0f} us |")


def poll_costs(rounds: int = 3, calls: int = 3000, tasks: int = 20000) -> None:
    """GET one task in the app (the ASGI app called directly, on the app's own event loop, so PostgreSQL
    reads take the async path as in the server), on SQLite and on PostgreSQL with ``tasks`` stored: the
    same task every call (the memo of built tasks answers after the first) against a random one each call
    (the load rows' pattern: the memo mostly misses), each through the whole stack and from PollFastPath
    inward. CPU time of this process per request (the database server's own is not in it), the median
    of alternating rounds."""
    rows = {
        **_poll_costs_on("sqlite", rounds, calls, tasks),
        **_poll_costs_on("postgres", rounds, calls, tasks),
    }
    print(f"\n| GET one task in the app (Vidu query), median of {rounds} x {calls} calls | CPU per request |")
    print("| --- | ---: |")
    for name, runs in rows.items():
        print(f"| {name} | {statistics.median(runs):.0f} us |")


def _poll_costs_on(kind: str, rounds: int, calls: int, tasks: int) -> dict[str, list[float]]:
    import random

    from fastapi.testclient import TestClient

    from framecast.app import create_app
    from framecast.config import Settings
    from framecast.store.keys import create_key
    from throughput import postgres_database

    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="framecast-poll-") as tmp, contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_database()) if kind == "postgres" else ""
        app = create_app(Settings(data_dir=Path(tmp), workers=0, database_url=url))
        client = stack.enter_context(TestClient(app))
        with app.state.db.session() as s:
            _, token = create_key(s, name="bench")
        body = {"model": "viduq3-pro", "images": [load.png_data_uri(0), load.png_data_uri(1)]}
        auth = {"Authorization": f"Token {token}"}
        created = client.post("/ent/v2/start-end2video", json=body, headers=auth).json()["task_id"]
        ids = load.populate(app.state.db.url, created, "other", tasks, 2)
        fast = poll_layer(app)
        one = random.Random(1).choice(ids)
        cases: dict[str, tuple[Any, Callable[[], str]]] = {
            f"{kind}, the same task, whole stack": (app, lambda: one),
            f"{kind}, the same task, from PollFastPath in": (fast, lambda: one),
            f"{kind}, a random task of {tasks:,}, whole stack": (app, lambda: random.choice(ids)),
            f"{kind}, a random task of {tasks:,}, from PollFastPath in": (fast, lambda: random.choice(ids)),
        }

        def scope_of(pick: Callable[[], str]) -> dict[str, Any]:
            # with the app in it, as Starlette's outermost layer puts it for the layers inside
            return {**get_scope(f"/ent/v2/tasks/{pick()}/creations", token), "app": app}

        async def run() -> None:
            for _ in range(rounds):
                for name, (target, pick) in cases.items():
                    cpu = await time_calls(target, lambda p=pick: scope_of(p), calls, clock=time.process_time)
                    rows.setdefault(name, []).append(cpu)

        client.portal.call(run)
    return rows


def poll_layer(app: Any) -> Any:
    """The app's PollFastPath middleware (its stack is built by the first request)."""
    layer = app.middleware_stack
    while type(layer).__name__ != "PollFastPath":
        layer = layer.app
    return layer


async def time_calls(
    target: Any,
    scope: Callable[[], dict[str, Any]],
    calls: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Microseconds per call of the ASGI app ``target`` on ``calls`` GETs, each with a fresh ``scope()``,
    by ``clock``; every answer must be a 200."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    start = clock()
    for _ in range(calls):
        await target(scope(), receive, send)
    return (clock() - start) / calls * 1e6


def memo_costs(polls: int = 20000) -> None:
    """Polls through the app (the ASGI app called directly) of tasks picked at random from a working set
    that fits the memo of built tasks (1,000) and one that does not (5,000), with the memo at its default
    size, with none (``FRAMECAST_POLL_MEMO_TASKS=0``), and for 5,000 with every miss kept once the memo
    is full (its first version): mean time a poll, its 99.9th percentile, and the time the garbage
    collector took, all collections, timed by ``gc.callbacks``."""
    from framecast.config import Settings
    from framecast.store import row_memo

    size, shipped = Settings().poll_memo_tasks, row_memo.ADMIT_EVERY
    runs = [
        (1000, size, shipped),
        (1000, 0, shipped),
        (5000, size, shipped),
        (5000, 0, shipped),
        (5000, size, 1),
    ]
    print(f"\n| {polls} polls (Vidu query, SQLite), tasks at random from | memo | mean | p99.9 | GC total |")
    print("| --- | --- | ---: | ---: | ---: |")
    for working_set, memo, admit in runs:
        row_memo.ADMIT_EVERY = admit
        try:
            took, collecting = _polls_at_random(working_set, memo, polls)
        finally:
            row_memo.ADMIT_EVERY = shipped
        mean = statistics.mean(took) * 1e6
        tail = sorted(took)[int(0.999 * len(took))] * 1e3
        kept = "none" if not memo else f"{memo}, every miss kept" if admit == 1 else f"{memo}"
        print(f"| {working_set:,} | {kept} | {mean:.0f} us | {tail:.1f} ms | {collecting * 1e3:.0f} ms |")


def _polls_at_random(working_set: int, memo: int, polls: int) -> tuple[list[float], float]:
    """Each poll's time and the garbage collector's total, for :func:`memo_costs`."""
    import asyncio
    import gc
    import random

    started: list[float] = []
    collecting: list[float] = []

    def timed(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        else:
            collecting.append(time.perf_counter() - started.pop())

    with served("memo", poll_memo_tasks=memo) as env:
        app, token = env.app, env.token
        ids = load.populate(app.state.db.url, env.created, "other", working_set, 2)
        rng = random.Random(1)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            pass

        async def run() -> list[float]:
            took = []
            for _ in range(polls):
                path = f"/ent/v2/tasks/{rng.choice(ids)}/creations"
                start = time.perf_counter()
                await app(get_scope(path, token), receive, send)
                took.append(time.perf_counter() - start)
            return took

        gc.callbacks.append(timed)
        try:
            took = asyncio.run(run())
        finally:
            gc.callbacks.remove(timed)
    return took, sum(collecting)


def link_costs(calls: int = 20000) -> None:
    """The two result links of a Vidu answer: the base URL of the request (Starlette's ``base_url``, or
    remembered by its parts, ``dialects/deps.py``) and a signed path (signed again, or the one made for
    that file earlier in the same expiry step, ``storage.UrlSigner``)."""
    from starlette.requests import Request

    from framecast.dialects.deps import _base_url
    from framecast.storage import UrlSigner

    scope = {
        "type": "http",
        "scheme": "http",
        "path": "/ent/v2/tasks/1/creations",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost:8000"), (b"authorization", b"Token x")],
        "server": ("127.0.0.1", 8000),
    }
    signer = UrlSigner(b"k" * 32, 86400)
    keys = [f"tasks/{n}/0/video.mp4" for n in range(calls)]

    def each(fn: Callable[[int], object]) -> Callable[[], None]:
        def run() -> None:
            for n in range(calls):
                fn(n)

        return run

    signer.path(keys[0])
    rows = (
        ("base URL: Starlette's request.base_url", each(lambda n: str(Request(scope).base_url))),
        ("base URL: remembered by its parts (shipped)", each(lambda n: _base_url(Request(scope)))),
        ("signed path, a file not signed this step", each(lambda n: signer.path(keys[n]))),
        ("signed path, signed earlier this step (shipped, a poll)", each(lambda n: signer.path(keys[0]))),
    )
    print(f"\n| a result link's pieces, median of 5 x {calls} | per call |")
    print("| --- | ---: |")
    for name, fn in rows:
        print(f"| {name} | {median_ms(fn, repeat=5) * 1000 / calls:.1f} us |")


def collector_costs() -> None:
    """A full garbage collection over the service's heap after startup, before and after ``gc.freeze()``
    (what the app's lifespan does): the pause a poll meets when a full collection falls in it."""
    import gc

    from fastapi.testclient import TestClient

    from framecast.app import create_app
    from framecast.config import Settings

    with tempfile.TemporaryDirectory(prefix="framecast-gc-") as tmp:
        gc.unfreeze()
        app = create_app(Settings(data_dir=Path(tmp), workers=0))
        objects = len(gc.get_objects())
        unfrozen = median_ms(gc.collect, repeat=5)
        with TestClient(app):  # the lifespan freezes what startup built
            frozen = median_ms(gc.collect, repeat=5)
        gc.unfreeze()
    print(f"\n| full collection, {objects:,} objects tracked after startup | median |")
    print("| --- | ---: |")
    print(f"| not frozen | {unfrozen:.0f} ms |")
    print(f"| frozen at startup | {frozen:.0f} ms |")


def get_ab(seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="framecast-costs-") as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "FRAMECAST_DATA_DIR": tmp,
            "FRAMECAST_WORKERS": "0",
        }
        cli = [sys.executable, "-c", "from framecast.cli import main; main()"]
        token = subprocess.run(
            [*cli, "keys", "create", "--quiet"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        body = {"model": "viduq3-pro", "images": [load.png_data_uri(0), load.png_data_uri(1)]}
        servers = {"inline (shipped)": cli, "thread pool": [sys.executable, "-c", THREAD_POOL_SERVER]}
        results: dict[str, list[load.Result]] = {name: [] for name in servers}
        ids: list[str] = []
        for _ in range(3):
            for name, command in servers.items():
                port = free_port()
                with load.server(
                    [*command, "serve", "--port", str(port)], env, Path(tmp) / "serve.log", port
                ) as base:
                    if not ids:
                        headers = {"Authorization": f"Token {token}"}
                        for _ in range(20):
                            resp = httpx.post(
                                f"{base}/ent/v2/start-end2video", json=body, headers=headers, timeout=60
                            )
                            ids.append(resp.raise_for_status().json()["task_id"])

                    def get(i: int) -> tuple[str, str, None]:
                        return ("GET", f"/ent/v2/tasks/{ids[i % len(ids)]}/creations", None)

                    probe = load.Probe(name, base, get, 50, token)
                    load.measure(probe, 1.0)  # warm-up
                    results[name].append(load.measure(probe, seconds))
        print("\n| GET one task, 50 connections, SQLite | req/s | p50 ms | p99 ms |")
        print("| --- | ---: | ---: | ---: |")
        for name, runs in results.items():
            pooled = load.pool(runs)
            print(f"| {name} | {pooled.rate:.0f} | {pooled.pct(0.5):.1f} | {pooled.pct(0.99):.1f} |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


def _charge_built_per_call(session: Any, *, tenant: str, task_id: str, amount: int) -> bool:
    """``billing.charge`` as it was before: the statements built on each call, run through the session."""
    from sqlalchemy import insert, select, update

    from framecast.store.db import rows_matched
    from framecast.store.tables import LedgerRow, TenantRow, table_of
    from framecast.store.time import utcnow

    tenants = table_of(TenantRow)
    res = session.execute(
        update(tenants)
        .where(tenants.c.id == tenant, tenants.c.credits.is_not(None), tenants.c.credits >= amount)
        .values(credits=tenants.c.credits - amount)
    )
    if (
        rows_matched(res) != 1
        and session.scalar(select(tenants.c.credits).where(tenants.c.id == tenant)) is not None
    ):
        return False
    session.execute(
        insert(table_of(LedgerRow)).values(
            tenant=tenant,
            task_id=task_id,
            kind="charge",
            delta=-amount,
            note="task created",
            created_at=utcnow(),
        )
    )
    return True


def _insert_built_per_call(session: Any, task: Any) -> None:
    """``tasks.insert_task`` as it was before: ``insert().values(...)`` built on each call, run through the
    session (the same columns)."""
    from sqlalchemy import insert

    from framecast.store import tasks as task_store
    from framecast.store.tables import TaskRow, table_of

    session.execute(insert(table_of(TaskRow)).values(**task_store.task_values(task, None, None)))


def write_costs(rounds: int = 7, calls: int = 300) -> None:
    """A create's two writes in its transaction (SQLite, the write session a create opens), each built
    per call through the ORM session (the code before) and as shipped (built once, on the session's
    connection); the charge for a tenant with a balance and for an unlimited one (whose UPDATE matches
    nothing and is followed by a read of the balance). Alternating rounds, the median round of each."""
    from framecast.service import new_task_id
    from framecast.store import billing
    from framecast.store import tasks as task_store

    with served("writes") as env:
        db = env.app.state.db
        with db.session() as s:
            billing.ensure_tenant(s, tenant="limited", credits=10**12)
        template = task_store.read_task(db, task_id=env.created, tenant=env.tenant)
        assert template is not None

        def charging(charge: Callable[..., bool], tenant: str) -> Callable[[], None]:
            def run() -> None:
                with db.write_session() as s:
                    for _ in range(calls):
                        assert charge(s, tenant=tenant, task_id=new_task_id(), amount=1)

            return run

        def inserting(insert: Callable[[Any, Any], None]) -> Callable[[], None]:
            def run() -> None:
                tasks = [template.model_copy(update={"id": new_task_id()}) for _ in range(calls)]
                with db.write_session() as s:
                    for task in tasks:
                        insert(s, task)

            return run

        cases = {
            "charge, a balance: built per call, through the session": charging(
                _charge_built_per_call, "limited"
            ),
            "charge, a balance: shipped": charging(billing.charge, "limited"),
            "charge, unlimited: built per call, through the session": charging(
                _charge_built_per_call, env.tenant
            ),
            "charge, unlimited: shipped": charging(billing.charge, env.tenant),
            "task insert: built per call, through the session": inserting(_insert_built_per_call),
            "task insert: shipped": inserting(lambda s, t: task_store.insert_task(s, task=t)),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, fn in cases.items():
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) / calls * 1e6)
    print(f"\n| a create's writes (SQLite), median of {rounds} rounds x {calls} | per call |")
    print("| --- | ---: |")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.0f} us |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0, help="measured seconds per server per round")
    ap.add_argument(
        "--only",
        choices=["write_costs", "poll_costs"],
        help="one section (a create's writes, or polls in the app by database) and nothing else",
    )
    args = ap.parse_args()
    if args.only == "write_costs":
        write_costs()
        return
    if args.only == "poll_costs":
        poll_costs()
        return
    micro()
    read_costs()
    answer_costs()
    poll_costs()
    collector_costs()  # before memo_costs: it counts what startup leaves tracked in this process
    memo_costs()
    link_costs()
    write_costs()
    get_ab(args.seconds)


if __name__ == "__main__":
    main()
