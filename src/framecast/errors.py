"""The one exception tree of framecast.

    FramecastError
     ├── ClientError(code, message, param)    -> a 4xx in the caller's dialect
     │    ├── NotFoundError                   -> 404
     │    ├── AuthError                       -> 401
     │    └── InvalidStateError(state)        -> e.g. cancelling a finished task
     └── Fenced                               -> a worker lost its task to a newer attempt

Services raise; they never return error unions. Each dialect renders a
``ClientError`` in its own envelope from ``code`` (and ``reason`` when a more
specific vendor name applies). Anything that is not a ``ClientError`` is a bug
or an outage and answers 500 without leaking its text.
"""

from __future__ import annotations

from framecast.domain import ErrorCode


class FramecastError(Exception):
    pass


class ClientError(FramecastError):
    def __init__(self, code: ErrorCode, message: str, *, param: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.reason = reason

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r}, param={self.param!r})"
        )


class NotFoundError(ClientError):
    def __init__(self, message: str = "task not found") -> None:
        super().__init__(ErrorCode.NOT_FOUND, message)


class AuthError(ClientError):
    def __init__(self, message: str = "missing or invalid API key") -> None:
        super().__init__(ErrorCode.UNAUTHORIZED, message)


class InvalidStateError(ClientError):
    """The task is in a state that does not allow the operation; ``state`` is the canonical state."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(ErrorCode.INVALID_STATE, message)
        self.state = state


class Fenced(FramecastError):
    """A worker's write named an attempt that is no longer current: it lost the task."""
