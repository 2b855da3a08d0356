"""Hostile media against a running `framecast serve`: answers, time per create and the service's peak RSS.

One API-only server (no workers: what is measured is the create path, where images are fetched,
sniffed, bounded and decoded). First ``--rounds`` rounds of a benign 320x192 PNG create set the
baseline peak RSS and latency; then the same number of rounds of every case in
``tests/attack/hostile.py``, plus a 50 MB + 1 byte image URL (with and without Content-Length) and
a 20 MB + 1 byte body. Peak RSS is the server's ``VmHWM``, read after each phase, so the hostile
figure is a ratio to the benign one measured in the same process.

    python bench/hostile_media.py            # ~1 min on 2 cores
    python bench/hostile_media.py --rounds 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.attack import hostile  # noqa: E402
from tests.conftest import data_uri, image_bytes  # noqa: E402
from tests.e2e.test_attempts import framecast  # noqa: E402
from tests.e2e.test_restart import Server  # noqa: E402


def status_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{name} not in /proc/{pid}/status")


def cases(files: str) -> list[tuple[str, Callable[[], bytes | dict[str, Any]]]]:
    """(name, the request body: a JSON object, or raw bytes sent as JSON)."""
    out: list[tuple[str, Callable[[], bytes | dict[str, Any]]]] = [
        (c.name, lambda c=c: hostile.create_body(c.make())) for c in hostile.CASES
    ]
    out += [
        ("50 MB + 1 byte URL, Content-Length", lambda: hostile.create_body(f"{files}/declared")),
        ("50 MB + 1 byte URL, streamed", lambda: hostile.create_body(f"{files}/streamed")),
        ("body of 20 MB + 1 byte", lambda: b'{"model": "' + b"x" * (20 * 1024 * 1024 - 12) + b'"}'),
    ]
    return out


def send(http: httpx.Client, body: bytes | dict[str, Any]) -> tuple[int, float]:
    started = time.perf_counter()
    if isinstance(body, bytes):
        resp = http.post("/ent/v2/img2video", content=body, headers={"content-type": "application/json"})
    else:
        resp = http.post("/ent/v2/img2video", json=body)
    return resp.status_code, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="framecast-hostile-"))
    server = Server(tmp / "data")
    server.start_timeout = 180.0  # imports alone take a while when other work shares the cores
    server.env.update({"FRAMECAST_WORKERS": "0", "FRAMECAST_ALLOW_PRIVATE_URLS": "1"})
    token = framecast(server, "keys", "create", "--quiet")
    files, url = hostile.serve_big_file()
    rows: list[tuple[str, str, float]] = []
    try:
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        benign = hostile.create_body(data_uri(image_bytes(320, 192, seed=4)))
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
            send(http, benign)  # warm-up: imports and first-use allocations are not the baseline
            times = []
            for _ in range(args.rounds):
                status, seconds = send(http, benign)
                assert status == 200, status
                times.append(seconds)
            base_ms = statistics.median(times) * 1000
            base_peak = status_kb(pid, "VmHWM")
            for name, make in cases(url):
                answers, times = set(), []
                for _ in range(args.rounds):
                    status, seconds = send(http, make())
                    answers.add(str(status))
                    times.append(seconds)
                rows.append((name, "/".join(sorted(answers)), statistics.median(times) * 1000))
                if any(a.startswith("5") for a in answers):
                    print(f"FAILED: {name} answered {answers}")
        peak = status_kb(pid, "VmHWM")
    finally:
        server.stop()
        files.shutdown()
        files.server_close()
    print(f"| case | answer | median ms | vs benign create ({base_ms:.0f} ms) |")
    print("| --- | --- | ---: | ---: |")
    for name, answer, ms in rows:
        print(f"| {name} | {answer} | {ms:.0f} | {ms / base_ms:.2f}x |")
    print()
    print(
        f"peak RSS: {base_peak / 1024:.0f} MB after {args.rounds} benign creates, "
        f"{peak / 1024:.0f} MB after the hostile ones ({peak / base_peak:.2f}x)"
    )
    return 1 if any(a.startswith("5") for _, a, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
