"""Response schemas written from the reference (reference/api-dialects.md and the seed pages), not the code.

One schema per dialect response. :func:`check` compares a body's *full* key set
with the schema: every required key present, nothing beyond required + optional,
and each value of the documented JSON type (an ``int`` is never a ``bool``).
``optional`` holds keys the vendor shows only sometimes, or framecast additions
its docs/api pages name (``progress`` on Vidu queries, for one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NULL = type(None)


@dataclass(frozen=True)
class Obj:
    required: dict[str, Any]
    optional: dict[str, Any] = field(default_factory=dict)
    open: bool = False  # a free-form object (task_info, properties): only its type is checked


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class Nullable:
    spec: Any


ANY_OBJ = Obj({}, open=True)
NUMBER = (int, float)


def _errors(value: Any, spec: Any, path: str) -> list[str]:
    if isinstance(spec, Nullable):
        return [] if value is None else _errors(value, spec.spec, path)
    if isinstance(spec, Obj):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        out = [f"{path}.{k}: missing" for k in spec.required if k not in value]
        if not spec.open:
            known = set(spec.required) | set(spec.optional)
            out += [f"{path}.{k}: not in the reference" for k in value if k not in known]
        for key, sub in {**spec.optional, **spec.required}.items():
            if key in value:
                out += _errors(value[key], sub, f"{path}.{key}")
        return out
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [e for i, item in enumerate(value) for e in _errors(item, spec.item, f"{path}[{i}]")]
    types = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(value, bool) and bool not in types:
        return [f"{path}: expected {'/'.join(t.__name__ for t in types)}, got bool"]
    if not isinstance(value, types):
        return [f"{path}: expected {'/'.join(t.__name__ for t in types)}, got {type(value).__name__}"]
    return []


def check(body: Any, spec: Any, name: str = "body") -> None:
    errors = _errors(body, spec, name)
    assert not errors, "response does not match the reference:\n" + "\n".join(errors)


# --- Vidu /ent/v2 (reference 1.1-1.4; seed page 002, whose response schema requires all 23 keys) -----

VIDU_CREATE = Obj(
    {
        "task_id": str,
        "type": str,
        "state": str,
        "model": str,
        "style": str,
        "prompt": str,
        "images": ListOf(str),
        "duration": int,
        "seed": int,
        "aspect_ratio": str,
        "resolution": str,
        "movement_amplitude": str,
        "created_at": str,
        "credits": int,
        "payload": str,
        "cus_priority": int,
        "off_peak": bool,
        "watermark": bool,
        "is_rec": bool,
        # the schema says string; the seed page's own example sends 1, another example "unspecified"
        "wm_position": (str, int),
        "wm_url": str,
        "meta_data": str,
        "client_request_id": str,
    },
    # in the reference's 1.1 example response, not in the seed page's schema
    optional={"bgm": bool, "audio": bool},
)
VIDU_CREATION = Obj(
    {
        "id": str,
        "url": str,
        "cover_url": str,
        "watermarked_url": str,
        "video": Obj({"duration": NUMBER, "fps": int, "resolution": Obj({"width": int, "height": int})}),
    }
)
VIDU_QUERY = Obj(
    {
        "id": str,
        "state": str,
        "err_code": str,
        "credits": int,
        "payload": str,
        "bgm": bool,
        "off_peak": bool,
        "creations": ListOf(VIDU_CREATION),
    },
    optional={"progress": int},  # framecast addition (docs/api/vidu.md)
)
VIDU_ERROR = Obj({"code": int, "reason": str, "message": str, "metadata": Obj({"trace_id": str})})

# --- Kling (reference 6.1, 6.2, 6.4) ------------------------------------------------------------------

KLING_TASK_INFO = Obj({}, optional={"external_task_id": str})
KLING_CREATED = Obj(
    {"task_id": str, "task_status": str, "task_info": KLING_TASK_INFO, "created_at": int, "updated_at": int}
)
KLING_VIDEO = Obj({"id": str, "url": str, "duration": str}, optional={"watermark_url": str})
KLING_TASK = Obj(
    {
        "task_id": str,
        "task_status": str,
        "task_status_msg": str,
        "task_info": KLING_TASK_INFO,
        "task_result": Obj({"videos": ListOf(KLING_VIDEO)}),
        "created_at": int,
        "updated_at": int,
    }
)
KLING_CREATE = Obj({"code": int, "message": str, "request_id": str, "data": KLING_CREATED})
KLING_QUERY = Obj({"code": int, "message": str, "request_id": str, "data": KLING_TASK})
KLING_LIST = Obj({"code": int, "message": str, "request_id": str, "data": ListOf(KLING_TASK)})
KLING_ERROR = Obj({"code": int, "message": str, "request_id": str})

# --- Qianfan (reference 2.1-2.4; seed page 000) --------------------------------------------------------

QIANFAN_KLING_CREATE = KLING_CREATE
QIANFAN_KLING_QUERY = Obj(
    {
        "code": int,
        "message": str,
        "request_id": str,
        "data": KLING_TASK,
        "usage": Obj(
            {"model_name": str, "mode": str, "duration": str, "credits": str, "final_unit_deduction": str}
        ),
    }
)
QIANFAN_VIDU_QUERY = Obj(
    {
        "log_id": str,
        "id": str,
        "status": str,
        "err_code": str,
        "creations": ListOf(VIDU_CREATION),
        "usage": Obj({"model": str, "duration": int, "resolution": str, "credits": int}),
    }
)
# Qianfan documents no Vidu-family create body: Vidu's, plus the keys its query uses (docs/api/qianfan.md)
QIANFAN_VIDU_CREATE = Obj(
    {**VIDU_CREATE.required, "log_id": str, "id": str, "status": str}, optional=VIDU_CREATE.optional
)
QIANFAN_HTTP_ERROR = Obj({"code": str, "message": str, "type": str, "request_id": str})

# --- OpenAI Videos (reference 4) ------------------------------------------------------------------------

OPENAI_VIDEO = Obj(
    {
        "id": str,
        "object": str,
        "model": str,
        "status": str,
        "progress": int,
        "created_at": int,
        "completed_at": Nullable(int),
        "expires_at": Nullable(int),
        "prompt": str,
        "seconds": str,
        "size": str,
        "remixed_from_video_id": Nullable(str),
        "error": Nullable(Obj({"code": str, "message": str})),
    }
)
OPENAI_LIST = Obj(
    {
        "object": str,
        "data": ListOf(OPENAI_VIDEO),
        "first_id": Nullable(str),
        "last_id": Nullable(str),
        "has_more": bool,
    }
)
OPENAI_DELETED = Obj({"id": str, "object": str, "deleted": bool})
OPENAI_ERROR = Obj(
    {"error": Obj({"message": str, "type": str, "param": Nullable(str), "code": Nullable(str)})}
)

# --- new-api / UniAll (reference 3.3-3.6; seed page 001) ------------------------------------------------

NEWAPI_CREATE = Obj(
    {
        "id": str,
        "task_id": str,
        "object": str,
        "model": str,
        "status": str,
        "progress": int,
        "created_at": int,
    }
)
_NEWAPI_METADATA = Obj(
    {
        "duration": Nullable(NUMBER),
        "fps": Nullable(int),
        "width": Nullable(int),
        "height": Nullable(int),
        "seed": Nullable(int),
    }
)
# the docs' error is {code:int, message}; framecast adds the code word as "type" (docs/api/newapi.md)
_NEWAPI_ERROR = Nullable(Obj({"code": int, "message": str}, optional={"type": str}))
NEWAPI_QUERY = Obj(
    {
        # new-api's code: relay_task.go videoFetchByIDRespBodyBuilder
        "code": str,
        "message": str,
        "data": Obj(
            {
                "id": (int, str),
                "task_id": str,
                "platform": str,
                "action": str,
                "status": str,
                "fail_reason": str,
                "result_url": str,
                "progress": str,
                "submit_time": int,
                "start_time": int,
                "finish_time": int,
                "created_at": int,
                "updated_at": int,
                "quota": int,
                "properties": ANY_OBJ,
                "data": VIDU_QUERY,  # the raw upstream body: Vidu's query answer
            },
            # the docs' flat keys repeated in data where they don't collide (docs/api/newapi.md)
            optional={
                "video_status": str,
                "url": str,
                "format": str,
                "metadata": _NEWAPI_METADATA,
                "error": _NEWAPI_ERROR,
                "video_url": str,
                "thumbnail_url": str,
            },
        ),
        # new-api's docs (flat) and UniAll's query
        "id": str,
        "task_id": str,
        "object": str,
        "model": str,
        "prompt": str,
        "status": str,
        "progress": int,
        "url": str,
        "video_url": str,
        "thumbnail_url": str,
        "format": str,
        "duration": int,
        "created_at": int,
        "completed_at": Nullable(int),
        "metadata": _NEWAPI_METADATA,
        "error": _NEWAPI_ERROR,
    }
)
NEWAPI_ERROR = Obj({"code": str, "message": str, "data": NULL})

# --- Baicai (reference 5; seed page 003) ----------------------------------------------------------------

BAICAI_CREATE = Obj({"code": int, "message": str, "data": Obj({"taskId": str}), "ts": str})
BAICAI_STATUS = Obj(
    {
        "code": int,
        "message": str,
        "data": ListOf(Obj({"status": str, "progress": str}, optional={"taskId": str, "message": str})),
        "ts": str,
    }
)
BAICAI_RESULT = Obj(
    {
        "code": int,
        "message": str,
        # data.urls, and data[0].result.urls for clients that read the image shape (docs/api/baicai.md)
        "data": Obj(
            {"urls": ListOf(str)},
            optional={"taskId": str, "status": str, "0": Obj({"result": Obj({"urls": ListOf(str)})})},
        ),
        "ts": str,
    }
)
BAICAI_ERROR = Obj({"code": int, "message": str, "data": NULL})
