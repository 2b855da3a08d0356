"""Distributed mode on real services: API processes and `framecast worker` processes on PostgreSQL and a
Celery broker (Redis, RabbitMQ). Every task succeeds exactly once, whoever dies meanwhile."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from framecast.store.tables import CreationRow, LedgerRow, TaskRow
from tests.conftest import data_uri, image_bytes
from tests.e2e.test_restart import BIN, Server, Subprocess
from tests.store.test_postgres import pg_url  # noqa: F401  (the fixture: a fresh database per test)
from tests.waiting import wait_until

REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
# the machine's own command for a Redis that is down (no persistence: a restart loses every queued message)
REDIS_START = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no "
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
TINY_CATALOG = """
[models."fc-tiny"]
min_duration = 1
max_duration = 2
default_duration = 1
resolutions = ["360p"]
default_resolution = "360p"
credits_per_second = { "360p" = 3 }

[models."fc-long"]
min_duration = 1
max_duration = 8
resolutions = ["720p"]
default_resolution = "720p"
credits_per_second = { "720p" = 3 }
"""


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _redis_ok() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start_redis() -> None:
    if shutil.which("redis-server") is None:
        return
    Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
    Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
    subprocess.run(["bash", "-c", REDIS_START], check=False, capture_output=True, timeout=30)


def _ensure(name: str, up: Callable[[], bool], start: Callable[[], None], timeout: float) -> None:
    """Start a service that is down (the machine's own commands), or skip when it cannot be had."""
    if up():
        return
    start()
    with contextlib.suppress(AssertionError):
        wait_until(up, timeout, what=f"{name} to accept connections", poll=0.5)
    if not up():
        pytest.skip(f"no {name} reachable on loopback")


@pytest.fixture
def redis_broker() -> str:
    _ensure("Redis", _redis_ok, _start_redis, 20)
    return REDIS_URL


@pytest.fixture
def rabbit_broker() -> str:
    def start() -> None:
        if shutil.which("rabbitmq-server"):
            subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True, timeout=60)

    _ensure("RabbitMQ", lambda: _port_open(5672), start, 90)
    return AMQP_URL


class Worker(Subprocess):
    """A `framecast worker` subprocess; ready once Celery says so in its log."""

    stop_grace = 15.0  # Celery finishes or hands back its running task first

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.write_bytes(b"")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN), "worker", "--concurrency", "1", "--log-level", "info"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: " ready." in self.log_tail(100_000) or self.proc.poll() is not None, 60,
                   what="the worker to be ready")  # fmt: skip
        assert self.proc.poll() is None, self.log_tail()


