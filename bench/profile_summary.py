"""Where a thread's time went, from a py-spy raw profile: samples under one function, by the calls it made.

    .venv/bin/pip install py-spy==0.4.3    # a profiler, not a framecast dependency
    .venv/bin/py-spy record -r 50 --format raw --threads -o overhead.raw -- \\
        .venv/bin/python bench/diffusers_overhead.py --reps 4 --steps 1
    .venv/bin/python bench/profile_summary.py overhead.raw _run_held --depth 2
    .venv/bin/python bench/profile_summary.py overhead.raw DiffusersEngine._frames --depth 2

Each line: samples (at 50 Hz one is 20 ms), their share under the function, and the call path below it.
Samples of a thread waiting on a lock or an event count too (py-spy records them as such).
"""

from __future__ import annotations

import argparse
import collections
import re


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", help="a py-spy --format raw file")
    ap.add_argument("function", help="a frame name as py-spy writes it, e.g. _run_held")
    ap.add_argument("--depth", type=int, default=2, help="call levels below the function to group by")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()

    paths: collections.Counter[str] = collections.Counter()
    with open(args.raw, encoding="utf-8") as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            names = [re.sub(r" \(.*\)$", "", frame) for frame in stack.split(";")]
            hits = [i for i, name in enumerate(names) if name == args.function]
            if hits:
                below = names[hits[0] + 1 : hits[0] + 1 + args.depth]
                paths[" > ".join(below) or "(the function itself)"] += int(count)
    total = sum(paths.values())
    print(f"{total} samples under {args.function}")
    for path, n in paths.most_common(args.top):
        print(f"{n:6d} {n / max(total, 1):6.1%}  {path}")


if __name__ == "__main__":
    main()
