"""OpenAI's error envelope: ``{"error": {message, type, param, code}}``.

Validation failures answer 400, not FastAPI's 422, because that is what OpenAI
sends and what its SDK maps to ``BadRequestError``.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from framecast.dialects.common import error_responses
from framecast.domain import ErrorCode
from framecast.errors import ClientError

# canonical code -> (HTTP status, OpenAI error type, OpenAI error code)
ERRORS: dict[ErrorCode, tuple[int, str, str]] = {
    ErrorCode.INVALID_FIELD: (400, "invalid_request_error", "invalid_value"),
    ErrorCode.MISSING_FIELD: (400, "invalid_request_error", "missing_required_parameter"),
    ErrorCode.UNWANTED_FIELD: (400, "invalid_request_error", "unsupported_parameter"),
    ErrorCode.ITEM_COUNT: (400, "invalid_request_error", "invalid_value"),
    ErrorCode.IMAGE_DOWNLOAD: (400, "invalid_request_error", "invalid_image_url"),
    ErrorCode.IMAGE_FORMAT: (400, "invalid_request_error", "invalid_image_format"),
    ErrorCode.IMAGE_SIZE: (400, "invalid_request_error", "invalid_image_size"),
    ErrorCode.BODY_TOO_LARGE: (413, "invalid_request_error", "request_too_large"),
    ErrorCode.PROMPT_POLICY: (400, "invalid_request_error", "moderation_blocked"),
    ErrorCode.OUTPUT_POLICY: (400, "invalid_request_error", "moderation_blocked"),
    # OpenAI answers an exhausted quota with 429 insufficient_quota, not 402
    ErrorCode.CREDIT_INSUFFICIENT: (429, "insufficient_quota", "insufficient_quota"),
    ErrorCode.MODEL_UNAVAILABLE: (400, "invalid_request_error", "model_unavailable"),
    ErrorCode.CONCURRENCY_LIMIT: (429, "rate_limit_error", "concurrency_limit_exceeded"),
    ErrorCode.RATE_LIMIT: (429, "rate_limit_error", "rate_limit_exceeded"),
    ErrorCode.NOT_FOUND: (404, "invalid_request_error", "not_found"),
    ErrorCode.CONFLICT: (409, "invalid_request_error", "conflict"),
    # deleting, remixing or downloading a video that is not in the right state
    ErrorCode.INVALID_STATE: (409, "invalid_request_error", "invalid_state"),
    ErrorCode.UNAUTHORIZED: (401, "invalid_request_error", "invalid_api_key"),
    ErrorCode.FORBIDDEN: (403, "permission_error", "forbidden"),
    ErrorCode.CANCELLED: (400, "invalid_request_error", "cancelled"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "invalid_request_error", "method_not_allowed"),
    ErrorCode.INTERNAL: (500, "server_error", "internal_error"),
}


class OpenAIErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """OpenAI's error body (reference 4)."""

    error: OpenAIErrorInfo


RESPONSES = error_responses(OpenAIError, (status for status, _, _ in ERRORS.values()))

# the service names canonical fields; an OpenAI caller knows them by these names
PARAMS = {"duration": "seconds", "resolution": "size", "images": "input_reference"}


def code_for(code: ErrorCode) -> str:
    """The OpenAI ``code`` word for a canonical code (also used in a failed video's ``error``)."""
    return ERRORS.get(code, (400, "invalid_request_error", code.value))[2]


def openai_error(err: ClientError, trace_id: str) -> Response:
    status, type_, code = ERRORS.get(err.code, (400, "invalid_request_error", err.code.value))
    param = PARAMS.get(err.param, err.param) if err.param else None
    return JSONResponse(
        {"error": {"message": err.message, "type": type_, "param": param, "code": code}},
        status_code=status,
        headers={"x-request-id": trace_id},
    )
