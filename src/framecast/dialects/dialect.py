"""One ``Dialect`` object per wire format, and the per-app table ``create_app`` builds from a list of them.

Each dialect package exports ``DIALECT``: its name (what ``Task.dialect`` records), the URL
prefixes whose errors it answers, its router, its error and callback renderers and its
limits. Nothing is registered at import time: ``create_app`` builds a :class:`DialectTable`
from the dialects it is given and keeps it on ``app.state.dialects``, so two apps in one
process share nothing.

Errors dispatch on the request path (vLLM's server_utils habit): the longest matching
prefix picks the envelope, so a 404 from the router, a validation error and a service
error all answer in the caller's dialect, and ``/v1/videos/generations`` (Baicai) wins
over ``/v1/videos`` (OpenAI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from framecast.config import Catalog
from framecast.dialects.common import CallbackRenderer, ErrorRenderer, default_error, trace_id_of
from framecast.errors import ClientError
from framecast.service import SubmitLimits

# names the request field an error is about (ClientError.param), on every dialect's error responses
PARAM_HEADER = "x-error-param"

# given the app's catalog, the body a task sends to its callback URL (Qianfan's depends on the model family)
CallbackFactory = Callable[[Catalog], CallbackRenderer]


def fixed(renderer: CallbackRenderer) -> CallbackFactory:
    """A callback body that does not depend on the catalog."""
    return lambda _catalog: renderer


@dataclass(frozen=True)
class Dialect:
    """Everything ``create_app`` needs to serve one wire format."""

    name: str  # what Task.dialect records for tasks created here
    router: APIRouter
    render_error: ErrorRenderer
    # the body its tasks send to their callback URL; required when accepts_callbacks
    render_callback: CallbackFactory | None = None
    # the input limits its create routes pass to the service; None when they depend on the request
    limits: SubmitLimits | None = None
    # paths whose errors answer in this dialect's envelope; empty: the router's prefix
    prefixes: tuple[str, ...] = ()
    # whether create bodies take a callback URL; None: whether it has a callback body
    accepts_callbacks: bool | None = None

    def __post_init__(self) -> None:
        # frozen: the defaults that depend on other fields are filled in once, here
        if not self.prefixes:
            if not self.router.prefix:
                raise ValueError(f"dialect {self.name}: a router without a prefix needs explicit prefixes")
            object.__setattr__(self, "prefixes", (self.router.prefix,))
        if self.accepts_callbacks is None:
            object.__setattr__(self, "accepts_callbacks", self.render_callback is not None)


class DialectTable:
    """One app's error dispatch (longest prefix wins) and callback renderers (by dialect name)."""

    def __init__(
        self,
        dialects: Sequence[Dialect],
        catalog: Catalog,
        *,
        errors: Iterable[tuple[str, ErrorRenderer]] = (),
    ) -> None:
        names = [d.name for d in dialects]
        if len(set(names)) != len(names):
            raise RuntimeError(f"dialect names must be unique, got {', '.join(names)}")
        missing = sorted(d.name for d in dialects if d.accepts_callbacks and d.render_callback is None)
        if missing:
            raise RuntimeError(
                f"dialect(s) {', '.join(missing)} accept a callback URL but have no callback renderer; "
                "each must send its own body (Dialect.render_callback)"
            )
        self.dialects = tuple(dialects)
        routes = [(p, d.render_error) for d in dialects for p in d.prefixes] + list(errors)
        # longest prefix first; sorted() is stable, so on equal prefixes the first given wins
        self._errors = sorted(routes, key=lambda item: len(item[0]), reverse=True)
        self.callbacks: Mapping[str, CallbackRenderer] = {
            d.name: d.render_callback(catalog) for d in dialects if d.render_callback is not None
        }

    def error_renderer(self, path: str) -> ErrorRenderer:
        for prefix, renderer in self._errors:
            if path.startswith(prefix):
                return renderer
        return default_error

    def render_error(self, path: str, err: ClientError, trace_id: str) -> Response:
        return self.error_renderer(path)(err, trace_id)


def render_error(request: Request, err: ClientError) -> Response:
    """``err`` in the envelope of the dialect that owns the request's path, on the request's app."""
    table: DialectTable = request.app.state.dialects
    response = table.render_error(request.url.path, err, trace_id_of(request))
    if err.param:
        # Not every envelope has a field for it (Vidu's has none): a header names the field at fault
        # whatever the dialect, so a client such as the web console can show the message beside it.
        response.headers[PARAM_HEADER] = err.param
    return response
