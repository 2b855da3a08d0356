"""Kling's error envelope ``{code, message, request_id}`` and its numeric service codes (reference 6.4).

The same numeric table is Qianfan's for its Kling-family models (reference 2.4),
so :func:`numeric` is shared with the Qianfan dialect.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from framecast.dialects.common import error_responses
from framecast.domain import ErrorCode
from framecast.errors import ClientError

# canonical code -> (HTTP status, Kling service code)
CODES: dict[ErrorCode, tuple[int, int]] = {
    ErrorCode.UNAUTHORIZED: (401, 1000),
    # Kling's own docs answer 403 for 1103 (no access to the resource or model)
    ErrorCode.FORBIDDEN: (403, 1103),
    ErrorCode.CREDIT_INSUFFICIENT: (429, 1102),
    ErrorCode.BODY_TOO_LARGE: (400, 1200),
    ErrorCode.INVALID_FIELD: (400, 1201),
    ErrorCode.MISSING_FIELD: (400, 1201),
    ErrorCode.UNWANTED_FIELD: (400, 1201),
    ErrorCode.ITEM_COUNT: (400, 1201),
    ErrorCode.IMAGE_DOWNLOAD: (400, 1201),
    ErrorCode.IMAGE_FORMAT: (400, 1201),
    ErrorCode.IMAGE_SIZE: (400, 1201),
    ErrorCode.INVALID_STATE: (400, 1201),
    ErrorCode.CONFLICT: (409, 1201),  # Idempotency-Key reused with another body
    ErrorCode.CANCELLED: (400, 1201),
    ErrorCode.METHOD_NOT_ALLOWED: (405, 1202),  # "the request method is not valid"
    # "the requested resource does not exist, e.g. the model": a client fixes its request.
    # 5001 (maintenance) would make clients retry a request that can never succeed.
    ErrorCode.MODEL_UNAVAILABLE: (400, 1203),
    ErrorCode.NOT_FOUND: (404, 1203),
    ErrorCode.PROMPT_POLICY: (400, 1301),
    ErrorCode.OUTPUT_POLICY: (400, 1301),
    ErrorCode.RATE_LIMIT: (429, 1302),
    ErrorCode.CONCURRENCY_LIMIT: (429, 1303),
    ErrorCode.INTERNAL: (500, 5000),
}


class KlingError(BaseModel):
    """Kling's error body, also Qianfan's for its Kling-family models (reference 6.4, 2.4)."""

    code: int
    message: str
    request_id: str


RESPONSES = error_responses(KlingError, (status for status, _ in CODES.values()))


def numeric(err: ClientError) -> tuple[int, int]:
    """(HTTP status, service code) for one error."""
    if err.code is ErrorCode.UNAUTHORIZED:
        # 1001: Authorization header empty; 1002: its value is not valid
        return 401, 1001 if err.message.startswith("missing") else 1002
    return CODES.get(err.code, (400, 1200))


def kling_error(err: ClientError, trace_id: str) -> Response:
    status, code = numeric(err)
    return JSONResponse({"code": code, "message": err.message, "request_id": trace_id}, status_code=status)
