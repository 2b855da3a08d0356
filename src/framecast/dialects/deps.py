"""What a route declares it depends on, as ``Annotated`` aliases that keep signatures short
(the FastAPI template's ``api/deps.py`` habit): the caller, the app's service and its result links.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from framecast.dialects.common import Links
from framecast.domain import Principal, Task
from framecast.errors import AuthError
from framecast.service import TaskService


# Async so that FastAPI calls them on the event loop: a plain ``def`` dependency is sent to the thread
# pool, one hand-off per dependency per request.
async def service_of(request: Request) -> TaskService:
    svc: TaskService = request.app.state.service
    return svc


async def principal_of(request: Request) -> Principal:
    """Accepts ``Authorization: Token <key>`` (Vidu) and ``Bearer <key>`` (everyone else).

    A key seen valid in the last ``FRAMECAST_AUTH_CACHE_SECONDS`` is answered from memory, on the loop.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in ("token", "bearer") or not token:
        raise AuthError("missing API key: send 'Authorization: Token <key>' or 'Authorization: Bearer <key>'")
    svc: TaskService = request.app.state.service
    principal = svc.principals.get(token) or await svc.principals.get_or_look_up(token, svc.authenticate)
    if principal is None:
        raise AuthError("invalid or revoked API key")
    return principal


PrincipalDep = Annotated[Principal, Depends(principal_of)]
ServiceDep = Annotated[TaskService, Depends(service_of)]


def links_for(request: Request) -> Links:
    settings = request.app.state.settings
    base = settings.public_url or _base_url(request)
    return Links(signer=request.app.state.signer, base_url=base)


_BASE_URLS: dict[tuple[object, ...], str] = {}


def _base_url(request: Request) -> str:
    """``request.base_url`` as text, remembered by what it is made of: Starlette parses and rebuilds a URL
    for it, which cost more than signing a link (every poll answers with links)."""
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    parts = (
        scope.get("scheme"),
        tuple(server) if server is not None else None,  # a list under some servers
        scope.get("root_path"),
        scope.get("app_root_path"),
        host,
    )
    base = _BASE_URLS.get(parts)
    if base is None:
        if len(_BASE_URLS) >= 256:  # the Host header is the client's to choose: keep the memory bounded
            _BASE_URLS.clear()
        base = _BASE_URLS[parts] = str(request.base_url)
    return base


async def links_of(request: Request) -> Links:
    return links_for(request)


LinksDep = Annotated[Links, Depends(links_of)]


class Caller:
    """Who calls and the app's service in one dependency, with the result links on demand: what a poll
    route needs. FastAPI solves each dependency of a route on its own, and a poll paid for three;
    :mod:`framecast.poll_path` builds it without FastAPI (bench/README.md, the API under load)."""

    __slots__ = ("_request", "principal", "svc")

    def __init__(self, request: Request, principal: Principal, svc: TaskService) -> None:
        self._request = request
        self.principal = principal
        self.svc = svc

    @property
    def links(self) -> Links:
        return links_for(self._request)

    async def poll(self, task_id: str) -> Task:
        """The task as :meth:`TaskService.poll` reads it for this caller."""
        return await self.svc.poll(self.principal, task_id)


async def caller_of(request: Request) -> Caller:
    return Caller(request, await principal_of(request), request.app.state.service)


CallerDep = Annotated[Caller, Depends(caller_of)]
