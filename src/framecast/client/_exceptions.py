"""Everything the framecast client raises::

    FramecastError
     ├── APIError(message, status_code, code, trace_id)  the service answered with an error status
     │    ├── InvalidRequestError                        400, 413, 422 and other 4xx not below
     │    ├── AuthenticationError                        401: missing, invalid or revoked key
     │    ├── PermissionDeniedError                      403: e.g. an expired result link
     │    ├── NotFoundError                              404: unknown id, or another tenant's
     │    ├── ConflictError                              409
     │    ├── RateLimitError                             429: rate or concurrency limit
     │    └── ServerError                                5xx
     ├── APIConnectionError                              no answer: refused, reset, DNS, TLS
     │    └── APITimeoutError                            an HTTP timeout (connect, read, write, pool)
     ├── TimeoutError                                    wait() passed its deadline; also a
     │                                                   builtins.TimeoutError
     └── TaskFailed(task, err_code, message)             wait(): the task failed or was cancelled

``APIError.code`` is the service's own code: Vidu's ``reason`` (``TaskNotFound``,
``FieldInvalid``, ...) on the Vidu routes, the canonical code (``not_found``) on the
native ``/v1`` routes. httpx's transport errors are translated to
``APIConnectionError`` at one point, :func:`map_transport_errors`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from framecast.client._models import Task

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ConflictError",
    "FramecastError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "TaskFailed",
    "TimeoutError",
]


class FramecastError(Exception):
    """Base class of every error the client raises."""


class APIError(FramecastError):
    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str = "",
        trace_id: str = "",
        param: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.trace_id = trace_id
        self.param = param
        self.body = body

    def __str__(self) -> str:
        where = f"HTTP {self.status_code}" + (f", trace id {self.trace_id}" if self.trace_id else "")
        return f"{self.code or 'error'}: {self.message} ({where})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r}, trace_id={self.trace_id!r})"
        )


class InvalidRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class RateLimitError(APIError):
    pass


class ServerError(APIError):
    pass


class APIConnectionError(FramecastError):
    pass


class APITimeoutError(APIConnectionError):
    pass


# also a builtins.TimeoutError so code that already catches the builtin keeps working
class TimeoutError(FramecastError, builtins.TimeoutError):
    def __init__(self, message: str, *, task_id: str = "", last: Task | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.last = last


class TaskFailed(FramecastError):
    """The task ended without a video. ``err_code`` is Vidu's (``UserCancelled`` when cancelled)."""

    def __init__(self, task: Task, message: str = "") -> None:
        self.task = task
        self.err_code = task.err_code
        self.message = message or task.err_code or task.state.value
        super().__init__(f"task {task.id} {task.state.value}: {self.message}")


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_class(status_code: int) -> type[APIError]:
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, InvalidRequestError)


def error_from_response(response: httpx.Response) -> APIError:
    """Read any of the service's envelopes: Vidu's ``{code, reason, message, metadata}`` and the
    ``{"error": {code, message}}`` of the native routes, the files route and gateways."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code = ""
    message = ""
    param = None
    trace_id = response.headers.get("x-request-id", "")
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = str(err.get("code") or err.get("type") or "")
            message = str(err.get("message") or "")
            param = err.get("param") or None
            trace_id = str(err.get("trace_id") or trace_id)
        elif isinstance(err, str):
            message = err
        else:
            code = str(body.get("reason") or "")
            message = str(body.get("message") or "")
            meta = body.get("metadata")
            if isinstance(meta, dict):
                trace_id = str(meta.get("trace_id") or trace_id)
    if not message:
        message = (response.text.strip()[:200] if body is None else "") or response.reason_phrase
    return error_class(response.status_code)(
        message,
        status_code=response.status_code,
        code=code,
        trace_id=trace_id,
        param=str(param) if param else None,
        body=body,
    )


@contextmanager
def map_transport_errors() -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
