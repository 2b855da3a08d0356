"""Soak: minutes of mixed create / query / cancel against one `framecast serve`, then check the end state.

Everything runs on loopback: the server (embedded mode, one worker, a 1-second 360p model so renders
keep up), the clients (threads here) and a callback receiver that answers 500 to a share of the
deliveries so retries happen. After the load stops the script waits for the queue to drain and checks:

- every task is terminal (succeeded, failed or cancelled);
- every callback is delivered (the receiver has it) or recorded as failed (``dead`` in the outbox);
  none is left pending;
- the RSS of the server and its render process (summed) at the end against the start (after a warm-up
  task), and the sum of their peaks;
- no file in storage that no task row references, and no scratch folder left in the work directory;
- no request answered 5xx, and no answer other than the ones the route documents for the call made.

    python bench/soak.py --minutes 30          # the default; --minutes 3 for a quick look
    python bench/soak.py --minutes 0.33 --json out.json   # about what tests/attack/test_soak.py runs

Exit status 1 when a check fails; the figures are printed as a Markdown table either way.
"""

from __future__ import annotations

import argparse
import http.server
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import data_uri, image_bytes  # noqa: E402
from tests.e2e.test_attempts import framecast  # noqa: E402
from tests.e2e.test_restart import Server, children_of  # noqa: E402

MODEL = "soak-tiny"
CATALOG = f"""
[models."{MODEL}"]
durations = [1]
resolutions = ["360p"]
default_resolution = "360p"
fps = 8
"""
TERMINAL = {"success", "failed"}  # Vidu's words; a cancelled task reads "failed" with err_code Cancelled
# what each call may answer: create 200 (400 never: the body is valid), query 200, cancel 200 or 400
# (the task had already finished), list 200
ALLOWED = {"create": {200}, "query": {200}, "cancel": {200, 400}, "list": {200}}


class FlakyReceiver:
    """Records callbacks; answers 500 to ``fail_share`` of them (seeded) so the sender retries."""

    def __init__(self, fail_share: float, seed: int = 7) -> None:
        self.fail_share = fail_share
        self.rng = random.Random(seed)
        self.delivered: dict[str, list[str]] = defaultdict(list)  # task id -> states answered 200
        self.refused = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with outer.lock:
                    fail = outer.rng.random() < outer.fail_share
                    if fail:
                        outer.refused += 1
                    else:
                        outer.delivered[body["id"]].append(body["state"])
                self.send_response(500 if fail else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Load:
    """What the clients did and saw."""

    tasks: list[str] = field(default_factory=list)
    unfinished: set[str] = field(default_factory=set)  # created, not yet seen terminal
    calls: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, resp: httpx.Response, seconds: float) -> None:
        with self.lock:
            self.calls[op] += 1
            self.latency[op].append(seconds)
            if resp.status_code not in ALLOWED[op]:
                self.unexpected.append(f"{op} {resp.status_code} {resp.text[:200]}")


