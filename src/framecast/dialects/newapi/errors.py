"""new-api's task error body: ``{"code": "<string>", "message", "data": null}`` (``dto/task.go`` TaskError).

new-api's docs show OpenAI's ``{"error": {...}}`` instead; framecast keeps that
one for ``/v1/videos`` and answers ``/v1/video/generations*`` in the task style
the gateway's code actually sends.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from framecast.dialects.common import error_responses
from framecast.domain import ErrorCode
from framecast.errors import ClientError

# canonical code -> (HTTP status, new-api code string)
ERRORS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.INVALID_FIELD: (400, "invalid_request"),
    ErrorCode.MISSING_FIELD: (400, "invalid_request"),
    ErrorCode.UNWANTED_FIELD: (400, "invalid_request"),
    ErrorCode.ITEM_COUNT: (400, "invalid_request"),
    ErrorCode.IMAGE_DOWNLOAD: (400, "image_download_failed"),
    ErrorCode.IMAGE_FORMAT: (400, "invalid_image_format"),
    ErrorCode.IMAGE_SIZE: (400, "invalid_image_size"),
    ErrorCode.BODY_TOO_LARGE: (413, "request_body_too_large"),
    ErrorCode.PROMPT_POLICY: (400, "sensitive_words_detected"),
    ErrorCode.OUTPUT_POLICY: (400, "output_policy_violation"),
    # new-api refuses a request its user cannot pay for with 403
    ErrorCode.CREDIT_INSUFFICIENT: (403, "insufficient_user_quota"),
    ErrorCode.MODEL_UNAVAILABLE: (400, "model_unavailable"),
    ErrorCode.CONCURRENCY_LIMIT: (429, "rate_limit_exceeded"),
    ErrorCode.RATE_LIMIT: (429, "rate_limit_exceeded"),
    ErrorCode.NOT_FOUND: (404, "task_not_exist"),
    ErrorCode.CONFLICT: (409, "conflict"),
    ErrorCode.INVALID_STATE: (409, "invalid_state"),
    ErrorCode.UNAUTHORIZED: (401, "unauthorized"),
    ErrorCode.FORBIDDEN: (403, "forbidden"),
    ErrorCode.CANCELLED: (400, "cancelled"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "method_not_allowed"),
    ErrorCode.INTERNAL: (500, "internal_error"),
}


class NewApiError(BaseModel):
    """new-api's task error body (``dto/task.go`` TaskError, reference 3.5)."""

    code: str
    message: str
    data: None = None


RESPONSES = error_responses(NewApiError, (status for status, _ in ERRORS.values()))


def status_and_code(code: ErrorCode) -> tuple[int, str]:
    return ERRORS.get(code, (400, code.value))


def newapi_error(err: ClientError, trace_id: str) -> Response:
    status, code = status_and_code(err.code)
    return JSONResponse(
        {"code": code, "message": err.message, "data": None},
        status_code=status,
        headers={"x-request-id": trace_id},
    )
