"""GET one task past FastAPI's routing and dependency solving: the request polling clients send most.

A gateway with a thousand tasks in flight asks for each every few seconds, and in a profile of that
load FastAPI's per-request work (matching the path against the routes through its wrappers, solving
the dependencies, the exception and exit-stack layers) cost more than reading and rendering the task.
A route opts in with :func:`poll_route`; this middleware then answers its GETs itself, calling the
route's own endpoint with the path parameters and a :class:`~framecast.dialects.deps.Caller`, so
there is one definition of what the route answers (the OpenAPI document, validation of anything
else and every other route stay FastAPI's). Which route a path belongs to is decided as FastAPI
decides it, the first route in the app's order whose path matches for GET, so a route that would
shadow a poll route still does. Errors the endpoint raises as :class:`ClientError` answer in the
dialect's envelope, as the app's handler would; anything else is left to the full stack, which
logs it and answers 500 the usual way.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.convertors import StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from framecast.dialects.deps import caller_of
from framecast.dialects.dialect import render_error
from framecast.errors import ClientError

Endpoint = Callable[..., Awaitable[Response]]
_MARK = "__framecast_poll_route__"
# what a poll endpoint may take besides its path parameters
_CALLER, _REQUEST = "caller", "request"


def poll_route(endpoint: Endpoint) -> Endpoint:
    """Mark a GET endpoint to be answered by :class:`PollFastPath`.

    It takes its path parameters as ``str``, ``caller`` (``CallerDep``) and optionally ``request``,
    and returns a ``Response``; :class:`PollFastPath` checks this when the app starts serving.
    """
    setattr(endpoint, _MARK, True)
    return endpoint


def is_poll_route(endpoint: object) -> bool:
    return bool(getattr(endpoint, _MARK, False))


@dataclass(frozen=True)
class _Candidate:
    route: BaseRoute
    prefix: str  # the path up to its first parameter: a cheap test before the regex
    regex: re.Pattern[str]
    endpoint: Endpoint | None  # set for a poll route
    wants_request: bool


class PollFastPath:
    """Pure ASGI middleware, innermost of the app's own, so request ids, metrics and limits still apply."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self._routes = routes
        self._table: list[_Candidate] | None = None  # built on the first request: routes come later

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # served under a root path (behind a proxy that strips a prefix), routing is left to FastAPI
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        hit = self._match(scope["path"])
        if hit is None:
            await self.app(scope, receive, send)
            return
        candidate, params = hit
        assert candidate.endpoint is not None
        request = Request(scope, receive)
        try:
            caller = await caller_of(request)
            if candidate.wants_request:
                params[_REQUEST] = request
            response = await candidate.endpoint(caller=caller, **params)
        except ClientError as exc:
            response = render_error(request, exc)
        except Exception:
            # not ours to answer: the full stack logs it and replies in the dialect's envelope
            await self.app(scope, receive, send)
            return
        scope["route"] = candidate.route  # what the metrics label the request by
        await response(scope, receive, send)

    def _match(self, path: str) -> tuple[_Candidate, dict[str, Any]] | None:
        """The poll route FastAPI would send a GET of ``path`` to, with its path parameters; None when
        the route it would choose (or none) is not a poll route."""
        for c in self._table if self._table is not None else self._build():
            if not path.startswith(c.prefix):
                continue
            m = c.regex.match(path)
            if m is None:
                continue
            if c.endpoint is None:
                return None
            return c, m.groupdict()
        return None

    def _build(self) -> list[_Candidate]:
        table = []
        for route in self._routes():
            regex = getattr(route, "path_regex", None)
            if regex is None:
                continue
            methods = getattr(route, "methods", None)
            if methods is not None and "GET" not in methods:
                continue  # for a GET it can only match in part, and FastAPI prefers any full match
            endpoint: Endpoint | None = getattr(route, "endpoint", None)
            if endpoint is not None and not is_poll_route(endpoint):
                endpoint = None
            if endpoint is not None:
                _check(route, endpoint)
            table.append(
                _Candidate(
                    route=route,
                    prefix=str(getattr(route, "path", "")).split("{", 1)[0],
                    regex=regex,
                    endpoint=endpoint,
                    wants_request=endpoint is not None and _REQUEST in inspect.signature(endpoint).parameters,
                )
            )
        self._table = table
        return table


def _check(route: BaseRoute, endpoint: Endpoint) -> None:
    """A poll endpoint takes exactly its path's parameters (plain strings), ``caller`` and maybe
    ``request``: anything else would need FastAPI to solve it."""
    convertors = getattr(route, "param_convertors", {})
    names = set(inspect.signature(endpoint).parameters)
    taken = names - {_CALLER, _REQUEST}
    strings = {n for n, c in convertors.items() if isinstance(c, StringConvertor)}
    if _CALLER not in names or taken != set(convertors) or taken - strings:
        raise TypeError(
            f"poll route {getattr(route, 'path', route)}: takes {sorted(names)}; a poll route takes its"
            " path's string parameters, 'caller' and optionally 'request'"
        )
