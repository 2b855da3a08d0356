"""new-api ``TaskSubmitReq`` plus UniAll's fields, in the order of the gateways' docs.

Docs: https://docs.newapi.pro/api/generate-video (new-api, ``relay/common/relay_info.go``)
and https://docs.uniall.ai/models/video/vidu (UniAll, "create task (old)").
Unknown fields are accepted and logged, not fatal (``_base.WireModel``).
"""

from __future__ import annotations

from typing import Any

from pydantic import StrictInt, StrictStr

from framecast.dialects._base import WireModel


class ExtraBody(WireModel):
    """UniAll's ``extra_body``: upstream switches that have no top-level field."""

    audio: bool | None = None
    seed: int | None = None
    bgm: bool | None = None


class GenerationCreate(WireModel):
    # new-api TaskSubmitReq
    prompt: str | None = None
    model: str | None = None
    mode: str | None = None
    image: str | None = None
    images: list[str] | None = None
    size: str | None = None
    duration: StrictInt | StrictStr | None = None  # int or numeric string
    seconds: StrictStr | StrictInt | None = None
    input_reference: str | None = None  # a URL, taken as the first image like `image`
    metadata: dict[str, Any] | str | None = None  # object or JSON string; keys override the fields
    # older documented body
    fps: int | None = None
    seed: int | None = None
    n: int | None = None
    # forks
    resolution: str | None = None
    aspect_ratio: str | None = None
    # UniAll
    last_image: str | None = None
    reference_image_urls: list[str] | None = None
    extra_body: ExtraBody | None = None


class Overrides(WireModel):
    """The ``metadata`` keys framecast applies; new-api merges them over the upstream body.

    Any other key is kept and echoed back under ``properties.metadata``.
    """

    action: str | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    image_tail: str | None = None  # Kling's last frame
    callback_url: str | None = None
    payload: str | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    duration: StrictInt | StrictStr | None = None
    fps: int | None = None
    movement_amplitude: str | None = None
    audio: bool | None = None
    bgm: bool | None = None
    off_peak: bool | None = None
    watermark: bool | None = None
    wm_position: int | None = None
    wm_url: str | None = None
    meta_data: str | None = None
