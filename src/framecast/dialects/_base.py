"""What every dialect's wire models and parsers share.

- :class:`WireModel`: the base of every request body model. Unknown fields are
  accepted, never fatal, and :func:`validate` logs them once per request at
  debug level, so a field a client believes it set and the server ignored shows
  up in the log (vLLM's ``OpenAIBaseModel`` habit).
- :func:`validate`: a body -> its wire model, or the canonical ``ClientError``
  (INVALID_FIELD, with the offending field as ``param``).
- :func:`invalid` and :func:`missing`: the two errors every parser raises.
- :func:`build_request`: a :class:`GenerationRequest` whose canonical rules
  (seed range, watermark position, payload size, ... on the model in
  ``domain.py``) answer with the dialect's own field names.
- :func:`whole_seconds` and :func:`parse_wxh`: wire spellings several vendors share.

Rules that hold for every dialect live on the canonical model (``domain.py``)
or in ``service.normalise``; a dialect keeps only what is its own: field names,
vocabularies and the vendor's own limits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from framecast.dialects.common import validation_message
from framecast.domain import ErrorCode, GenerationRequest
from framecast.errors import ClientError

log = logging.getLogger(__name__)


class WireModel(BaseModel):
    """A vendor request body: unknown fields are kept aside and logged by :func:`validate`, not refused."""

    model_config = ConfigDict(extra="allow")


M = TypeVar("M", bound=BaseModel)


def invalid(param: str, message: str) -> ClientError:
    return ClientError(ErrorCode.INVALID_FIELD, message, param=param)


def missing(param: str, message: str = "{param} is required") -> ClientError:
    """``message`` is a template: the dialect's own wording, with ``{param}`` for the field."""
    return ClientError(ErrorCode.MISSING_FIELD, message.format(param=param), param=param)


def validate(model: type[M], body: Mapping[str, Any], *, prefix: str = "", top_level: bool = False) -> M:
    """``body`` as ``model``, or INVALID_FIELD naming the first offending field.

    ``prefix`` is where the body sits in the request ("metadata."); ``top_level`` keeps only
    the first segment of the field's path in ``param`` (pydantic adds union member tags such as
    ``seconds.str``, and some vendors name only the top-level field).
    """
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        message, param = validation_message(list(exc.errors()))
        field = param or "body"
        raise invalid(prefix + (field.split(".")[0] if top_level else field), prefix + message) from exc
    ignored = ignored_fields(parsed)
    if ignored:
        log.debug("%s: ignored unknown field(s): %s", model.__name__, ", ".join(prefix + f for f in ignored))
    return parsed


def ignored_fields(model: BaseModel, path: str = "") -> list[str]:
    """The dotted paths of every unknown field in ``model`` and the models inside it."""
    found = [path + key for key in model.model_extra or {}]
    for name in type(model).model_fields:
        found += _ignored_in(getattr(model, name), f"{path}{name}")
    return found


def _ignored_in(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return ignored_fields(value, path + ".")
    if isinstance(value, list):
        return [f for i, item in enumerate(value) for f in _ignored_in(item, f"{path}[{i}]")]
    return []


def build_request(*, names: Mapping[str, str] | None = None, **fields: Any) -> GenerationRequest:
    """A :class:`GenerationRequest`, its canonical rules checked on the way in.

    Those rules raise ``ClientError`` with the canonical field name as ``param`` and at the
    start of the message; ``names`` maps a canonical name to what this dialect calls the field
    (``{"n": "input.number_of_videos"}``), so the caller reads the name it sent.
    """
    try:
        return GenerationRequest(**fields)
    except ClientError as exc:
        wire = (names or {}).get(exc.param or "")
        if wire is None or exc.param is None:
            raise
        message = exc.message
        if message.startswith(exc.param):
            message = wire + message[len(exc.param) :]
        raise ClientError(exc.code, message, param=wire, reason=exc.reason) from exc


def whole_seconds(
    raw: str | int | None, param: str, *, example: str = "5", positive: bool = False
) -> int | None:
    """A duration sent as an int or a digit string ("5"); None or "" means the model's default."""
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or (positive and int(text) == 0):
        raise invalid(param, f'{param} must be a whole number of seconds like "{example}"; got {raw!r}')
    return int(text)


_WXH = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


def parse_wxh(raw: str) -> tuple[int, int] | None:
    """``"1280x720"`` (also ``X`` or ``×``, spaces allowed) -> (1280, 720); None when it is not WxH.

    Whether the size is allowed is the canonical model's rule (``GenerationRequest.size``).
    """
    m = _WXH.match(raw)
    return None if m is None else (int(m.group(1)), int(m.group(2)))
