"""The API under load: GET one task, creates, lists, and GETs while the engine renders, each against a
bare FastAPI endpoint measured in the same run.

    python bench/load.py                          # SQLite and PostgreSQL, 100k tasks, ~6 min
    python bench/load.py --db sqlite --seconds 5  # quicker
    python bench/load.py --tree OTHER_CHECKOUT    # serve another checkout's code (before/after a change)
    python bench/load.py --rows get --tasks 20000 # only the GET-one rows, while working on the read path

Every server is one `framecast serve` (or, for the baseline, one uvicorn serving a bare FastAPI app with
the same uvicorn settings) on loopback. The load generator is this process: aiohttp, a fixed number of
connections each sending its next request as soon as the last one is answered (closed loop), after a
warm-up second. It shares the machine's cores with the server, the same way for every row, so the
ratios to the bare endpoint are the figures to compare; req/s are this machine's. Each row also gives the
server process's CPU time per request (from /proc, over the measured window): what the server itself
pays, which the load generator and the database server sharing the cores move less than req/s (on
PostgreSQL it leaves out the database server's own CPU).

Rows:
- bare: ``GET /tasks/{id}`` on a FastAPI app that returns a small dict (no database).
- get vidu / get openai: ``GET /ent/v2/tasks/{id}/creations`` and ``GET /v1/videos/video_{id}``, random
  ids among the stored tasks (succeeded, one creation each), 50 connections.
- create: ``POST /ent/v2/start-end2video`` with two 512x512 PNG data URIs, 10 connections, no workers.
- list p0 / list p150: the Vidu list, 20 a page, of a tenant with 20k tasks.
- get idle / get rendering: 10 connections, before and while two worker threads render 720p videos;
  ``--render-in`` says where those threads run: ``process``, the render process the server starts (the
  default), ``threads``, the server's own process (``FRAMECAST_WORKER_PROCESS=false``), or ``worker``,
  a ``framecast worker`` process beside a server that runs none.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image
from sqlalchemy import MetaData, create_engine, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import free_port, postgres_database, stop, wait

ROOT = Path(__file__).resolve().parent.parent
BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/tasks/{task_id}")
async def task(task_id: str) -> dict[str, str]:
    return {"id": task_id, "state": "success"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info", access_log=sys.argv[2] == "1")
"""


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: float = float("nan")  # CPU seconds the server process spent in the window (Linux), else NaN

    @property
    def cpu_per_request(self) -> float:
        """Microseconds of the server process's CPU per request: what the server itself pays, which the
        load generator and other processes sharing the cores move less than they move req/s."""
        return self.cpu / self.requests * 1e6 if self.requests else float("nan")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def _load(
    base: str,
    make: Callable[[int], tuple[str, str, Any]],
    headers: dict[str, str],
    conc: int,
    secs: float,
    pid: int | None = None,
) -> Result:
    """``conc`` connections sending ``make(i)`` = (method, path, json) back to back for ``secs`` seconds;
    with the server's ``pid``, also the CPU it spent in that window."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    measuring = False
    connector = aiohttp.TCPConnector(limit=conc, force_close=False)
    async with aiohttp.ClientSession(base, connector=connector, headers=headers) as http:

        async def one_connection(stop: float) -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop:
                method, path, body = make(next(counter))
                async with http.request(method, path, json=body) as resp:
                    await resp.read()
                    ok = resp.status < 400
                if measuring:
                    latencies.append(time.perf_counter() - now)
                    errors += not ok

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(one_connection(warm) for _ in range(conc)))
        measuring = True
        cpu = _cpu_seconds(pid)
        start = time.perf_counter()
        await asyncio.gather(*(one_connection(start + secs) for _ in range(conc)))
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(pid) - cpu
    return Result("", len(latencies), errors, elapsed, latencies, cpu)


PIDS: dict[str, int] = {}  # server base URL -> its process, for --profile
PROFILE_DIR: Path | None = None
# where the server's busy time goes: a sample counts for a group when one of its frames contains the text
GROUPS = {
    "middleware": (
        "starlette/middleware",
        "framecast/metrics.py",
        "request_ids.py",
        "body_limit.py",
        "fastapi/_body_limit.py",
        "fastapi/telemetry",
    ),
    "thread pool hand-off": ("anyio/to_thread", "anyio/_backends", "concurrent/futures", "threading.py"),
    "SQLAlchemy": ("sqlalchemy/",),
    "database driver": ("sqlite3", "psycopg"),
    "access log": ("logging/__init__", "uvicorn/logging"),
    "pydantic (domain)": ("pydantic/",),
    "images (decode, check)": ("PIL/", "images.py", "fetch.py", "base64.py"),
    "JSON": ("json/",),
    "URL signing": ("hmac.py", "storage.py"),
    "FastAPI routing, dependencies, responses": ("fastapi/", "starlette/"),
    "framecast dialects, service, store": ("framecast/",),
    "uvicorn HTTP": ("uvicorn/protocols", "h11/"),
    "asyncio": ("asyncio/",),
}


@contextmanager
def profiled(base: str, name: str) -> Iterator[None]:
    """py-spy on the server while the block runs (``--profile``): samples holding the GIL, i.e. the
    process's own busy time, summarised by GROUPS and by the hottest functions."""
    if PROFILE_DIR is None:
        yield
        return
    raw = PROFILE_DIR / f"{name.replace(' ', '_')}.txt"
    spy = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(PIDS[base]),
        "--gil",
        "--nonblocking",
        "--rate",
        "400",
        "--format",
        "raw",
        "-o",
        str(raw),
    ]
    proc = subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    _summarise(raw)


