"""Vidu's error envelope: ``{code: <HTTP status>, reason, message, metadata: {trace_id}}``."""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from framecast.dialects.common import error_responses
from framecast.domain import ErrorCode
from framecast.errors import ClientError

# canonical code -> (HTTP status, Vidu reason); reference/api-dialects.md section 1.4
REASONS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.INVALID_FIELD: (400, "FieldInvalid"),
    ErrorCode.MISSING_FIELD: (400, "FieldLacking"),
    ErrorCode.UNWANTED_FIELD: (400, "FieldUnwanted"),
    ErrorCode.ITEM_COUNT: (400, "FieldItemCountOutOfRange"),
    ErrorCode.IMAGE_DOWNLOAD: (400, "ImageDownloadFailure"),
    ErrorCode.IMAGE_FORMAT: (400, "ImageFormatInvalid"),
    ErrorCode.IMAGE_SIZE: (400, "PageSizeOutOfRange"),
    ErrorCode.BODY_TOO_LARGE: (413, "BadRequest"),
    ErrorCode.PROMPT_POLICY: (400, "AuditSubmitIllegal"),
    ErrorCode.OUTPUT_POLICY: (400, "CreationPolicyViolation"),
    ErrorCode.CREDIT_INSUFFICIENT: (400, "CreditInsufficient"),
    ErrorCode.MODEL_UNAVAILABLE: (400, "ModelUnavailable"),
    ErrorCode.CONCURRENCY_LIMIT: (429, "QuotaExceeded"),
    ErrorCode.RATE_LIMIT: (429, "TooManyRequests"),
    ErrorCode.NOT_FOUND: (404, "TaskNotFound"),
    ErrorCode.CONFLICT: (409, "Conflict"),
    ErrorCode.INVALID_STATE: (400, "BadRequest"),
    ErrorCode.UNAUTHORIZED: (401, "Unauthorized"),
    ErrorCode.FORBIDDEN: (403, "Forbidden"),
    ErrorCode.CANCELLED: (400, "UserCancelled"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "BadRequest"),
    ErrorCode.INTERNAL: (500, "InternalServiceFailure"),
}


class ViduErrorMetadata(BaseModel):
    trace_id: str


class ViduError(BaseModel):
    """Vidu's error body (reference 1.4)."""

    code: int
    reason: str
    message: str
    metadata: ViduErrorMetadata


RESPONSES = error_responses(ViduError, (status for status, _ in REASONS.values()))


def reason_for(code: ErrorCode, specific: str = "") -> str:
    return specific or REASONS.get(code, (400, "BadRequest"))[1]


def vidu_error(err: ClientError, trace_id: str) -> Response:
    status, reason = REASONS.get(err.code, (400, "BadRequest"))
    return JSONResponse(
        {
            "code": status,
            "reason": err.reason or reason,
            "message": err.message,
            "metadata": {"trace_id": trace_id},
        },
        status_code=status,
    )
