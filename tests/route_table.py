"""Render the dialect x route x status table of docs/api/README.md from what the tests exercised."""

from __future__ import annotations

from collections import defaultdict

DIALECTS = [  # longest prefix first
    ("/v1/videos/generations", "Baicai"),
    ("/v1/resources", "Baicai"),
    ("/v1/comfyui", "Baicai"),
    ("/v1/videos/image2video", "Kling"),
    ("/v1/videos/omni-video", "Kling"),
    ("/v1/videos/text2video", "Kling"),
    ("/v1/video/generations", "new-api / UniAll"),
    ("/v1/videos", "OpenAI Videos"),
    ("/v1/files", "OpenAI Videos"),
    ("/v1/models", "OpenAI Videos"),
    ("/beta/video", "Qianfan"),
    ("/ent/v2", "Vidu"),
    ("/v1/tasks", "framecast"),
    ("/", "framecast"),
]


def dialect_of(route: str) -> str:
    return next(name for prefix, name in DIALECTS if route.startswith(prefix))


def render(seen: set[tuple[str, str, str]]) -> str:
    statuses: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for method, route, status in seen:
        if route in ("unmatched", ""):
            continue
        statuses[(dialect_of(route), route, method)].add(status)
    lines = ["| dialect | method | route | statuses seen in tests |", "|---|---|---|---|"]
    order = [name for _, name in DIALECTS]
    for (dialect, route, method), codes in sorted(
        statuses.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1], kv[0][2])
    ):
        lines.append(f"| {dialect} | {method} | `{route}` | {', '.join(sorted(codes))} |")
    return "\n".join(lines) + "\n"