def _summarise(raw: Path) -> None:
    """Each sample goes to the group of its innermost frame that belongs to one ("other" if none): the
    time spent in that group's own code, not in what it calls."""
    stacks = [line.rsplit(" ", 1) for line in raw.read_text().splitlines() if line.strip()]
    total = sum(int(n) for _, n in stacks) or 1
    groups = {g: 0 for g in [*GROUPS, "other"]}
    leaves: dict[str, int] = {}
    for stack, n in stacks:
        frames = stack.split(";")
        group = next(
            (g for f in reversed(frames) for g, needles in GROUPS.items() if any(x in f for x in needles)),
            "other",
        )
        groups[group] += int(n)
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + int(n)
    shares = sorted(groups.items(), key=lambda x: -x[1])
    summary = ", ".join(f"{g} {100 * c / total:.0f}%" for g, c in shares if c)
    print(f"    profile ({total} samples, {raw.name}): {summary}")
    for leaf, n in sorted(leaves.items(), key=lambda x: -x[1])[:8]:
        print(f"      {100 * n / total:4.1f}% {leaf}")


@dataclass
class Probe:
    """One kind of request: where it goes, how it is made, with how many connections, as whom."""

    name: str
    base: str
    make: Callable[[int], tuple[str, str, Any]]
    conc: int
    token: str = ""


def measure(probe: Probe, secs: float) -> Result:
    headers = {"Authorization": f"Token {probe.token}"} if probe.token else {}
    result = asyncio.run(_load(probe.base, probe.make, headers, probe.conc, secs, PIDS.get(probe.base)))
    result.name = probe.name
    return result


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU of process ``pid`` and its threads so far (NaN where /proc is not there)."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def paired(probe: Probe, ref: Probe, secs: float, rounds: int = 3) -> tuple[Result, Result]:
    """``probe`` and its reference in alternating rounds (ref, probe, ref, probe...), so that load from
    the rest of the machine, which drifts over minutes, falls on both alike."""
    got: dict[str, list[Result]] = {probe.name: [], ref.name: []}
    for i in range(rounds):
        got[ref.name].append(measure(ref, secs / rounds))
        with profiled(probe.base, probe.name) if i == 0 else nullcontext():
            got[probe.name].append(measure(probe, secs / rounds))
    a, b = (pool(got[p.name]) for p in (probe, ref))
    for r in (b, a):
        print(
            f"  {r.name:<28} {r.rate:8.1f} req/s  p50 {r.pct(0.5):7.1f} ms  p99 {r.pct(0.99):7.1f} ms"
            f"  errors {r.errors}  server CPU {r.cpu_per_request:5.0f} us/req",
            flush=True,
        )
    return a, b


