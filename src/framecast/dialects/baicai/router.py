"""Thin router for Baicai: create, upload (and fetch) resources, task status and result.

No cancel route: Baicai's task vocabulary has CANCELED but no cancel endpoint is
documented, so none is invented.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from framecast.dialects.baicai import translate, uploads
from framecast.dialects.baicai.errors import RESPONSES
from framecast.dialects.baicai.models import BaicaiCreate, BaicaiUpload
from framecast.dialects.common import (
    Links,
    file_response,
    json_answer,
    read_json,
    read_upload,
    request_body,
    submit,
)
from framecast.dialects.deps import CallerDep, LinksDep, PrincipalDep, ServiceDep
from framecast.domain import ErrorCode, ImageRef, ImageRole, Principal
from framecast.errors import ClientError, NotFoundError
from framecast.poll_path import poll_route
from framecast.service import TaskService

router = APIRouter(tags=["baicai"], responses=RESPONSES)
PREFIXES = ("/v1/videos/generations", "/v1/resources", "/v1/comfyui")


def _resolver(request: Request, links: Links, svc: TaskService, principal: Principal) -> translate.Resolver:
    own_hosts = {urlsplit(links.base_url).netloc.lower(), request.headers.get("host", "").lower()} - {""}

    def resolve(role: ImageRole, source: str) -> ImageRef:
        upload_id = uploads.upload_id_of(source, own_hosts)
        if upload_id is None:
            return ImageRef(role=role, source=source)
        try:
            return ImageRef(role=role, source=svc.upload_key(principal, upload_id), kind="blob")
        except NotFoundError as exc:
            raise ClientError(
                ErrorCode.IMAGE_DOWNLOAD,
                f"uploaded file {upload_id} not found; upload it with POST /v1/resources/upload",
                param="input.image",
            ) from exc

    return resolve


@router.post(
    "/v1/videos/generations", summary="Baicai: create a video task", openapi_extra=request_body(BaicaiCreate)
)
async def create(
    request: Request, principal: PrincipalDep, svc: ServiceDep, links: LinksDep
) -> dict[str, Any]:
    raw = await read_json(request)
    req, echo = translate.parse(raw, _resolver(request, links, svc, principal))
    task = await submit(request, svc, principal, req, dialect="baicai", echo=echo, limits=translate.LIMITS)
    return translate.ok({"taskId": task.id}, "任务提交成功")


@router.post(
    "/v1/resources/upload",
    summary="Baicai: upload an input image",
    openapi_extra=request_body(BaicaiUpload, media_types=("multipart/form-data",)),
)
async def upload(
    request: Request, principal: PrincipalDep, svc: ServiceDep, links: LinksDep
) -> dict[str, Any]:
    data = await read_upload(request)  # not FastAPI's File(): that reads a chunked body without a bound
    stored = await run_in_threadpool(svc.store_upload, principal, data, limits=translate.LIMITS.images)
    return translate.ok({"fullPath": uploads.full_path(links.base_url, stored.id)})


@router.get("/v1/resources/{upload_id}", summary="Baicai: download one of your uploads")
async def resource(upload_id: str, principal: PrincipalDep, svc: ServiceDep) -> Response:
    f = await run_in_threadpool(svc.upload_file, principal, upload_id)
    return file_response(f, headers={"cache-control": "private, max-age=3600"})


@router.get(
    "/v1/comfyui/tasks/{task_id}/status", summary="Baicai: task status", response_model=dict[str, Any]
)
@poll_route
async def status(task_id: str, caller: CallerDep) -> Response:
    task = await caller.poll(task_id)
    return json_answer(translate.render_status(task))


@router.get(
    "/v1/comfyui/tasks/{task_id}/result", summary="Baicai: task result URLs", response_model=dict[str, Any]
)
@poll_route
async def result(task_id: str, caller: CallerDep) -> Response:
    task = await caller.poll(task_id)
    return json_answer(translate.render_result(task, caller.links))
