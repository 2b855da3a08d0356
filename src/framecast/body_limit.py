"""Refuse a request whose declared body is over the operator's limit, before anything reads it.

A body sent without ``Content-Length`` (chunked) is bounded while it is read (``dialects.common.read_body``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from framecast.dialects.dialect import render_error
from framecast.domain import ErrorCode
from framecast.errors import ClientError


class BodyLimitMiddleware:
    """Answers 413 in the envelope of the dialect that owns the path (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._declared_length(scope) > self.max_body_bytes:
            err = ClientError(
                ErrorCode.BODY_TOO_LARGE,
                f"request body is larger than {self.max_body_bytes // (1024 * 1024)} MB",
                param="body",
            )
            response = render_error(Request(scope, receive), err)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0