def pool(results: list[Result]) -> Result:
    return Result(
        results[0].name,
        sum(r.requests for r in results),
        sum(r.errors for r in results),
        sum(r.seconds for r in results),
        [x for r in results for x in r.latencies],
        sum(r.cpu for r in results),
    )


@contextmanager
def server(args: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[str]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: _up(base) or proc.poll() is not None, 90, f"server on {port}")
        if proc.poll() is not None:
            raise SystemExit(f"server exited; see {log}")
        PIDS[base] = proc.pid
        yield base
    finally:
        stop(proc)


@contextmanager
def worker_process(framecast: list[str], env: dict[str, str], data: Path, wanted: bool) -> Iterator[None]:
    """A ``framecast worker --concurrency 2`` beside the server (``--render-in worker``), else nothing."""
    if not wanted:
        yield
        return
    log = data / "worker.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*framecast, "worker", "--concurrency", "2"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        # started (its imports done) before the idle row: they would land in that window otherwise
        ready = "claiming from the database"
        wait(lambda: ready in log.read_text(errors="replace") or proc.poll() is not None, 120, "the worker")
        if proc.poll() is not None:
            raise SystemExit(f"worker exited; see {log}")
        yield
    finally:
        stop(proc)


# --render-in: where the rendering row's two worker threads run, as its row names say
RENDER_IN = {
    "process": "render process",
    "threads": "threads in the server",
    "worker": "worker process",
}


def _up(base: str, path: str = "/openapi.json") -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base + path, timeout=2):
            return True
    except Exception:
        return False


def _print_poll_statements(base: str) -> None:
    """How many polls each statement read, from the server's /metrics (PostgreSQL only: its polls that
    arrive together are read in one statement, ``store/read_batches.py``)."""
    import urllib.request

    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        found = dict(
            line.split(" ", 1)
            for line in r.read().decode().splitlines()
            if line.startswith("framecast_poll_")
        )
    if "framecast_poll_statements_total" in found:
        polls, statements = (float(found[f"framecast_poll_{n}_total"]) for n in ("reads", "statements"))
        print(
            f"  polls read: {polls:.0f} in {statements:.0f} statements, {polls / max(statements, 1):.1f} each"
        )


