"""Qianfan's two error envelopes (reference 2.4).

- HTTP-level ``{code: "<string>", message, type, request_id}`` with the vendor's
  typo'd codes. Used for everything Qianfan answers before a model family applies
  (auth, unreadable body, unknown model or type, unknown route) and for every
  error of a Vidu-family (``VQ*``) request.
- Kling-family numeric ``{code: <int>, message, request_id}``: Kling-family
  create errors and every error of the query route (Qianfan's query pages list
  only the numeric codes). Shared with the Kling dialect.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from framecast.dialects.common import error_responses
from framecast.dialects.kling.errors import CODES as KLING_CODES
from framecast.dialects.kling.errors import KlingError, kling_error
from framecast.domain import ErrorCode
from framecast.errors import ClientError

_ARGUMENT = (400, "invalid_video_genration_argument", "invalid_request_error")
_UNSAFE = (403, "video_genration_prompt_unsafe", "unsafe_request")
_CONCURRENCY = (429, "video_genration_concurrency_exceeded", "rate_limit_exceeded")
_INTERNAL = (500, "video_genration_interal_error", "internal_error")

# canonical code -> (HTTP status, code, type); anything unlisted is an argument error
HTTP_LEVEL: dict[ErrorCode, tuple[int, str, str]] = {
    ErrorCode.PROMPT_POLICY: _UNSAFE,
    ErrorCode.OUTPUT_POLICY: _UNSAFE,
    ErrorCode.CONCURRENCY_LIMIT: _CONCURRENCY,
    ErrorCode.RATE_LIMIT: _CONCURRENCY,
    ErrorCode.INTERNAL: _INTERNAL,
    # not in the video table: Qianfan's platform-wide codes for these
    ErrorCode.UNAUTHORIZED: (401, "invalid_iam_token", "invalid_request_error"),
    ErrorCode.FORBIDDEN: (403, "access_denied", "invalid_request_error"),
    ErrorCode.NOT_FOUND: (404, "not_found", "invalid_request_error"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "method_not_allowed", "invalid_request_error"),
    # an Idempotency-Key reused with another body: the argument code, with the conventional 409
    ErrorCode.CONFLICT: (409, "invalid_video_genration_argument", "invalid_request_error"),
}


class QianfanError(BaseModel):
    """Qianfan's HTTP-level error body (reference 2.4)."""

    code: str
    message: str
    type: str
    request_id: str


# HTTP-level errors in Qianfan's envelope, Kling-family ones in the numeric envelope
RESPONSES = error_responses(
    QianfanError | KlingError,
    [status for status, _, _ in HTTP_LEVEL.values()] + [status for status, _ in KLING_CODES.values()],
)


def http_level_error(err: ClientError, trace_id: str) -> Response:
    status, code, kind = HTTP_LEVEL.get(err.code, _ARGUMENT)
    return JSONResponse(
        {"code": code, "message": err.message, "type": kind, "request_id": trace_id}, status_code=status
    )


def numeric_error(err: ClientError, trace_id: str) -> Response:
    return kling_error(err, trace_id)
