"""An httpx mock transport that answers every request alike and keeps the requests it was sent."""

from __future__ import annotations

import httpx


def recording_transport(
    content: bytes, content_type: str | None = None
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering 200 with ``content``, and the list each request lands in, in order."""
    seen: list[httpx.Request] = []
    headers = {"Content-Type": content_type} if content_type else {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=content, headers=headers)

    return httpx.MockTransport(handler), seen