class Cluster:
    """APIs and workers sharing one PostgreSQL database, one broker and one data directory."""

    def __init__(self, tmp: Path, db_url: str, broker: str, **extra_env: str) -> None:
        catalog = tmp / "catalog.toml"
        catalog.write_text(TINY_CATALOG)
        self.tmp, self.db_url = tmp, db_url
        self.prefix = f"fctest{secrets.token_hex(4)}"
        self.env = {
            **os.environ,
            "FRAMECAST_DATA_DIR": str(tmp / "data"),
            "FRAMECAST_DATABASE_URL": db_url,
            "FRAMECAST_BROKER_URL": broker,
            "FRAMECAST_QUEUE_PREFIX": self.prefix,
            "FRAMECAST_SHARED_STORAGE": "1",
            "FRAMECAST_SECRET_KEY": secrets.token_hex(16),
            "FRAMECAST_CATALOG_FILE": str(catalog),
            "FRAMECAST_LEASE_SECONDS": "2",
            "FRAMECAST_ENQUEUE_WINDOW_SECONDS": "3",
            **extra_env,
        }
        self.apis: list[Server] = []
        self.workers: list[Worker] = []
        self.token = subprocess.run(
            [str(BIN), "keys", "create", "--quiet", "--credits", "100000"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def add_api(self) -> Server:
        srv = Server(self.tmp / "data")
        srv.env = dict(self.env)
        srv.log = self.tmp / f"api{len(self.apis)}.log"
        srv.log_level = "info"
        srv.start()
        self.apis.append(srv)
        return srv

    def add_worker(self) -> Worker:
        w = Worker(dict(self.env), self.tmp / f"worker{len(self.workers)}.log")
        w.start()
        self.workers.append(w)
        return w

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def create(self, api: Server, seed: int = 0, model: str = "fc-tiny", duration: int = 1) -> str:
        body = {"model": model, "images": [data_uri(image_bytes(256, 144, seed=seed))], "duration": duration}
        resp = httpx.post(f"{api.url}/ent/v2/img2video", headers=self.headers, json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["task_id"])

    def state(self, task_id: str) -> dict[str, Any]:
        resp = httpx.get(
            f"{self.apis[0].url}/ent/v2/tasks/{task_id}/creations", headers=self.headers, timeout=10
        )
        body: dict[str, Any] = resp.json()
        return body

    def wait_all(self, ids: list[str], timeout: float) -> dict[str, str]:
        def finished() -> dict[str, str] | None:
            with self.engine().connect() as c:
                rows = dict(c.execute(select(TaskRow.id, TaskRow.state).where(TaskRow.id.in_(ids))).all())
            return rows if all(s in ("succeeded", "failed", "cancelled") for s in rows.values()) else None

        try:
            return wait_until(finished, timeout, what="every task to finish", poll=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def engine(self) -> Any:
        if not hasattr(self, "_engine"):
            self._engine = create_engine(self.db_url)
        return self._engine

    def assert_exactly_once(self, ids: list[str], *, credits_each: int = 3) -> None:
        """Each task: one creation row, of the attempt that committed; one charge, no refund."""
        with self.engine().connect() as c:
            creations = dict(
                c.execute(
                    select(CreationRow.task_id, func.count())
                    .where(CreationRow.task_id.in_(ids))
                    .group_by(CreationRow.task_id)
                ).all()
            )
            ledger = c.execute(
                select(LedgerRow.task_id, LedgerRow.kind, LedgerRow.delta).where(LedgerRow.task_id.in_(ids))
            ).all()
        assert creations == dict.fromkeys(ids, 1)
        assert sorted((t, k, d) for t, k, d in ledger) == sorted((t, "charge", -credits_each) for t in ids)

    def logs(self) -> str:
        parts = [f"--- api {i}\n{a.log_tail(1500)}" for i, a in enumerate(self.apis)]
        parts += [f"--- worker {i}\n{w.log_tail(3000)}" for i, w in enumerate(self.workers)]
        return "\n".join(parts)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        for a in self.apis:
            a.stop()
        if hasattr(self, "_engine"):
            self._engine.dispose()
        self._drop_broker_state()

    def _drop_broker_state(self) -> None:
        """Leave the shared broker as it was: this run's queues (RabbitMQ) or keys (Redis) go."""
        broker = self.env["FRAMECAST_BROKER_URL"]
        with contextlib.suppress(Exception):
            if broker.startswith("redis://"):
                import redis

                client = redis.Redis.from_url(broker)
                for key in client.scan_iter(f"{self.prefix}:*"):
                    client.delete(key)
                client.close()
            else:
                from kombu import Connection

                from framecast.config import Catalog

                names = Catalog.load(self.tmp / "catalog.toml").names()
                with Connection(broker) as conn:
                    channel = conn.default_channel
                    for name in names:
                        channel.queue_delete(f"{self.prefix}.{name}")
                    channel.exchange_delete(self.prefix)


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[Callable[..., Cluster]]:  # noqa: F811
    made: list[Cluster] = []

    def make(broker: str, **env: str) -> Cluster:
        c = Cluster(tmp_path, pg_url, broker, **env)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_two_apis_two_workers_forty_tasks_each_once(
    cluster: Callable[..., Cluster], redis_broker: str
) -> None:
    c = cluster(redis_broker)
    apis = [c.add_api(), c.add_api()]
    c.add_worker()
    c.add_worker()
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda i: c.create(apis[i % 2], seed=i), range(40)))
    states = c.wait_all(ids, 300)
    elapsed = time.monotonic() - started
    assert set(states.values()) == {"succeeded"}, c.logs()
    c.assert_exactly_once(ids)
    # both workers took tasks from the queue
    with c.engine().connect() as conn:
        workers = {
            w.rsplit("/", 1)[0]
            for w in conn.execute(select(TaskRow.worker).where(TaskRow.id.in_(ids))).scalars()
        }
    assert len(workers) == 2, workers
    dropped = sum(w.log_tail(10_000_000).count("stale or must wait") for w in c.workers)
    print(
        f"40 tasks, 2 APIs, 2 workers (Redis): {elapsed:.1f} s, {40 / elapsed * 60:.0f} tasks/min, "
        f"{dropped} deliveries dropped"
    )
    assert dropped < 20  # a backlog longer than the enqueue window is not re-sent: its messages are there
    # a result is served through either API
    body = c.state(ids[0])
    assert httpx.get(body["creations"][0]["url"], timeout=10).status_code == 200


def test_kill_9_a_worker_mid_task_completes_on_the_other(
    cluster: Callable[..., Cluster], redis_broker: str
) -> None:
    c = cluster(redis_broker)
    api = c.add_api()
    first = c.add_worker()
    ids = [c.create(api, seed=i) for i in range(3)]

    def running_on_first() -> str | None:
        with c.engine().connect() as conn:
            row = conn.execute(
                select(TaskRow.id).where(TaskRow.state == "running", TaskRow.progress > 0)
            ).first()
        return None if row is None else str(row[0])

    victim = wait_until(running_on_first, 60, what="a task to be mid-render", poll=0.02)
    first.kill()
    c.add_worker()
    states = c.wait_all(ids, 120)
    assert set(states.values()) == {"succeeded"}, c.logs()
    c.assert_exactly_once(ids)
    with c.engine().connect() as conn:
        row = conn.execute(select(TaskRow.attempt, TaskRow.lost_attempts).where(TaskRow.id == victim)).one()
    assert row.lost_attempts == 1 and row.attempt >= 2


def test_sigterm_a_worker_mid_task_hands_it_back_without_losing_an_attempt(
    cluster: Callable[..., Cluster], redis_broker: str
) -> None:
    c = cluster(
        redis_broker, FRAMECAST_LEASE_SECONDS="30"
    )  # a lapse would take 30 s: the hand-back is not one
    api = c.add_api()
    first = c.add_worker()
    task_id = c.create(api, seed=7, model="fc-long", duration=4)  # long enough to stop mid-render

    def mid_render() -> bool:
        with c.engine().connect() as conn:
            return bool(conn.execute(select(TaskRow.progress).where(TaskRow.id == task_id)).scalar_one() > 0)

    wait_until(mid_render, 60, what="the task to be mid-render", poll=0.02)
    first.stop()  # SIGTERM: Celery's warm shutdown
    assert first.proc is not None and first.proc.returncode == 0, first.log_tail()
    c.add_worker()
    assert c.wait_all([task_id], 60)[task_id] == "succeeded", c.logs()
    c.assert_exactly_once([task_id], credits_each=12)
    with c.engine().connect() as conn:
        row = conn.execute(select(TaskRow.attempt, TaskRow.lost_attempts).where(TaskRow.id == task_id)).one()
    assert row.attempt == 2 and row.lost_attempts == 0


def test_redis_restart_with_tasks_queued_all_complete(
    cluster: Callable[..., Cluster], redis_broker: str
) -> None:
    c = cluster(redis_broker)
    api = c.add_api()
    c.add_worker()
    ids = [c.create(api, seed=i) for i in range(12)]

    def counts() -> dict[str, int]:
        with c.engine().connect() as conn:
            rows = conn.execute(
                select(TaskRow.state, func.count()).where(TaskRow.id.in_(ids)).group_by(TaskRow.state)
            )
            return {str(s): int(n) for s, n in rows.all()}

    # the worker is busy and the rest wait in Redis
    wait_until(lambda: counts().get("succeeded", 0) >= 1, 60, what="a first task to finish")
    assert counts().get("queued", 0) >= 3, counts()
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False, capture_output=True)
    wait_until(lambda: not _redis_ok(), 20, what="Redis to stop")
    _start_redis()  # empty: every queued message is gone
    wait_until(_redis_ok, 20, what="Redis to come back")
    states = c.wait_all(ids, 120)
    assert set(states.values()) == {"succeeded"}, c.logs()
    c.assert_exactly_once(ids)


