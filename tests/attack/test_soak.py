"""A bounded slice of the soak (``bench/soak.py``, 30 minutes there): mixed create / query / list / cancel
with flaky callbacks against a real ``framecast serve`` and its render process, then the end state a
long run is judged by."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def soak_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("framecast_bench_soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_ends_with_every_task_terminal_and_nothing_left_behind() -> None:
    soak = soak_module()
    result = soak.run(minutes=1 / 3, clients=2, fail_share=0.2, backlog=4)
    # every task terminal, every callback delivered or recorded dead, no orphaned file, no answer the
    # route does not document, the RSS of the server and its render process not up by half
    assert list(soak.failures(result, max_rss_growth=1.5)) == [], soak.table(result)
    assert result["tasks"] >= 3 and result["calls"]["query"] > 0, soak.table(result)
    assert result["succeeded"] >= 1, soak.table(result)
