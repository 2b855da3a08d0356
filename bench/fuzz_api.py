"""schemathesis against the service's OpenAPI document, longer than the test: examples per operation.

The same checks as tests/attack/test_schema_fuzz.py (no 5xx; status code, content type and body as
documented), in-process, with ``--examples`` generated requests (valid and invalid) per operation.
Prints one row per operation and exits 1 if any operation failed.

    python bench/fuzz_api.py                  # 100 examples per operation, a few minutes on 2 cores
    python bench/fuzz_api.py --examples 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.attack.test_schema_fuzz import fuzz, served  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args()
    started = time.perf_counter()
    with served(Path(tempfile.mkdtemp(prefix="framecast-fuzz-"))) as (schema, token):
        reports = fuzz(schema, token, args.examples)
    seconds = time.perf_counter() - started
    print("| operation | calls | statuses | result |")
    print("| --- | ---: | --- | --- |")
    for label, r in sorted(reports.items()):
        statuses = ", ".join(f"{code}x{n}" for code, n in sorted(r.statuses.items()))
        first_line = r.failure.strip().splitlines()[0] if r.failure else "ok"
        print(f"| `{label}` | {r.calls} | {statuses} | {first_line} |")
    total = sum((r.statuses for r in reports.values()), Counter[int]())
    failed = [label for label, r in reports.items() if r.failure]
    print()
    calls, server_errors = sum(total.values()), sum(n for c, n in total.items() if c >= 500)
    print(
        f"{len(reports)} operations, {calls} calls in {seconds:.0f} s ({calls / seconds:.0f} calls/s); "
        f"5xx: {server_errors}; operations failing a check: {len(failed)}"
    )
    for label in failed:
        print(f"\nFAILED {label}:\n{reports[label].failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