def test_rabbitmq_broker_two_workers_and_a_cancel(
    cluster: Callable[..., Cluster], rabbit_broker: str
) -> None:
    c = cluster(rabbit_broker)
    api = c.add_api()
    cancelled = c.create(api, seed=99)  # cancelled while queued (no worker yet): revoked, never run
    resp = httpx.post(f"{api.url}/ent/v2/tasks/{cancelled}/cancel", headers=c.headers, timeout=10)
    assert resp.status_code == 200, resp.text
    c.add_worker()
    c.add_worker()
    ids = [c.create(api, seed=i) for i in range(8)]
    states = c.wait_all([*ids, cancelled], 180)
    assert states.pop(cancelled) == "cancelled"
    assert set(states.values()) == {"succeeded"}, c.logs()
    c.assert_exactly_once(ids)
    # a cancel reaches a task running in a worker process through its lease heartbeat
    long = c.create(api, seed=5, model="fc-long", duration=8)

    def progress() -> int:
        with c.engine().connect() as conn:
            return int(conn.execute(select(TaskRow.progress).where(TaskRow.id == long)).scalar_one())

    wait_until(lambda: progress() > 0, 60, what="the long task to be mid-render", poll=0.05)
    resp = httpx.post(f"{api.url}/ent/v2/tasks/{long}/cancel", headers=c.headers, timeout=10)
    assert resp.status_code == 200, resp.text
    assert c.wait_all([long], 30)[long] == "cancelled", c.logs()
    assert progress() < 99  # stopped mid-render, not at the end
    with c.engine().connect() as conn:
        kinds = conn.execute(select(LedgerRow.kind).where(LedgerRow.task_id == long)).scalars().all()
        creations = conn.execute(select(func.count()).where(CreationRow.task_id == long)).scalar_one()
    assert sorted(kinds) == ["charge", "refund"] and creations == 0


