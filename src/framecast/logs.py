"""Every log line names the request it was written under: the ``x-request-id`` the client saw.

:class:`framecast.request_ids.RequestIdMiddleware` sets :data:`REQUEST_ID` for each request
before anything else runs, and context variables follow the request into the routes' thread-pool
calls. Lines written outside a request (workers,
callbacks) show ``-``.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

REQUEST_ID: ContextVar[str] = ContextVar("framecast_request_id", default="-")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to each record a handler writes (a filter, so it also covers other libraries)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure(level: str) -> None:
    """The CLI's logging: one stderr handler at ``level`` whose lines carry the request id."""
    logging.basicConfig(level=level.upper(), format=FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
