"""Worker threads render below the API's priority, so polls keep their latency while the cores are busy."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from framecast.app import create_app
from framecast.jobs.local import lower_priority
from tests.conftest import make_settings
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def nice_of(thread: threading.Thread) -> int:
    assert thread.native_id is not None
    return os.getpriority(os.PRIO_PROCESS, thread.native_id)


def test_a_lowered_thread_and_the_threads_it_starts_run_below_the_process() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = nice_of(threading.current_thread())

    def worker() -> None:
        lower_priority(5)
        seen["worker"] = nice_of(threading.current_thread())
        t = threading.Thread(target=child)
        t.start()
        t.join()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == {"worker": min(19, base + 5), "child": min(19, base + 5)}
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the API's own thread is left as it was


def test_the_services_worker_threads_run_at_the_configured_nice(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    app = create_app(make_settings(tmp_path, workers=2, worker_nice=7))
    with TestClient(app):

        def workers() -> list[threading.Thread] | None:
            found = [t for t in threading.enumerate() if t.name.startswith("framecast-worker-")]
            return found if len(found) == 2 and all(nice_of(t) != base for t in found) else None

        for t in wait_until(workers, 30, what="two worker threads at their nice value"):
            assert nice_of(t) == min(19, base + 7)
        assert os.getpriority(os.PRIO_PROCESS, 0) == base