def test_kill_9_an_api_mid_create_retry_gets_one_task(
    cluster: Callable[..., Cluster], redis_broker: str
) -> None:
    c = cluster(redis_broker)
    doomed, other = c.add_api(), c.add_api()
    c.add_worker()
    keys = [f"req-{secrets.token_hex(4)}-{i}" for i in range(16)]

    def create(api: Server, key: str, seed: int) -> str | None:
        body = {"model": "fc-tiny", "images": [data_uri(image_bytes(256, 144, seed=seed))], "duration": 1}
        try:
            resp = httpx.post(
                f"{api.url}/ent/v2/img2video",
                headers=c.headers,
                json={**body, "client_request_id": key},
                timeout=30,
            )
        except httpx.HTTPError:
            return None  # the server died under this request
        assert resp.status_code == 200, resp.text
        return str(resp.json()["task_id"])

    def committed() -> int:
        with c.engine().connect() as conn:
            return int(conn.execute(select(func.count()).select_from(TaskRow)).scalar_one())

    with ThreadPoolExecutor(4) as pool:
        first = [pool.submit(create, doomed, k, i) for i, k in enumerate(keys)]
        wait_until(lambda: committed() >= 2, 60, what="some creates to commit")
        doomed.kill()  # others are in flight: stored inputs, maybe an open transaction
        answered = [f.result() for f in first]
    assert None in answered, "the kill came too late to interrupt a create"
    # the client retries every request with its idempotency key, through the other server
    retried = [create(other, k, i) for i, k in enumerate(keys)]
    assert None not in retried
    for before, after in zip(answered, retried, strict=True):
        assert before is None or before == after  # a create that answered keeps its task
    ids = [str(i) for i in retried]
    assert len(set(ids)) == len(keys) == committed()  # one task per key, nothing half-stored beside them
    states = c.wait_all(ids, 180)
    assert set(states.values()) == {"succeeded"}, c.logs()
    c.assert_exactly_once(ids)