def png_data_uri(seed: int) -> str:
    """A 512x512 PNG of a real photo (the test clip frames), as a data URI (~0.4 MB)."""
    src = ROOT / "tests" / "data" / ("bbb_040.jpg" if seed % 2 == 0 else "bbb_044.jpg")
    img = Image.open(src).convert("RGB").resize((512, 512))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def populate(url: str, template_id: str, tenant_b: str, total: int, for_b: int) -> list[str]:
    """Copy one real task ``total`` times (succeeded, one creation each) in bulk; ``for_b`` of them go to
    tenant B. Tables are reflected, so any checkout's schema works. Returns tenant A's new ids."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=["tasks", "creations"])
    tasks, creations = meta.tables["tasks"], meta.tables["creations"]
    with engine.begin() as conn:
        template = dict(conn.execute(select(tasks).where(tasks.c.id == template_id)).mappings().one())
    start = datetime.now(UTC) - timedelta(days=30)
    base_id = int(template_id) - total * 10
    a_ids: list[str] = []
    batch = 5000
    for lo in range(0, total, batch):
        rows, outs = [], []
        for i in range(lo, min(total, lo + batch)):
            tid = str(base_id + i * 10)
            at = start + timedelta(seconds=i * 20)
            to_b = i % (total // for_b) == 0  # B's tasks spread through time, between A's
            row = {
                **template,
                "id": tid,
                "created_at": at,
                "updated_at": at,
                "state": "succeeded",
                "progress": 100,
                "attempt": 1,
                "started_at": at,
                "finished_at": at + timedelta(seconds=9),
                "external_id": None,
            }
            if to_b:
                row["tenant"] = tenant_b
            else:
                a_ids.append(tid)
            rows.append(row)
            outs.append(
                {
                    "id": "c" + tid,
                    "task_id": tid,
                    "index": 0,
                    "attempt": 1,
                    "video_key": f"b/{tid}.mp4",
                    "cover_key": f"b/{tid}.jpg",
                    "watermarked_key": None,
                    "width": 1280,
                    "height": 720,
                    "fps": 24,
                    "frames": 120,
                    "duration": 5.0,
                    "seed": 7,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(tasks), rows)
            conn.execute(insert(creations), outs)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return a_ids


def tenant_of(url: str, token: str) -> str:
    engine = create_engine(url)
    with engine.begin() as conn:
        sha = hashlib.sha256(token.encode()).hexdigest()
        tenant = conn.execute(
            text("SELECT tenant FROM api_keys WHERE key_hash = :h"), {"h": sha}
        ).scalar_one()
    engine.dispose()
    return str(tenant)


@contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'framecast.db'}"
        return
    with postgres_database() as url:
        yield url


def run_db(
    kind: str, args: argparse.Namespace, env0: dict[str, str], bare: str
) -> list[tuple[Result, Result]]:
    framecast = [sys.executable, "-c", "from framecast.cli import main; main()"]
    rows = set(args.rows.split(","))
    out: list[tuple[Result, Result]] = []
    secs = args.seconds
    with tempfile.TemporaryDirectory(prefix="framecast-load-") as tmp, database(kind, Path(tmp)) as url:
        data = Path(tmp)
        env = {
            **env0,
            "FRAMECAST_DATA_DIR": str(data),
            "FRAMECAST_DATABASE_URL": url,
            "FRAMECAST_WORKERS": "0",
        }
        keys = [
            subprocess.run(
                [*framecast, "keys", "create", "--quiet"], env=env, check=True, capture_output=True, text=True
            ).stdout.strip()
            for _ in range(2)
        ]
        port = free_port()
        log = data / "serve.log"
        serve = [*framecast, "serve", "--port", str(port)]
        body = {"model": "viduq3-pro", "images": [png_data_uri(0), png_data_uri(1)]}
        bare10 = Probe("bare get (10 conn)", bare, lambda i: ("GET", f"/tasks/{i}", None), 10)
        bare50 = Probe("bare get (50 conn)", bare, lambda i: ("GET", f"/tasks/{i}", None), 50)
        print(f"{kind}:", flush=True)
        with server(serve, env, log, port) as base:
            create = Probe(
                f"{kind} create", base, lambda i: ("POST", "/ent/v2/start-end2video", body), 10, keys[0]
            )
            if "create" in rows:
                out.append(paired(create, bare10, secs))
            else:  # the stored tasks are copies of one real task
                measure(create, 1.0)
        engine = create_engine(url)
        with engine.begin() as conn:
            template = conn.execute(text("SELECT id FROM tasks ORDER BY created_at LIMIT 1")).scalar_one()
        engine.dispose()
        t0 = time.perf_counter()
        ids = populate(url, template, tenant_of(url, keys[1]), args.tasks, args.tasks // 5)
        print(f"  stored {args.tasks} tasks in {time.perf_counter() - t0:.0f} s", flush=True)
        random.seed(1)
        sample = random.sample(ids, min(5000, len(ids)))
        with server(serve, env, log, port) as base:
            for name, path in (
                ("get vidu", "/ent/v2/tasks/{}/creations"),
                ("get openai", "/v1/videos/video_{}"),
            )[: 2 if "get" in rows else 0]:
                get = Probe(
                    f"{kind} {name}",
                    base,
                    lambda i, p=path: ("GET", p.format(sample[i % len(sample)]), None),
                    50,
                    keys[0],
                )
                out.append(paired(get, bare50, secs))
            if "get" in rows:
                _print_poll_statements(base)
            page = "/ent/v2/tasks?pager.page={}&pager.pagesz=20"
            p0 = Probe(f"{kind} list page 0", base, lambda i: ("GET", page.format(0), None), 10, keys[1])
            p150 = Probe(
                f"{kind} list page 150", base, lambda i: ("GET", page.format(150), None), 10, keys[1]
            )
            if "list" in rows:
                out.append(paired(p150, p0, secs))
        if "rendering" not in rows:
            return out
        _cancel_queued(url)  # the create row's tasks: the idle row must find the workers idle
        apart = args.render_in == "worker"
        env_render = {
            **env,
            "FRAMECAST_WORKERS": "0" if apart else "2",
            "FRAMECAST_WORKER_PROCESS": str(args.render_in == "process").lower(),
        }
        where = f" ({RENDER_IN[args.render_in]})"
        with server(serve, env_render, log, port) as base, worker_process(framecast, env, data, apart):
            # the render process's imports must not fall in the idle window: it is ready when /healthz is
            wait(lambda: _up(base, "/healthz"), 120, "the server's workers")
            get_path = "/ent/v2/tasks/{}/creations"
            make = lambda i: ("GET", get_path.format(sample[i % len(sample)]), None)  # noqa: E731
            idle = measure(Probe(f"{kind} get idle{where}", base, make, 10, keys[0]), secs)
            _submit(base, keys[0], {**body, "resolution": "720p", "duration": 5}, 2 + int(secs))
            busy = measure(Probe(f"{kind} get rendering{where}", base, make, 10, keys[0]), secs)
            print(
                f"  idle p99 {idle.pct(0.99):.1f} ms, rendering p99 {busy.pct(0.99):.1f} ms; tasks still "
                f"queued or running after the window: {_running(url)}",
                flush=True,
            )
            out.append((busy, idle))
    return out


def _submit(base: str, token: str, body: dict[str, Any], n: int) -> None:
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=60) as http:
        for _ in range(n):
            http.post("/ent/v2/start-end2video", json=body).raise_for_status()
    time.sleep(1.0)  # let both workers claim and start before the window opens


def _cancel_queued(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE tasks SET state = 'cancelled' WHERE state = 'queued'"))
    engine.dispose()


def _running(url: str) -> int:
    engine = create_engine(url)
    with engine.begin() as conn:
        n = conn.execute(text("SELECT count(*) FROM tasks WHERE state IN ('queued', 'running')")).scalar_one()
    engine.dispose()
    return int(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--rows", default="create,get,list,rendering", help="which rows to run (comma-separated)")
    ap.add_argument("--tree", type=Path, default=ROOT, help="checkout whose src/ is served")
    ap.add_argument("--access-log", type=float, default=1.0, help="FRAMECAST_ACCESS_LOG_SAMPLE for both")
    ap.add_argument("--profile", type=Path, help="folder for py-spy profiles of the framecast rows")
    ap.add_argument(
        "--render-in",
        choices=sorted(RENDER_IN),
        default="process",
        help="rendering row: where the two worker threads run",
    )
    args = ap.parse_args()
    global PROFILE_DIR
    if args.profile:
        PROFILE_DIR = args.profile
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    src = args.tree.resolve() / "src"
    kernel = next((ROOT / "src/framecast/engines").glob("_kernels*.so"), None)
    if kernel and not any((src / "framecast/engines").glob("_kernels*.so")):
        shutil.copy(kernel, src / "framecast/engines")  # another checkout: the C kernel this one built
    env0 = {**os.environ, "PYTHONPATH": str(src), "FRAMECAST_ACCESS_LOG_SAMPLE": str(args.access_log)}
    rows: list[tuple[Result, Result]] = []
    with tempfile.TemporaryDirectory(prefix="framecast-bare-") as tmp:
        port = free_port()
        bare_cmd = [sys.executable, "-c", BARE_APP, str(port), "1" if args.access_log > 0 else "0"]
        with server(bare_cmd, env0, Path(tmp) / "bare.log", port) as bare:
            for kind in args.db.split(","):
                rows += run_db(kind, args, env0, bare)
    print(
        "\n| row | req/s | p50 ms | p99 ms | errors | server CPU us/req | vs | req/s ratio | p99 ratio"
        " | CPU/req ratio (vs / row) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for r, ref in rows:
        print(
            f"| {r.name} | {r.rate:.0f} | {r.pct(0.5):.1f} | {r.pct(0.99):.1f} | {r.errors} "
            f"| {r.cpu_per_request:.0f} | {ref.name} | {r.rate / ref.rate:.2f} "
            f"| {r.pct(0.99) / ref.pct(0.99):.2f} | {ref.cpu_per_request / r.cpu_per_request:.2f} |"
        )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
