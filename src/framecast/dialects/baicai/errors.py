"""Baicai's error envelope ``{code: <non-zero int>, message, data: null}``.

Baicai documents only ``code: 0`` for success and HTTP 200/400/500, so ``code``
repeats the HTTP status: a client that tests ``code != 0`` and one that tests the
status both see the failure.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from framecast.dialects.common import error_responses
from framecast.domain import ErrorCode
from framecast.errors import ClientError

STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.CONCURRENCY_LIMIT: 429,
    ErrorCode.RATE_LIMIT: 429,
    ErrorCode.INTERNAL: 500,
}


class BaicaiError(BaseModel):
    """Baicai's error body: a non-zero ``code`` (the HTTP status) and a message."""

    code: int
    message: str
    data: None = None


RESPONSES = error_responses(BaicaiError, STATUS.values())


def baicai_error(err: ClientError, trace_id: str) -> Response:
    status = STATUS.get(err.code, 400)
    return JSONResponse(
        {"code": status, "message": err.message, "data": None},
        status_code=status,
        headers={"x-request-id": trace_id},
    )
