"""Request ids: one per request, echoed in ``x-request-id`` and in every error body's trace id.

An id only has to be unique, not secret: a random per-process prefix and a counter make one for the
price of an integer increment, where ``uuid4()`` reads the OS's random source on every request.
"""

from __future__ import annotations

import itertools
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from framecast import logs

HEADER = "x-request-id"
_MAX_CLIENT_ID = 128  # a client's own id is echoed back; a longer one is replaced, not trusted

_prefix = secrets.token_hex(8)
_counter = itertools.count(1)


def new_request_id() -> str:
    """32 hex digits: 16 random per process (several workers never collide), then a counter."""
    return f"{_prefix}{next(_counter):016x}"


def request_id_of(scope: Scope) -> str:
    """The request's id, made (or taken from the client's ``x-request-id``) on first use."""
    state = scope.setdefault("state", {})
    rid = state.get("trace_id")
    if rid is None:
        rid = _client_id(scope) or new_request_id()
        state["trace_id"] = rid
    return str(rid)


def _client_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if 0 < len(text) <= _MAX_CLIENT_ID else ""
    return ""


class RequestIdMiddleware:
    """Gives each HTTP request an id and adds it to the response headers (pure ASGI: streams pass)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        header = (HEADER.encode(), rid.encode("latin-1"))
        # every log line written under this request (thread-pool calls included) names it
        logs.REQUEST_ID.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
