"""Tasks per minute and queue latency, embedded vs distributed, with 1, 2 and 4 workers.

    python bench/throughput.py                      # 16 tasks per run, 360p 2 s on the built-in engine
    python bench/throughput.py --tasks 40 --workers 1,2

Each run starts real processes on loopback: embedded is one `framecast serve` with N worker threads on
SQLite, in its render process (``in-server``: in the server process itself, ``FRAMECAST_WORKER_PROCESS=
false``); distributed is one `framecast serve` (API only) and N `framecast worker` processes (one thread
each) on PostgreSQL and Redis (FRAMECAST_BENCH_POSTGRES, FRAMECAST_BENCH_REDIS). All tasks are created at
once, then the run waits for every one to finish. From the task rows:

- throughput: tasks / (last finish - first create);
- queue latency: create -> claim (``started_at - created_at``), p50 and p99, under that backlog;
- idle latency: the same for tasks created one at a time into idle workers: what the hop itself costs
  (embedded: a message down the render process's pipe, or a condition variable in-server; distributed:
  commit, send, broker, delivery, claim).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import data_uri, image_bytes

from framecast.store.tables import TaskRow

BIN = Path(sys.executable).parent / "framecast"
PG_ADMIN = os.environ.get("FRAMECAST_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("FRAMECAST_BENCH_REDIS", "redis://127.0.0.1:6379/0")
CATALOG = """
[models."bench-360p"]
min_duration = 1
max_duration = 2
resolutions = ["360p"]
default_resolution = "360p"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(BIN), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"framecast_bench_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


# embedded: the worker threads in the server's render process (the default); in-server: in the server itself
EMBEDDED = ("embedded", "in-server")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(mode: str, workers: int, tasks: int, idle: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="framecast-bench-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        (tmp / "catalog.toml").write_text(CATALOG)
        port = free_port()
        env = {
            **os.environ,
            "FRAMECAST_DATA_DIR": str(tmp / "data"),
            "FRAMECAST_CATALOG_FILE": str(tmp / "catalog.toml"),
            "FRAMECAST_SECRET_KEY": secrets.token_hex(16),
        }
        if mode in EMBEDDED:
            env["FRAMECAST_WORKERS"] = str(workers)
            env["FRAMECAST_WORKER_PROCESS"] = str(mode == "embedded").lower()
        else:
            env |= {
                "FRAMECAST_DATABASE_URL": stack.enter_context(postgres_database()),
                "FRAMECAST_BROKER_URL": REDIS,
                "FRAMECAST_QUEUE_PREFIX": f"fcbench{secrets.token_hex(3)}",
                "FRAMECAST_SHARED_STORAGE": "1",
            }
        key = subprocess.run(
            [str(BIN), "keys", "create", "--quiet"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        api = stack.enter_context(process(["serve", "--port", str(port)], env, tmp / "api.log"))
        url = f"http://127.0.0.1:{port}"
        wait(lambda: _healthy(url) or api.poll() is not None, 60, "the API")
        if mode == "distributed":
            for i in range(workers):
                stack.enter_context(process(["worker"], env, tmp / f"worker{i}.log"))
            wait(
                lambda: all(" ready." in (tmp / f"worker{i}.log").read_text() for i in range(workers)),
                90,
                "the workers",
            )
        db = create_engine(env.get("FRAMECAST_DATABASE_URL") or f"sqlite:///{tmp / 'data' / 'framecast.db'}")
        headers = {"Authorization": f"Token {key}"}
        image = data_uri(image_bytes(256, 144, seed=3))

        def create() -> str:
            body = {"model": "bench-360p", "images": [image], "duration": 2}
            resp = httpx.post(f"{url}/ent/v2/img2video", headers=headers, json=body, timeout=60)
            resp.raise_for_status()
            return str(resp.json()["task_id"])

        def rows(ids: list[str]) -> list[Any]:
            with db.connect() as conn:
                return list(
                    conn.execute(
                        select(
                            TaskRow.state, TaskRow.created_at, TaskRow.started_at, TaskRow.finished_at
                        ).where(TaskRow.id.in_(ids))
                    ).all()
                )

        def done(ids: list[str]) -> list[Any] | None:
            found = rows(ids)
            return found if all(r.state in ("succeeded", "failed") for r in found) else None

        idle_latency = []
        for _ in range(idle):
            one = [create()]
            (row,) = wait(lambda one=one: done(one), 120, "an idle task")
            idle_latency.append((row.started_at - row.created_at).total_seconds())
        ids = [create() for _ in range(tasks)]
        finished = wait(lambda: done(ids), 60 + 30 * tasks, "the batch")
        db.dispose()
        assert all(r.state == "succeeded" for r in finished), [r.state for r in finished]
        span = (max(r.finished_at for r in finished) - min(r.created_at for r in finished)).total_seconds()
        waits = [(r.started_at - r.created_at).total_seconds() for r in finished]
        runs = [(r.finished_at - r.started_at).total_seconds() for r in finished]
        return {
            "tasks_per_min": tasks / span * 60,
            "queue_p50_s": percentile(waits, 0.5),
            "queue_p99_s": percentile(waits, 0.99),
            "run_p50_s": statistics.median(runs),
            "idle_queue_p50_s": statistics.median(idle_latency) if idle_latency else float("nan"),
        }


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--idle", type=int, default=5, help="tasks created one at a time into idle workers")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--modes", default="embedded,distributed")
    args = parser.parse_args()
    print(f"{args.tasks} tasks of 360p 2 s on the built-in engine; {os.cpu_count()} CPUs")
    print("mode         workers  tasks/min  queue p50  queue p99  run p50  idle queue p50")
    for mode in args.modes.split(","):
        for n in (int(w) for w in args.workers.split(",")):
            r = run(mode, n, args.tasks, args.idle)
            print(
                f"{mode:<12} {n:>7}  {r['tasks_per_min']:>9.1f}  {r['queue_p50_s']:>8.2f}s  "
                f"{r['queue_p99_s']:>8.2f}s  {r['run_p50_s']:>6.2f}s  {r['idle_queue_p50_s']:>13.3f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