def rss_kb(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/{pid}/status")


def tree_rss_kb(pid: int, field_name: str = "VmRSS") -> int:
    """``field_name`` summed over the server and its children (the render process)."""
    return sum(rss_kb(p, field_name) for p in [pid, *children_of(pid)])


def pair_of(seed: int) -> list[str]:
    return [data_uri(image_bytes(320, 180, seed=seed)), data_uri(image_bytes(320, 180, seed=seed, shift=10))]


def create(http: httpx.Client, pair: list[str], callback: str, load: Load) -> httpx.Response:
    body = {"model": MODEL, "images": pair, "duration": 1, "callback_url": callback}
    resp = http.post("/ent/v2/start-end2video", json=body)
    if resp.status_code == 200:
        with load.lock:
            load.tasks.append(resp.json()["task_id"])
            load.unfinished.add(resp.json()["task_id"])
    return resp


def client_loop(
    base: str, token: str, callback: str, deadline: float, load: Load, seed: int, backlog: int
) -> None:
    """Random calls until ``deadline``: a create only while fewer than ``backlog`` tasks look unfinished
    (so the queue stays as long as one worker can keep up with), else cancels, lists and queries."""
    rng = random.Random(seed)
    pair = pair_of(seed)
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while time.monotonic() < deadline:
            roll = rng.random()
            with load.lock:
                known = list(load.tasks[-50:])
                unfinished = sorted(load.unfinished)
            started = time.perf_counter()
            if not known or (roll < 0.3 and len(unfinished) < backlog):
                op = "create"
                resp = create(http, pair, callback, load)
            elif 0.3 <= roll < 0.35:  # some reach a queued or running task, some one that already finished
                op = "cancel"
                resp = http.post(f"/ent/v2/tasks/{rng.choice(known)}/cancel")
            elif 0.35 <= roll < 0.4:
                op = "list"
                resp = http.get("/ent/v2/tasks", params={"pager.pagesz": 20})
            else:  # also a create turned away by a full backlog
                op = "query"
                task_id = rng.choice(unfinished or known)
                resp = http.get(f"/ent/v2/tasks/{task_id}/creations")
                if resp.status_code == 200 and resp.json()["state"] in TERMINAL:
                    with load.lock:
                        load.unfinished.discard(task_id)
            load.record(op, resp, time.perf_counter() - started)
            time.sleep(rng.uniform(0.05, 0.25))  # a client, not a flood: bench/load.py measures throughput


def wait_for(what: str, check: Any, timeout: float, poll: float = 1.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(poll)


def states(base: str, token: str, ids: list[str]) -> dict[str, str]:
    out = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=60) as http:
        for task_id in ids:
            out[task_id] = http.get(f"/ent/v2/tasks/{task_id}/creations").json()["state"]
    return out


def all_terminal(base: str, token: str, ids: list[str]) -> dict[str, str] | None:
    now = states(base, token, ids)
    return now if set(now.values()) <= TERMINAL else None


def db_rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def orphans(data_dir: Path) -> list[str]:
    """Stored files no task row references (inputs, results, watermark logos), and leftover scratch."""
    db = data_dir / "framecast.db"
    referenced: set[str] = set()
    for video, cover, marked in db_rows(db, "SELECT video_key, cover_key, watermarked_key FROM creations"):
        referenced |= {video, cover} | ({marked} if marked else set())
    for (raw,) in db_rows(db, "SELECT inputs FROM tasks"):
        inputs = json.loads(raw or "{}")  # {"images": [{"key": ...}, ...], "watermark": key}
        referenced |= {img["key"] for img in inputs.get("images", [])}
        referenced |= {inputs["watermark"]} if inputs.get("watermark") else set()
    blobs = data_dir / "blobs"
    found = [p.relative_to(blobs).as_posix() for p in blobs.rglob("*") if p.is_file()]
    left = [k for k in found if k not in referenced]
    work = data_dir / "work"
    left += [f"work/{p.name}" for p in work.iterdir()] if work.exists() else []
    return sorted(left)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 2 else (values or [0.0])[0]


def run(minutes: float, clients: int, fail_share: float, backlog: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="framecast-soak-"))
    (tmp / "catalog.toml").write_text(CATALOG)
    server = Server(tmp / "data")
    server.start_timeout = 180.0  # imports alone take a while when other work shares the cores
    server.env.update(
        {
            "FRAMECAST_CATALOG_FILE": str(tmp / "catalog.toml"),
            "FRAMECAST_ALLOW_PRIVATE_URLS": "1",  # the receiver is on loopback
            "FRAMECAST_CALLBACK_BACKOFF_SECONDS": "0.5",
            "FRAMECAST_CALLBACK_ATTEMPTS": "4",
            "FRAMECAST_LEASE_SECONDS": "10",
        }
    )
    token = framecast(server, "keys", "create", "--quiet")
    receiver = FlakyReceiver(fail_share)
    load = Load()
    try:
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        # warm-up: one task through the whole path, so the start figure includes the loaded engine
        seed_load = Load()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {token}"}) as http:
            assert create(http, pair_of(99), receiver.url, seed_load).status_code == 200
        wait_for("the warm-up task", lambda: all_terminal(server.url, token, seed_load.tasks), timeout=120)
        rss_start = tree_rss_kb(pid)
        started = time.monotonic()
        deadline = started + minutes * 60
        threads = [
            threading.Thread(
                target=client_loop, args=(server.url, token, receiver.url, deadline, load, i, backlog)
            )
            for i in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        load_s = time.monotonic() - started
        drain_started = time.monotonic()
        ids = seed_load.tasks + load.tasks
        final = wait_for("every task to be terminal", lambda: all_terminal(server.url, token, ids), 600, 2.0)
        db = Path(server.env["FRAMECAST_DATA_DIR"]) / "framecast.db"
        wait_for(
            "every callback to be delivered or given up",
            lambda: not db_rows(db, "SELECT id FROM callback_outbox WHERE status IN ('pending', 'sending')"),
            timeout=300,
        )
        drain_s = time.monotonic() - drain_started
        rss_end, rss_peak = tree_rss_kb(pid), tree_rss_kb(pid, "VmHWM")
        outbox = db_rows(db, "SELECT task_id, event, status FROM callback_outbox")
        cancelled = db_rows(db, "SELECT count(*) FROM tasks WHERE state = 'cancelled'")[0][0]
        succeeded = db_rows(db, "SELECT count(*) FROM tasks WHERE state = 'succeeded'")[0][0]
        undelivered = [
            f"{task_id} {event}: outbox says delivered, receiver has no 200 for it"
            for task_id, event, status in outbox
            if status == "delivered" and not receiver.delivered.get(task_id)
        ]
        left = orphans(Path(server.env["FRAMECAST_DATA_DIR"]))
    finally:
        server.stop()
        receiver.stop()
    return {
        "minutes": minutes,
        "clients": clients,
        "backlog": backlog,
        "load_s": round(load_s, 1),
        "drain_s": round(drain_s, 1),
        "tasks": len(ids),
        "succeeded": succeeded,
        "cancelled": cancelled,
        "not_terminal": sum(1 for s in final.values() if s not in TERMINAL),
        "calls": dict(load.calls),
        "p50_ms": {op: round(percentile(v, 50) * 1000, 1) for op, v in load.latency.items()},
        "p99_ms": {op: round(percentile(v, 99) * 1000, 1) for op, v in load.latency.items()},
        "unexpected": load.unexpected[:20],
        "unexpected_count": len(load.unexpected),
        "callbacks": dict(Counter(f"{event} {status}" for _, event, status in outbox)),
        "callbacks_refused_by_receiver": receiver.refused,
        "callbacks_pending": sum(1 for _, _, s in outbox if s in ("pending", "sending")),
        "callbacks_unmatched": undelivered[:20],
        "rss_start_mb": round(rss_start / 1024, 1),
        "rss_end_mb": round(rss_end / 1024, 1),
        "rss_peak_mb": round(rss_peak / 1024, 1),
        "rss_end_vs_start": round(rss_end / rss_start, 2),
        "orphans": left[:20],
        "orphan_count": len(left),
    }


def failures(result: dict[str, Any], max_rss_growth: float) -> Iterator[str]:
    if result["not_terminal"]:
        yield f"{result['not_terminal']} task(s) not terminal"
    if result["unexpected_count"]:
        yield f"{result['unexpected_count']} unexpected answer(s): {result['unexpected'][:3]}"
    if result["callbacks_pending"] or result["callbacks_unmatched"]:
        pending, unmatched = result["callbacks_pending"], result["callbacks_unmatched"][:3]
        yield f"callbacks pending {pending}, unmatched {unmatched}"
    if result["orphan_count"]:
        yield f"{result['orphan_count']} orphaned file(s): {result['orphans'][:3]}"
    if result["rss_end_vs_start"] > max_rss_growth:
        yield f"RSS grew {result['rss_end_vs_start']}x (limit {max_rss_growth}x)"


def table(r: dict[str, Any]) -> str:
    rows = [
        ("load / drain", f"{r['load_s']} s / {r['drain_s']} s, {r['clients']} clients"),
        ("calls", ", ".join(f"{op} {n}" for op, n in sorted(r["calls"].items()))),
        (
            "p50 / p99 ms",
            ", ".join(f"{op} {r['p50_ms'][op]} / {r['p99_ms'][op]}" for op in sorted(r["p50_ms"])),
        ),
        (
            "tasks",
            f"{r['tasks']}: {r['succeeded']} succeeded, {r['cancelled']} cancelled, "
            f"{r['not_terminal']} not terminal",
        ),
        ("callbacks", f"{r['callbacks']}; receiver refused {r['callbacks_refused_by_receiver']} attempts"),
        ("unexpected answers", str(r["unexpected_count"])),
        (
            "RSS start / end / peak (server + render process)",
            f"{r['rss_start_mb']} / {r['rss_end_mb']} / {r['rss_peak_mb']} MB "
            f"(end {r['rss_end_vs_start']}x start)",
        ),
        ("orphaned files", str(r["orphan_count"])),
    ]
    return "| figure | value |\n| --- | --- |\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=6, help="unfinished tasks above which no create")
    parser.add_argument("--fail-callbacks", type=float, default=0.2, help="share of deliveries answered 500")
    parser.add_argument("--max-rss-growth", type=float, default=1.5, help="end/start RSS above this fails")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = run(args.minutes, args.clients, args.fail_callbacks, args.backlog)
    problems = list(failures(result, args.max_rss_growth))
    result["failures"] = problems
    print(table(result))
    for p in problems:
        print("FAILED:", p)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
