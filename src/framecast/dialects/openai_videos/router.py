"""Thin router for OpenAI Videos (``/v1/videos``) and the ``/v1/files`` upload its file ids come from."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from framecast.dialects.common import (
    file_response,
    idempotency_key,
    json_answer,
    read_form,
    read_json,
    request_body,
)
from framecast.dialects.deps import Caller, CallerDep, PrincipalDep, ServiceDep
from framecast.dialects.openai_videos import translate
from framecast.dialects.openai_videos.errors import RESPONSES
from framecast.dialects.openai_videos.models import FileUpload, VideoCreate, VideoRemix
from framecast.domain import ErrorCode, Principal, Task, TaskState
from framecast.errors import ClientError, InvalidStateError, NotFoundError
from framecast.poll_path import poll_route
from framecast.service import TaskQuery, TaskService

PREFIX = "/v1/videos"
FILES_PREFIX = "/v1/files"
MODELS_PREFIX = "/v1/models"
PREFIXES = (PREFIX, FILES_PREFIX, MODELS_PREFIX)
router = APIRouter(prefix="/v1", tags=["openai"], responses=RESPONSES)
# the SDK sends multipart; hand-written clients and gateways send JSON
_BOTH = ("application/json", "multipart/form-data")

VARIANTS = {"video", "thumbnail", "spritesheet"}
FILE_PURPOSES = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
_IMAGE_FIELDS = {"input_reference", "last_frame", "last_image", "reference_images"}
_LIST_FIELDS = {"reference_images"}
# how the openai SDK flattens nested form values: name, name[], name[file_id], name[][image_url]
_FORM_KEY = re.compile(r"^(?P<name>[A-Za-z_]+)(?P<array>\[\])?(?:\[(?P<sub>file_id|image_url)\])?$")
_DATA_MIMES = {"image/png", "image/jpeg", "image/jpg", "image/webp"}


# --- request bodies ----------------------------------------------------------------------------------


def _is_form(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").lower()
    return ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded")


async def _upload_as_data_uri(upload: UploadFile) -> str:
    # the declared type is only a label: the image checks sniff the real format from the bytes
    mime = (upload.content_type or "").lower()
    data = await upload.read()
    return f"data:{mime if mime in _DATA_MIMES else 'image/png'};base64,{base64.b64encode(data).decode()}"


def _text_image(value: str) -> Any:
    text = value.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ClientError(ErrorCode.INVALID_FIELD, "image field is not valid JSON", param="body") from exc
    return text


async def fold_form(form: FormData) -> dict[str, Any]:
    """A create form in the same shape as the JSON body, so one parser serves both."""
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        m = _FORM_KEY.match(key)
        if m is None:
            continue
        name, sub = m.group("name"), m.group("sub")
        if name not in _IMAGE_FIELDS:
            if isinstance(value, str):
                out[name] = value
            continue
        item: Any
        if isinstance(value, UploadFile):
            item = {"image_url": await _upload_as_data_uri(value)}
        elif sub:
            item = {sub: value}
        else:
            item = _text_image(value)
        if name in _LIST_FIELDS:
            items: list[Any] = out.setdefault(name, [])
            # "reference_images[][image_url]" repeats once per item; plain values always start a new one
            items.append(item)
        elif sub and isinstance(out.get(name), dict):
            out[name] = {**out[name], **item}
        else:
            out[name] = item
    return out


async def _create_body(request: Request) -> dict[str, Any]:
    if _is_form(request):
        async with read_form(request) as form:
            return await fold_form(form)
    return await read_json(request)


def _get(svc: TaskService, principal: Principal, public_id: str) -> Task:
    try:
        return svc.get(principal, translate.internal_id(public_id))
    except NotFoundError as exc:
        raise NotFoundError(f"video {public_id!r} not found") from exc


async def _poll(caller: Caller, public_id: str) -> Task:
    """:func:`_get` for a route on the event loop (``TaskService.poll``)."""
    try:
        return await caller.poll(translate.internal_id(public_id))
    except NotFoundError as exc:
        raise NotFoundError(f"video {public_id!r} not found") from exc


# --- routes ------------------------------------------------------------------------------------------


@router.post(
    "/videos", summary="OpenAI: create a video", openapi_extra=request_body(VideoCreate, media_types=_BOTH)
)
async def create_video(request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
    raw = await _create_body(request)

    def submit() -> dict[str, Any]:
        req, echo = translate.parse(
            raw,
            catalog=svc.catalog,
            resolve_file=lambda file_id: svc.upload_key(principal, file_id),
            idempotency_key=idempotency_key(request),
        )
        try:
            task = svc.submit(principal, req, dialect="openai", echo=echo, limits=translate.LIMITS)
        except ClientError as exc:
            raise translate.name_image_error(exc, req) from exc
        return translate.render_video(task)

    return await run_in_threadpool(submit)


@router.get("/videos", summary="OpenAI: list videos")
async def list_videos(request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
    q = request.query_params
    raw_limit = q.get("limit") or str(DEFAULT_LIST_LIMIT)
    if not raw_limit.isdigit() or int(raw_limit) > MAX_LIST_LIMIT:
        raise ClientError(
            ErrorCode.INVALID_FIELD, f"limit must be an integer from 0 to {MAX_LIST_LIMIT}", param="limit"
        )
    limit = int(raw_limit)
    order = q.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise ClientError(ErrorCode.INVALID_FIELD, "order must be 'asc' or 'desc'", param="order")
    after = q.get("after") or None
    after_id = translate.internal_id(after) if after else None
    if after_id is not None:
        try:
            await run_in_threadpool(svc.get, principal, after_id)
        except ClientError as exc:
            raise ClientError(
                ErrorCode.INVALID_FIELD, f"after: no video with id {after!r}", param="after"
            ) from exc
    query = TaskQuery(after_id=after_id, newest_first=order == "desc")
    tasks = await run_in_threadpool(svc.list, principal, query, offset=0, limit=limit + 1)
    return translate.render_list(tasks[:limit], has_more=len(tasks) > limit)


@router.get("/videos/{video_id}", summary="OpenAI: retrieve a video", response_model=dict[str, Any])
@poll_route
async def retrieve_video(video_id: str, caller: CallerDep) -> Response:
    return json_answer(translate.render_video(await _poll(caller, video_id)))


@router.delete("/videos/{video_id}", summary="OpenAI: delete a finished video")
async def delete_video(video_id: str, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
    task_id = translate.internal_id(video_id)
    try:
        await run_in_threadpool(svc.delete, principal, task_id)
    except NotFoundError as exc:
        raise NotFoundError(f"video {video_id!r} not found") from exc
    except InvalidStateError as exc:
        status = translate.STATUS[TaskState(exc.state)]
        raise ClientError(
            ErrorCode.INVALID_STATE,
            f"video {translate.video_id(task_id)} is {status}; "
            "only completed or failed videos can be deleted",
            param="video_id",
        ) from exc
    return translate.render_deleted(task_id)


@router.get("/videos/{video_id}/content", summary="OpenAI: download the video, thumbnail or spritesheet")
async def video_content(video_id: str, request: Request, caller: CallerDep) -> Response:
    variant = request.query_params.get("variant") or "video"
    if variant not in VARIANTS:
        raise ClientError(
            ErrorCode.INVALID_FIELD, "variant must be 'video', 'thumbnail' or 'spritesheet'", param="variant"
        )
    task = await _poll(caller, video_id)
    if task.state is not TaskState.SUCCEEDED or not task.creations:
        raise ClientError(
            ErrorCode.INVALID_STATE,
            f"video {translate.video_id(task.id)} is {translate.STATUS[task.state]}; "
            "content is available once it is completed",
            param="video_id",
        )
    return file_response(await run_in_threadpool(caller.svc.result_file, caller.principal, task.id, variant))


@router.post(
    "/videos/{video_id}/remix",
    summary="OpenAI: remix a completed video with a new prompt",
    openapi_extra=request_body(VideoRemix, media_types=_BOTH),
)
async def remix_video(
    video_id: str, request: Request, principal: PrincipalDep, svc: ServiceDep
) -> dict[str, Any]:
    raw = await _create_body(request)

    def submit() -> dict[str, Any]:
        source = _get(svc, principal, video_id)
        req = translate.parse_remix(raw, source, idempotency_key=idempotency_key(request))
        echo = {"remixed_from_video_id": translate.video_id(source.id)}
        task = svc.submit(principal, req, dialect="openai", echo=echo, limits=translate.LIMITS)
        return translate.render_video(task)

    return await run_in_threadpool(submit)


@router.post(
    "/files",
    summary="OpenAI: upload an image to use as input_reference {file_id}",
    openapi_extra=request_body(FileUpload, media_types=("multipart/form-data",)),
)
async def upload_file(request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
    if not _is_form(request):
        raise ClientError(
            ErrorCode.INVALID_FIELD, "upload the file as multipart/form-data with a 'file' part", param="file"
        )
    async with read_form(request) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ClientError(ErrorCode.MISSING_FIELD, "missing required parameter: 'file'", param="file")
        purpose = form.get("purpose")
        purpose = purpose if isinstance(purpose, str) and purpose else "vision"
        if purpose not in FILE_PURPOSES:
            raise ClientError(
                ErrorCode.INVALID_FIELD,
                f"purpose must be one of {', '.join(sorted(FILE_PURPOSES))}",
                param="purpose",
            )
        data = await upload.read()
    stored = await run_in_threadpool(_store, svc, principal, data)
    return {
        "id": stored.id,
        "object": "file",
        "bytes": stored.size,
        "created_at": int(time.time()),
        "filename": upload.filename or "upload",
        "purpose": purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def _model_object(request: Request, svc: TaskService, name: str) -> dict[str, Any]:
    spec = svc.catalog.require(name)
    try:
        kinds = sorted(k.value for k in svc.engines.capabilities(spec.engine, spec.options).kinds)
    except ClientError:  # the engine is not installed: the name is listed, but it serves nothing
        kinds = []
    created: int = request.app.state.started_at
    return translate.render_model(spec, kinds, created)


@router.get("/models", summary="OpenAI: list the model names this server answers to")
async def list_models(request: Request, principal: PrincipalDep, svc: ServiceDep) -> dict[str, Any]:
    data = [_model_object(request, svc, name) for name in svc.catalog.names()]
    return {"object": "list", "data": data}


@router.get("/models/{model_id}", summary="OpenAI: one model, its engine, kinds, durations and resolutions")
async def retrieve_model(
    model_id: str, request: Request, principal: PrincipalDep, svc: ServiceDep
) -> dict[str, Any]:
    if svc.catalog.get(model_id) is None:
        raise ClientError(
            ErrorCode.NOT_FOUND,
            f"the model {model_id!r} does not exist; GET /v1/models lists the configured ones",
            param="model",
        )
    return _model_object(request, svc, model_id)


def _store(svc: TaskService, principal: Principal, data: bytes) -> Any:
    try:
        return svc.store_upload(principal, data)
    except ClientError as exc:
        # check_image names "image 1"; here there is only the one file
        raise ClientError(exc.code, exc.message.replace("image 1: ", "file: ", 1), param="file") from exc
